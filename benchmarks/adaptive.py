"""Adaptive routing against routing without live signals, through a real LiteLLM proxy (``num_retries: 0``,
its cooldowns off, so every 429 counted is one the upstream sent) in front of a rate-limited,
latency-shaped fake upstream (``tests/limited_upstream.py``). Before = ``adaptive.enabled: false``
(429 cooldowns and breakers only); after = the defaults.

1. Headroom: a cheap model allowing ``--limit`` requests per 2 s window (OpenAI-style
   ``x-ratelimit-*`` headers) and a dearer backup, offered 1.5x the cheap one's rate for
   ``--seconds``: 429s the upstream sent, failed requests, answers from the cheap one.
2. Latency: three models at one price, 50 / 150 / 400 ms; the fastest slows to 600 ms halfway:
   p50 of routed calls against the fastest's own, share on the slowest, how soon traffic moved.
3. Cost first: a model half the price and 2x slower keeps the traffic under the default strategy,
   and loses it only to a latency objective (``max_latency_ms``).
4. 1 and 2 again with three replica processes sharing routing state on Redis: the same bounds,
   and store reads per routed request.

Scenarios 1 and 2 route with a ``cost`` combo over their own models (a cost-ordered choice, like
the default strategies); 3 uses the default strategy over every model the proxy offers.

    python benchmarks/adaptive.py [--seconds 20] [--replicas 3]     (make bench-adaptive)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/*, from the repo

from muxer_litellm import LiteLLMProvider, ProviderError
from muxer_litellm.host import LLMProvider
from muxer_litellm.routing import HeuristicRouter, RedisStore, RoutingConfig, RoutingState
from tests.limited_upstream import Behaviour, LimitedUpstream
from tests.litellm_proxy import LiteLLMProxy
from tests.redis_server import RedisServer, redis_server_executable

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
WINDOW = 2.0
FAST, MID, SLOW, SLOWED = 0.05, 0.15, 0.4, 0.6
COMBOS = {
    "headroom": {"targets": ["litellm/limited-cheap", "litellm/backup-dear"], "strategy": "cost"},
    # Listed slowest first: without live signals, the cost order among equal prices is the listed order.
    "latency": {"targets": ["litellm/lat-slow", "litellm/lat-mid", "litellm/lat-fast"], "strategy": "cost"},
    # The fastest alone: its latency under the same load, what the replicated latency run compares to.
    "fastest-only": {"targets": ["litellm/lat-fast"], "strategy": "cost"},
}


def proxy_config(upstream: str) -> dict[str, Any]:
    def model(name: str, price: float) -> dict[str, Any]:
        params: dict[str, Any] = {"model": f"openai/{name}", "api_base": upstream, "api_key": "fake"}
        params.update(input_cost_per_token=price, output_cost_per_token=price * 2)
        return {"model_name": name, "litellm_params": params}

    return {
        "model_list": [
            model("cheap-slow", 1e-08),
            model("dear-fast", 2e-08),
            model("limited-cheap", 1e-07),
            model("backup-dear", 1e-06),
            model("lat-slow", 2e-06),
            model("lat-mid", 2e-06),
            model("lat-fast", 2e-06),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 60, "telemetry": False},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }


def behaviours(limit: int) -> dict[str, Behaviour]:
    return {
        "cheap-slow": Behaviour(latency=0.3),
        "dear-fast": Behaviour(latency=0.15),
        "limited-cheap": Behaviour(limit=limit, window=WINDOW),
        "backup-dear": Behaviour(latency=0.02),
        "lat-slow": Behaviour(latency=SLOW),
        "lat-mid": Behaviour(latency=MID),
        "lat-fast": Behaviour(latency=FAST),
    }


@dataclass
class Call:
    at: float  # seconds since the run started
    model: str | None
    ms: float
    error: str | None = None


async def drive(
    router: HeuristicRouter, providers: dict[str, LLMProvider], strategy: str | None, rate: float, seconds: float
) -> list[Call]:
    """Open-loop load: ``rate`` requests per second for ``seconds``, each routed and timed."""
    start = time.perf_counter()
    calls: list[Call] = []

    async def one(at: float) -> None:
        began = time.perf_counter()
        try:
            reply = await router.route_request(MESSAGES, providers, strategy)
        except ProviderError as exc:
            calls.append(Call(at, None, (time.perf_counter() - began) * 1000, type(exc).__name__))
            return
        calls.append(Call(at, reply.router_metadata.selected_model, (time.perf_counter() - began) * 1000))

    tasks = []
    for i in range(round(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i / rate)))
    await asyncio.gather(*tasks)
    return calls


def config(adaptive: bool, **extra: Any) -> RoutingConfig:
    return RoutingConfig(combos=COMBOS, adaptive={"enabled": adaptive, **extra}, rate_limit_cooldown=1.0)


# ---------------------------------------------------------------------- one process or one replica


async def run_scenario(spec: dict[str, Any], on_half: Callable[[], None] | None = None) -> dict[str, Any]:
    """One scenario in this process: ``spec`` names it, the proxy, and (for replicas) Redis."""
    cfg = config(spec["adaptive"], **spec.get("objective", {}))
    if spec.get("redis_url"):
        state = RoutingState()
        store = RedisStore.from_url(
            spec["redis_url"], local=state, prefix=spec["prefix"], timeout=1.0,
            publish_interval=cfg.adaptive.publish_interval, shared_ttl=cfg.adaptive.shared_ttl,
        )  # fmt: skip
        router = HeuristicRouter(cfg, state=state, store=store)
    else:
        router = HeuristicRouter(cfg)
    async with LiteLLMProvider(spec["base_url"], spec["master_key"]) as provider:
        providers: dict[str, LLMProvider] = {"litellm": provider}
        await provider.refresh_models()
        # Start on a rate-limit window boundary, so before and after see the same windows.
        await asyncio.sleep(max(0.0, spec.get("start_at", time.time()) - time.time()))
        calls: list[Call] = []
        if on_half is not None:
            half = asyncio.get_running_loop().call_later(spec["seconds"] / 2, on_half)
        try:
            calls = await drive(router, providers, spec.get("strategy"), spec["rate"], spec["seconds"])
        finally:
            if on_half is not None:
                half.cancel()
            await router.aclose()
    out: dict[str, Any] = {"calls": [asdict(c) for c in calls]}
    if isinstance(router.store, RedisStore):
        out["reads"] = router.store.stats.reads
        out["publishes"] = router.store.stats.signal_publishes - router.store.stats.signals_on_reads
    return out


def replica_main(spec_json: str) -> None:
    print(json.dumps(asyncio.run(run_scenario(json.loads(spec_json)))))


# ---------------------------------------------------------------------- measuring


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def headroom_row(calls: list[Call], refused: int) -> dict[str, Any]:
    return {
        "429s": refused,
        "failed": sum(1 for c in calls if c.error),
        "cheap": sum(1 for c in calls if c.model == "limited-cheap"),
        "requests": len(calls),
    }


def latency_row(calls: list[Call], seconds: float, reference: list[Call] | None = None) -> dict[str, Any]:
    """``reference``: calls of a run sending everything to the fastest under the same load (the
    fastest's p50 is then that run's); without it, the p50 of the calls this run sent to it."""
    half = seconds / 2
    first = [c for c in calls if 1.0 <= c.at < half and c.model]  # steady state: after the first probes
    own = [c.ms for c in first if c.model == "lat-fast"]
    fast = own if reference is None else [c.ms for c in reference if 1.0 <= c.at < half and c.model == "lat-fast"]
    moved_after = None
    if own:
        # Traffic has moved once every later 0.5 s bucket sends under half its calls to the old fastest.
        buckets: dict[int, list[Call]] = {}
        for c in calls:
            if c.at >= half and c.model:
                buckets.setdefault(int((c.at - half) / 0.5), []).append(c)
        for start in sorted(buckets):
            if all(
                sum(1 for c in buckets[b] if c.model == "lat-fast") < len(buckets[b]) / 2 for b in buckets if b >= start
            ):
                moved_after = start * 0.5
                break
    return {
        "p50": p50([c.ms for c in first]),
        "fast_p50": p50(fast) if fast else float("nan"),
        "own_p50": p50(own) if own else float("nan"),
        "alone": reference is not None,
        "slowest_share": sum(1 for c in calls if c.model == "lat-slow") / max(1, len(calls)),
        "moved_after": moved_after,
        "failed": sum(1 for c in calls if c.error),
    }


def share(calls: list[Call], model: str, after: float = 0.0) -> float:
    kept = [c for c in calls if c.at >= after and c.model]
    return sum(1 for c in kept if c.model == model) / max(1, len(kept))


# ---------------------------------------------------------------------- the runs


class Bench:
    def __init__(self, args: argparse.Namespace, upstream: LimitedUpstream, proxy: LiteLLMProxy) -> None:
        self.args = args
        self.upstream = upstream
        self.proxy = proxy
        self.redis: RedisServer | None = None

    def spec(self, adaptive: bool, **fields: Any) -> dict[str, Any]:
        return {"adaptive": adaptive, "base_url": self.proxy.base_url, "master_key": self.proxy.master_key, **fields}

    def reset(self) -> None:
        for name, behaviour in behaviours(self.args.limit).items():
            self.upstream.set(name, behaviour)
        self.upstream.reset_counts()

    def slow_fastest(self) -> None:
        self.upstream.set("lat-fast", Behaviour(latency=SLOWED))

    def boundary(self, lead: float) -> float:
        """A wall-clock time at least ``lead`` seconds away, on a rate-limit window boundary."""
        delay = self.upstream.to_next_window(WINDOW)
        while delay < lead:
            delay += WINDOW
        return time.time() + delay

    async def local(self, spec: dict[str, Any], on_half: Callable[[], None] | None = None) -> list[Call]:
        self.reset()
        result = await run_scenario({**spec, "start_at": self.boundary(1.0)}, on_half)
        return [Call(**c) for c in result["calls"]]

    async def replicas(
        self, spec: dict[str, Any], on_half: Callable[[], None] | None = None
    ) -> tuple[list[Call], float]:
        """The scenario on ``--replicas`` processes at 1/n of the rate each; calls and reads per request."""
        assert self.redis is not None
        self.reset()
        n = self.args.replicas
        spec = {
            **spec,
            "rate": spec["rate"] / n,
            "redis_url": self.redis.url,
            "prefix": f"bench:{uuid.uuid4().hex[:8]}",
            "start_at": self.boundary(4.0),
        }
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--replica", json.dumps(spec), stdout=asyncio.subprocess.PIPE
            )
            for _ in range(n)
        ]
        if on_half is not None:
            await asyncio.sleep(max(0.0, spec["start_at"] - time.time()) + spec["seconds"] / 2)
            on_half()
        outputs = [await p.communicate() for p in procs]
        calls: list[Call] = []
        reads = routed = 0
        for out, _ in outputs:
            result = json.loads(out.decode())
            calls.extend(Call(**c) for c in result["calls"])
            reads += result["reads"]
            routed += len(result["calls"])
        return sorted(calls, key=lambda c: c.at), reads / max(1, routed)

    async def run(self) -> list[tuple[str, str, str, str]]:
        a = self.args
        rate = 1.5 * a.limit / WINDOW
        lat_seconds = a.seconds * 0.6
        lat = {"strategy": "latency", "rate": 10.0, "seconds": lat_seconds}
        rows: list[tuple[str, str, str, str]] = []
        if a.replicas_only:
            return await self.replica_part(rate, lat)
        before = headroom_row(await self.local(self.spec(False, strategy="headroom", rate=rate, seconds=a.seconds)), 0)
        before["429s"] = self.upstream.refused["limited-cheap"]
        after = headroom_row(await self.local(self.spec(True, strategy="headroom", rate=rate, seconds=a.seconds)), 0)
        after["429s"] = self.upstream.refused["limited-cheap"]
        rows += headroom_rows("1", before, after)

        before_l = latency_row(await self.local(self.spec(False, **lat), self.slow_fastest), lat_seconds)
        after_l = latency_row(await self.local(self.spec(True, **lat), self.slow_fastest), lat_seconds)
        rows += latency_rows("2", before_l, after_l)

        cost = {"rate": 5.0, "seconds": 8.0}
        default = await self.local(self.spec(True, **cost))
        objective = await self.local(self.spec(True, objective={"max_latency_ms": 250.0}, **cost))
        rows.append(
            (
                "3 cost first",
                "share on the half-price, 2x slower model",
                f"{share(default, 'cheap-slow', 2.0):.0%} (default strategy)",
                f"{share(objective, 'cheap-slow', 2.0):.0%} (max_latency_ms 250)",
            )
        )
        return rows + await self.replica_part(rate, lat)

    async def replica_part(self, rate: float, lat: dict[str, Any]) -> list[tuple[str, str, str, str]]:
        if not self.args.replicas or redis_server_executable() is None:
            return []
        with tempfile.TemporaryDirectory() as tmp:
            self.redis = RedisServer(redis_server_executable() or "", Path(tmp)).start()
            try:
                return await self.replica_rows(rate, lat)
            finally:
                self.redis.stop()

    async def replica_rows(self, rate: float, lat: dict[str, Any]) -> list[tuple[str, str, str, str]]:
        a = self.args
        rows: list[tuple[str, str, str, str]] = []
        spec = {"strategy": "headroom", "rate": rate, "seconds": a.seconds}
        calls, reads_before = await self.replicas(self.spec(False, **spec))
        before = headroom_row(calls, self.upstream.refused["limited-cheap"])
        calls, reads_after = await self.replicas(self.spec(True, **spec))
        after = headroom_row(calls, self.upstream.refused["limited-cheap"])
        rows += headroom_rows(f"4 ({a.replicas} replicas) 1", before, after)
        # The fastest's own p50 under the same load (every call to it, same processes and rate):
        # on a shared 2-core machine, three replica processes and the proxy slow every call.
        reference, _ = await self.replicas(self.spec(True, **{**lat, "strategy": "fastest-only"}))
        calls, _ = await self.replicas(self.spec(False, **lat), self.slow_fastest)
        before_l = latency_row(calls, lat["seconds"], reference)
        calls, reads_lat = await self.replicas(self.spec(True, **lat), self.slow_fastest)
        after_l = latency_row(calls, lat["seconds"], reference)
        rows += latency_rows(f"4 ({a.replicas} replicas) 2", before_l, after_l)
        rows.append(
            (
                f"4 ({a.replicas} replicas)",
                "store reads per routed request",
                f"{reads_before:.2f}",
                f"{max(reads_after, reads_lat):.2f}",
            )
        )
        return rows


def headroom_rows(label: str, before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    fewer = 1 - after["429s"] / before["429s"] if before["429s"] else 0.0
    moved = after["cheap"] / before["cheap"] - 1 if before["cheap"] else 0.0
    return [
        (f"{label} headroom", "429s the upstream sent", str(before["429s"]), f"{after['429s']} ({fewer:.0%} fewer)"),
        (
            f"{label} headroom",
            "failed requests",
            f"{before['failed']} of {before['requests']}",
            f"{after['failed']} of {after['requests']}",
        ),
        (f"{label} headroom", "answered by the cheap model", str(before["cheap"]), f"{after['cheap']} ({moved:+.1%})"),
    ]  # fmt: skip


def latency_rows(label: str, before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    def vs(row: dict[str, Any]) -> str:
        ratio = row["p50"] / row["fast_p50"] if row["fast_p50"] == row["fast_p50"] else float("nan")
        if ratio != ratio:
            return f"{row['p50']:.0f} ms"
        if not row["alone"]:
            return f"{row['p50']:.0f} ms ({ratio:.2f}x the fastest's, {row['fast_p50']:.0f} ms)"
        own = row["own_p50"]
        mine = f"; {row['p50'] / own:.2f}x its calls in this run, {own:.0f} ms" if own == own else ""
        alone = f"{ratio:.2f}x the fastest's alone under the same load, {row['fast_p50']:.0f} ms"
        return f"{row['p50']:.0f} ms ({alone}{mine})"

    def moved(row: dict[str, Any]) -> str:
        return "never on it" if row["moved_after"] is None else f"{row['moved_after']:.1f} s"

    return [
        (f"{label} latency", "p50 of routed calls (1 s to half-time)", vs(before), vs(after)),
        (f"{label} latency", "share on the slowest", f"{before['slowest_share']:.0%}", f"{after['slowest_share']:.0%}"),
        (f"{label} latency", "traffic off the fastest after it slowed", moved(before), moved(after)),
        (f"{label} latency", "failed requests", str(before["failed"]), str(after["failed"])),
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    upstream = LimitedUpstream(behaviours(args.limit)).start()
    with tempfile.TemporaryDirectory() as tmp:
        proxy = LiteLLMProxy(proxy_config(upstream.base_url), Path(tmp))
        proxy.start()
        try:
            rows = await Bench(args, upstream, proxy).run()
        finally:
            proxy.stop()
            upstream.stop()
    print("| scenario | measure | before (adaptive off) | after (adaptive) |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the headroom run (latency: 0.6x)")
    parser.add_argument("--limit", type=int, default=10, help="the cheap model's requests per 2 s window")
    parser.add_argument("--replicas", type=int, default=3, help="replica processes for scenario 4 (0: skip)")
    parser.add_argument("--replicas-only", action="store_true", help="run scenario 4 only")
    parser.add_argument("--replica", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.replica:
        replica_main(parsed.replica)
    else:
        asyncio.run(main(parsed))
