"""Client CPU per call: LiteLLMProvider against a raw aiohttp client (the floor), raw httpx and the SDKs.

Run: ``make bench`` or ``.venv/bin/python benchmarks/overhead.py [--rounds 5] [--json PATH]
[--via-proxy] [--soak] [--quick]``. A benchmark, not a test: it asserts nothing.

A fast OpenAI-compatible server (``fast_server.py``) answers like the LiteLLM proxy (cost and
call-id headers, ``/model/info``, SSE with a final usage chunk) in its own process, so its
CPU is not counted. Each client runs in its own worker process (so one library's imports,
caches and background threads never land on another's bill) and measures its own process CPU
time per call. The coordinator interleaves the clients in rounds (rotating who goes first)
and reports medians over rounds; the ratio to the floor is the median of per-round ratios,
which is what stays meaningful on a busy shared machine where absolute timings drift.

Clients, all against the same URL with the same prompt:

- ``aiohttp``: the floor, a hand-written client. ``aiohttp.ClientSession.post`` +
  ``response.json()``; streams: line by line + ``json.loads`` per ``data:`` line. No error
  mapping, no usage, no cost.
- ``httpx``: the same by hand with ``httpx.AsyncClient`` (``aiter_lines`` for streams).
- ``provider``: ``LiteLLMProvider.chat_completion`` / ``stream_chat_completion`` (typed errors,
  validated input, typed reply, usage, cost and call metadata) on its default transport
  (aiohttp's pool under httpx's API); ``provider-httpx``: the same on httpx's own pool.
- ``routed``: ``HeuristicRouter.route_request`` over that provider (chat only): routing's own
  cost per request is its row minus the provider's.
- ``openai``: ``openai.AsyncOpenAI(...).chat.completions.create`` (``max_retries=0``).
- ``litellm``: ``litellm.acompletion(model="openai/...", api_base=...)``.
- with ``--httpx-aiohttp``: ``openai-aiohttp`` (``AsyncOpenAI(http_client=DefaultAioHttpClient())``)
  and ``provider-httpx-aiohttp`` (the provider given an ``httpx_aiohttp.HttpxAiohttpClient``).

Scenarios: chat at concurrency 1 and 64; a stream of ``--chunks`` events (the last with usage)
sent in one write, so the client reads many events per read; and the same stream from a second
server that sends the events one by one (``paced``), one read per event as in a real stream.

``--via-proxy`` puts a real LiteLLM proxy between the clients and the fast server (for
context: there the proxy's own latency dominates). ``--soak`` runs the provider for 100,000
calls and prints its RSS after 10,000 and after 100,000.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
MODEL = "gpt-4o-mini"
KEY = "sk-bench-0123456789"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant. Answer in one or two sentences."},
    {"role": "user", "content": "What is the capital of France, and what is it known for?"},
]
MAX_TOKENS = 256
TEMPERATURE = 0.2
CLIENTS = ("aiohttp", "httpx", "provider", "provider-httpx", "routed", "openai", "litellm")
#: With --httpx-aiohttp (needs the httpx-aiohttp package, not a dependency): the openai SDK's
#: aiohttp client, and the provider given an httpx-aiohttp client (http_client=).
HTTPX_AIOHTTP_CLIENTS = ("openai-aiohttp", "provider-httpx-aiohttp")
FLOOR = "aiohttp"
#: The paced server's gap between stream events: longer than a client needs per chunk, so each
#: event is a read of its own, as in a real stream (LLM tokens come tens of ms apart).
PACE_US = 100.0

# ---------------------------------------------------------------------------- clients (workers)


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    """One library's way to make a chat call and read a stream; ``stream`` returns
    (chunks received, seconds to the first one)."""

    async def chat(self) -> None:
        raise NotImplementedError

    async def stream(self) -> tuple[int, float]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class RawAiohttpClient(Client):
    """The floor: what a developer writes by hand with aiohttp, and nothing more."""

    def __init__(self, url: str, key: str) -> None:
        self.key = key
        self.session: Any = None  # opened in the worker's loop
        self.url = f"{url}/v1/chat/completions"
        self.body = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS, "temperature": TEMPERATURE}
        self.stream_body = {**self.body, "stream": True, "stream_options": {"include_usage": True}}

    def _session(self) -> Any:
        if self.session is None:
            import aiohttp

            self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.key}"})
        return self.session

    async def chat(self) -> None:
        async with self._session().post(self.url, json=self.body) as response:
            await response.json()

    async def stream(self) -> tuple[int, float]:
        started = time.perf_counter()
        first = 0.0
        chunks = 0
        async with self._session().post(self.url, json=self.stream_body) as response:
            async for raw in response.content:
                if raw.startswith(b"data: "):
                    data = raw[6:].strip()
                    if data == b"[DONE]":
                        break
                    json.loads(data)
                    if not chunks:
                        first = time.perf_counter() - started
                    chunks += 1
        return chunks, first

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


class RawClient(Client):
    """What a developer writes by hand with httpx, and nothing more."""

    def __init__(self, url: str, key: str) -> None:
        import httpx

        self.client = httpx.AsyncClient(timeout=60.0, headers={"Authorization": f"Bearer {key}"})
        self.url = f"{url}/v1/chat/completions"
        self.body = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS, "temperature": TEMPERATURE}
        self.stream_body = {**self.body, "stream": True, "stream_options": {"include_usage": True}}

    async def chat(self) -> None:
        response = await self.client.post(self.url, json=self.body)
        response.json()

    async def stream(self) -> tuple[int, float]:
        started = time.perf_counter()
        first = 0.0
        chunks = 0
        async with self.client.stream("POST", self.url, json=self.stream_body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    json.loads(data)
                    if not chunks:
                        first = time.perf_counter() - started
                    chunks += 1
        return chunks, first

    async def aclose(self) -> None:
        await self.client.aclose()


class ProviderClient(Client):
    transport = "aiohttp"

    def __init__(self, url: str, key: str) -> None:
        from muxer_litellm import LiteLLMProvider

        self.provider = LiteLLMProvider(url, key, http_transport=self.transport)  # type: ignore[arg-type]

    async def chat(self) -> None:
        await self.provider.chat_completion(MESSAGES, MODEL, max_tokens=MAX_TOKENS, temperature=TEMPERATURE)

    async def stream(self) -> tuple[int, float]:
        started = time.perf_counter()
        first = 0.0
        chunks = 0
        async with self.provider.stream_chat_completion(
            MESSAGES, MODEL, max_tokens=MAX_TOKENS, temperature=TEMPERATURE
        ) as stream:
            async for _ in stream:
                if not chunks:
                    first = time.perf_counter() - started
                chunks += 1
        return chunks, first

    async def aclose(self) -> None:
        await self.provider.aclose()


class HttpxProviderClient(ProviderClient):
    transport = "httpx"


class RoutedClient(ProviderClient):
    """``route_request`` over the provider: planning, the call, recording the outcome."""

    def __init__(self, url: str, key: str) -> None:
        from muxer_litellm.routing import HeuristicRouter

        super().__init__(url, key)
        self.router = HeuristicRouter()
        self.providers = {"litellm": self.provider}

    async def chat(self) -> None:
        await self.router.route_request(
            MESSAGES, self.providers, "cost_optimized", max_tokens=MAX_TOKENS, temperature=TEMPERATURE
        )

    async def aclose(self) -> None:
        await self.router.aclose()
        await super().aclose()


class OpenAIClient(Client):
    def __init__(self, url: str, key: str) -> None:
        from openai import AsyncOpenAI

        self.client = AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)

    async def chat(self) -> None:
        await self.client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=MAX_TOKENS,
            temperature=TEMPERATURE,
        )

    async def stream(self) -> tuple[int, float]:
        started = time.perf_counter()
        first = 0.0
        chunks = 0
        stream = await self.client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=MAX_TOKENS,
            temperature=TEMPERATURE,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for _ in stream:
                if not chunks:
                    first = time.perf_counter() - started
                chunks += 1
        return chunks, first

    async def aclose(self) -> None:
        await self.client.close()


class OpenAIAiohttpClient(OpenAIClient):
    def __init__(self, url: str, key: str) -> None:
        from openai import AsyncOpenAI, DefaultAioHttpClient

        self.client = AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, http_client=DefaultAioHttpClient())


class HttpxAiohttpProviderClient(ProviderClient):
    def __init__(self, url: str, key: str) -> None:
        from httpx_aiohttp import HttpxAiohttpClient

        from muxer_litellm import LiteLLMProvider

        self.http_client = HttpxAiohttpClient(timeout=60.0)
        self.provider = LiteLLMProvider(url, key, http_client=self.http_client)

    async def aclose(self) -> None:
        await super().aclose()
        await self.http_client.aclose()


class LiteLLMClient(Client):
    def __init__(self, url: str, key: str) -> None:
        import litellm

        litellm.suppress_debug_info = True
        self.litellm = litellm
        self.kwargs: dict[str, Any] = {
            "model": f"openai/{MODEL}",
            "messages": MESSAGES,
            "api_base": f"{url}/v1",
            "api_key": key,
            "max_tokens": MAX_TOKENS,
            "temperature": TEMPERATURE,
            "num_retries": 0,
        }

    async def chat(self) -> None:
        await self.litellm.acompletion(**self.kwargs)

    async def stream(self) -> tuple[int, float]:
        started = time.perf_counter()
        first = 0.0
        chunks = 0
        stream = await self.litellm.acompletion(**self.kwargs, stream=True, stream_options={"include_usage": True})
        async for _ in stream:
            if not chunks:
                first = time.perf_counter() - started
            chunks += 1
        return chunks, first


FACTORIES: dict[str, Callable[[str, str], Client]] = {
    "aiohttp": RawAiohttpClient,
    "httpx": RawClient,
    "provider": ProviderClient,
    "provider-httpx": HttpxProviderClient,
    "routed": RoutedClient,
    "openai": OpenAIClient,
    "litellm": LiteLLMClient,
    "openai-aiohttp": OpenAIAiohttpClient,
    "provider-httpx-aiohttp": HttpxAiohttpProviderClient,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(client: Client, op: str, calls: int, concurrency: int, collect: bool = True) -> dict[str, Any]:
    """``calls`` calls with ``concurrency`` in flight; process CPU, wall time and latencies.
    ``collect``: a full garbage collection first (not counted), so no client pays for garbage
    an earlier run left; done once per round, as it takes a while in a big heap (litellm's)."""
    latencies: list[float] = []
    firsts: list[float] = []
    chunks = 0
    remaining = calls

    async def one() -> None:
        nonlocal chunks
        started = time.perf_counter()
        if op == "chat":
            await client.chat()
        else:
            got, first = await client.stream()
            chunks += got
            firsts.append(first)
        latencies.append(time.perf_counter() - started)

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    if collect:
        gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, calls))))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    out: dict[str, Any] = {"calls": calls, "cpu_s": cpu, "wall_s": wall, "latencies_ms": [x * 1e3 for x in latencies]}
    if op == "stream":
        out["chunks"] = chunks
        out["ttfc_ms"] = [x * 1e3 for x in firsts]
    return out


def merge(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One round of a client from its slices: CPU and wall time summed, latencies pooled."""
    latencies = [x for s in slices for x in s["latencies_ms"]]
    calls = sum(s["calls"] for s in slices)
    out: dict[str, Any] = {
        "calls": calls,
        "cpu_s": sum(s["cpu_s"] for s in slices),
        "wall_s": sum(s["wall_s"] for s in slices),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }
    if "chunks" in slices[0]:
        out["chunks_per_call"] = sum(s["chunks"] for s in slices) / calls
        out["ttfc_ms"] = statistics.median(x for s in slices for x in s["ttfc_ms"])
    return out


async def soak(client: Client, checkpoints: list[int]) -> list[dict[str, Any]]:
    """Chat calls (64 in flight) with a 200-chunk stream every 20th call; RSS at each checkpoint."""
    out: list[dict[str, Any]] = []
    done = 0
    for target in checkpoints:
        while done < target:
            batch = min(1000, target - done)
            streams = batch // 20
            await run(client, "chat", batch - streams, 64)
            if streams:
                await run(client, "stream", streams, 8)
            done += batch
        gc.collect()
        out.append({"calls": done, "rss_kib": rss_kib()})
        print(f"  soak: {done:>7,} calls, RSS {rss_kib() / 1024:.1f} MiB", file=sys.stderr, flush=True)
    return out


def worker(name: str, url: str, key: str, paced_url: str | None) -> None:
    """Serve the coordinator's commands (one JSON object per line) until "quit"."""
    reply: TextIO = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the reply channel
    loop = asyncio.new_event_loop()
    client = FACTORIES[name](url, key)
    targets = {"fast": client}
    if paced_url:
        targets["paced"] = FACTORIES[name](paced_url, key)
    calls = 0
    reply.write(json.dumps({"ready": True, "rss_kib": rss_kib()}) + "\n")
    reply.flush()
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        if op == "rss":
            result: Any = {"rss_kib": rss_kib(), "calls": calls}
        elif op == "soak":
            result = loop.run_until_complete(soak(client, command["checkpoints"]))
        else:
            target = targets[command.get("target", "fast")]
            result = loop.run_until_complete(
                run(target, op, command["calls"], command["concurrency"], command.get("collect", True))
            )
            calls += command["calls"]
        reply.write(json.dumps(result) + "\n")
        reply.flush()
    for each in targets.values():
        loop.run_until_complete(each.aclose())
    gc.collect()  # finalize generators a client left suspended (the raw clients break out at [DONE])
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


# ---------------------------------------------------------------------------- coordinator


class Worker:
    def __init__(self, name: str, url: str, key: str, paced_url: str | None) -> None:
        self.name = name
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        paced = ["--paced-url", paced_url] if paced_url else []
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", name, "--url", url, "--key", key, *paced],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker exited (code {self.process.wait()})")
        return json.loads(line)

    def ask(self, **command: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(RuntimeError, BrokenPipeError, ValueError):
                self.ask(op="quit")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Scenario:
    """``calls`` per client per round, run in ``slices`` interleaved parts (A B C D A B C D ...)
    so that a burst of load from elsewhere lands on every client alike."""

    name: str
    op: str
    concurrency: int
    calls: dict[str, int]
    slices: int
    target: str = "fast"  # or "paced": the server that sends stream events one by one
    rounds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def start_server(chunks: int, pace_us: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "fast_server.py"), "--chunks", str(chunks), "--pace-us", str(pace_us)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline().split()
    if not line or line[0] != "READY":
        server.kill()
        raise RuntimeError("the fast server did not start")
    return server, f"http://127.0.0.1:{line[1]}"


def proxy_config(upstream: str) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {"model": f"openai/{MODEL}", "api_base": f"{upstream}/v1", "api_key": "fake"},
            }
        ],
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }


def scenarios(scale: float, chunks: int, paced: bool) -> list[Scenario]:
    """Calls per client per round: enough for a stable median, few enough that ``make bench``
    stays within a few minutes on a busy 2-core machine (the SDKs and httpx's pool cost more
    per call, and are far from the floor, so they get fewer calls). A client missing from a
    scenario's counts sits it out (``routed`` does not stream)."""

    def n(counts: dict[str, int]) -> dict[str, int]:
        return {c: max(2, int(k * scale)) for c, k in counts.items()}

    fast = {"aiohttp": 1, "provider": 1, "routed": 1}
    chat1 = {"httpx": 240, "provider-httpx": 240, "openai": 160, "litellm": 60}
    chat1 |= {"openai-aiohttp": 240, "provider-httpx-aiohttp": 480}
    chat64 = {"httpx": 512, "provider-httpx": 512, "openai": 192, "litellm": 64}
    chat64 |= {"openai-aiohttp": 512, "provider-httpx-aiohttp": 1024}
    stream = {"httpx": 24, "provider-httpx": 24, "openai": 6, "litellm": 3}
    stream |= {"openai-aiohttp": 12, "provider-httpx-aiohttp": 48}
    return [
        Scenario("chat, concurrency 1", "chat", 1, n({**chat1, **{c: 480 * k for c, k in fast.items()}}), 4),
        Scenario("chat, concurrency 64", "chat", 64, n({**chat64, **{c: 8192 * k for c, k in fast.items()}}), 4),
        Scenario(
            f"stream of {chunks} chunks, conc. 1",
            "stream",
            1,
            n({**stream, "aiohttp": 48, "provider": 48}),
            3,
        ),
        Scenario(
            f"stream of {chunks} chunks, conc. 32",
            "stream",
            32,
            n(
                {"aiohttp": 192, "httpx": 96, "provider": 192, "provider-httpx": 96, "openai": 32, "litellm": 8}
                | {"openai-aiohttp": 64, "provider-httpx-aiohttp": 192}
            ),
            3,
        ),
    ] + (
        [
            Scenario(
                "paced stream, 1 read per chunk",
                "stream",
                1,
                n(
                    {"aiohttp": 8, "httpx": 8, "provider": 8, "provider-httpx": 8, "openai": 2, "litellm": 2}
                    | {"openai-aiohttp": 4, "provider-httpx-aiohttp": 8}
                ),
                2,
                "paced",
            )
        ]
        if paced
        else []
    )


def summarize(scenario: Scenario, wire_chunks: float | None) -> list[dict[str, Any]]:
    floor = scenario.rounds[FLOOR]
    rows = []
    for client in scenario.rounds:
        results = scenario.rounds[client]
        per_call = [r["cpu_s"] / r["calls"] for r in results]
        ratios = [r["cpu_s"] / r["calls"] / (f["cpu_s"] / f["calls"]) for r, f in zip(results, floor, strict=True)]
        row: dict[str, Any] = {
            "scenario": scenario.name,
            "client": client,
            "cpu_us_per_call": statistics.median(per_call) * 1e6,
            "ratio_to_floor": statistics.median(ratios),
            "calls_per_s": statistics.median(r["calls"] / r["wall_s"] for r in results),
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "rounds": results,
        }
        if scenario.op == "stream" and wire_chunks:
            row["cpu_us_per_chunk"] = row["cpu_us_per_call"] / wire_chunks
            row["chunks_per_call"] = statistics.median(r["chunks_per_call"] for r in results)
            row["ttfc_ms"] = statistics.median(r["ttfc_ms"] for r in results)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'scenario':<32} {'client':<22} {'CPU us/call':>11} {'x floor':>8} {'calls/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'us/chunk':>8} {'TTFC ms':>7}"
    )
    print(head)
    print("-" * len(head))
    last = None
    for row in rows:
        name = row["scenario"] if row["scenario"] != last else ""
        last = row["scenario"]
        chunk = f"{row['cpu_us_per_chunk']:8.1f}" if "cpu_us_per_chunk" in row else f"{'':>8}"
        ttfc = f"{row['ttfc_ms']:7.2f}" if "ttfc_ms" in row else f"{'':>7}"
        print(
            f"{name:<32} {row['client']:<22} {row['cpu_us_per_call']:11.1f} {row['ratio_to_floor']:7.2f}x "
            f"{row['calls_per_s']:8.0f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f} {chunk} {ttfc}"
        )


def print_targets(rows: list[dict[str, Any]]) -> None:
    """The provider against its targets: ratios to the floor (and to httpx's pool) in this run."""
    by = {(r["scenario"], r["client"]): r for r in rows}
    print("\ntargets (ratios within this run):")
    for (scenario, client), row in by.items():
        if client != "provider":
            continue
        floor = by[(scenario, FLOOR)]
        line = f"  {scenario:<32} provider CPU {row['ratio_to_floor']:.2f}x {FLOOR}"
        line += " (<= 1.5x per chunk)" if "stream" in scenario else " (<= 2.0x)"
        if scenario == "chat, concurrency 64":
            slow = by.get((scenario, "provider-httpx"))
            if slow is not None:
                line += f"; calls/s {row['calls_per_s'] / slow['calls_per_s']:.1f}x provider-httpx (>= 8x)"
            line += f"; p99 {row['p99_ms'] / floor['p99_ms']:.2f}x {FLOOR} (<= 3x)"
        print(line)
        routed = by.get((scenario, "routed"))
        if routed is not None:
            extra = routed["cpu_us_per_call"] - row["cpu_us_per_call"]
            print(
                f"  {'':<32} route_request {routed['cpu_us_per_call']:.0f} us/call = provider + {extra:.0f} us "
                f"({routed['cpu_us_per_call'] / row['cpu_us_per_call']:.2f}x a direct call)"
            )


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}"


def coordinate(args: argparse.Namespace) -> None:
    # A SIGTERM (a timeout, a CI runner) still runs the finally below: no server or worker left over.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server, url = start_server(args.chunks)
    paced_server, paced_url = (None, None) if args.via_proxy or args.soak else start_server(args.chunks, PACE_US)
    proxy = None
    key = KEY
    workers: dict[str, Worker] = {}
    try:
        if args.via_proxy:
            from muxer_litellm.proxy.process import LiteLLMProxy

            print("starting a LiteLLM proxy in front of the fast server ...", file=sys.stderr, flush=True)
            proxy = LiteLLMProxy(proxy_config(url)).start()
            url, key = proxy.base_url, proxy.master_key
        clients = ("provider",) if args.soak else CLIENTS + (HTTPX_AIOHTTP_CLIENTS if args.httpx_aiohttp else ())
        if args.clients:
            clients = tuple(c for c in clients if c in {FLOOR, *args.clients.split(",")})
        workers = {name: Worker(name, url, key, paced_url) for name in clients}
        for w in workers.values():
            w.read()  # ready
        if args.soak:
            print("soak: LiteLLMProvider, chat at concurrency 64 plus a stream every 20th call", file=sys.stderr)
            marks = workers["provider"].ask(op="soak", checkpoints=[10_000, *range(20_000, 100_001, 10_000)])
            first, last = marks[0], marks[-1]
            growth = last["rss_kib"] / first["rss_kib"] - 1
            print(f"machine: {machine()}")
            print(
                f"LiteLLMProvider RSS after {first['calls']:,} calls: {first['rss_kib'] / 1024:.1f} MiB; "
                f"after {last['calls']:,}: {last['rss_kib'] / 1024:.1f} MiB ({growth:+.1%})"
            )
            if args.json:
                Path(args.json).write_text(json.dumps({"machine": machine(), "soak": marks}, indent=2))
            return
        scale = (0.1 if args.via_proxy else 1.0) * (0.25 if args.quick else 1.0)
        plan = scenarios(scale, args.chunks, paced_url is not None)
        began = time.monotonic()
        print(f"warming up {', '.join(workers)} ...", file=sys.stderr, flush=True)
        for scenario in plan:
            for name, w in workers.items():
                if name not in scenario.calls:
                    continue
                w.ask(
                    op=scenario.op,
                    calls=max(2, scenario.calls[name] // 8),
                    concurrency=scenario.concurrency,
                    target=scenario.target,
                )
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds} ({time.monotonic() - began:.0f} s) ...", file=sys.stderr, flush=True)
            rotated = list(clients[r % len(clients) :] + clients[: r % len(clients)])
            for scenario in plan:
                order = [name for name in rotated if name in scenario.calls and name in workers]
                parts: dict[str, list[dict[str, Any]]] = {name: [] for name in order}
                for part in range(scenario.slices):
                    for name in order:
                        calls = max(1, scenario.calls[name] // scenario.slices)
                        parts[name].append(
                            workers[name].ask(
                                op=scenario.op,
                                calls=calls,
                                concurrency=scenario.concurrency,
                                collect=part == 0,
                                target=scenario.target,
                            )
                        )
                for name, slices in parts.items():
                    scenario.rounds.setdefault(name, []).append(merge(slices))
        rows: list[dict[str, Any]] = []
        for scenario in plan:
            wire = None
            if scenario.op == "stream":
                wire = statistics.median(r["chunks_per_call"] for r in scenario.rounds[FLOOR])
            rows += summarize(scenario, wire)
        memory = {name: w.ask(op="rss") for name, w in workers.items()}
        where = "a real LiteLLM proxy in front of the fast server" if args.via_proxy else "the fast local server"
        if paced_url:
            where += f" (paced: stream events sent one by one, {PACE_US:.0f} us apart)"
        print(f"\nmachine: {machine()}")
        print(f"against {where}; median of {args.rounds} interleaved rounds; CPU = client process time / calls\n")
        print_table(rows)
        print_targets(rows)
        print()
        for name, m in memory.items():
            print(f"RSS of the {name} worker after {m['calls']:,} calls: {m['rss_kib'] / 1024:.1f} MiB")
        if args.json:
            report = {"machine": machine(), "via_proxy": args.via_proxy, "rows": rows, "memory": memory}
            Path(args.json).write_text(json.dumps(report, indent=2))
    finally:
        for w in workers.values():
            w.stop()
        if proxy is not None:
            proxy.stop()
        for each in (server, paced_server):
            if each is not None:
                each.terminate()
                each.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=200, help="SSE events per stream (the last one has usage)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--via-proxy", action="store_true", help="through a real LiteLLM proxy (for context)")
    parser.add_argument("--soak", action="store_true", help="RSS of the provider after 10,000 and 100,000 calls")
    parser.add_argument("--quick", action="store_true", help="a quarter of the calls (a smoke run)")
    parser.add_argument(
        "--httpx-aiohttp", action="store_true", help="also the httpx-aiohttp clients (needs that package)"
    )
    parser.add_argument("--clients", metavar="A,B", help=f"only these clients (and the floor, {FLOOR})")
    parser.add_argument("--worker", choices=CLIENTS + HTTPX_AIOHTTP_CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--paced-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.url, args.key, args.paced_url)
    else:
        coordinate(args)


if __name__ == "__main__":
    main()
