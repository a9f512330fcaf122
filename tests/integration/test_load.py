"""Reliability: correctness under load through the real LiteLLM proxy.

2,000 chat calls and 200 streams (half closed early) share one provider at concurrency 100.
Every prompt carries a nonce the fake upstream echoes, so an answer delivered to the wrong
caller, cut short or mixed with another is caught; every call must succeed. Afterwards the
pool has lent nothing out, keeps at most its keep-alive connections, and neither live objects
nor the process's memory grew past the warm-up. Not a timing test: the figures are printed,
never asserted.
"""

from __future__ import annotations

import asyncio
import gc
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from muxer_litellm import LiteLLMProvider
from muxer_litellm._stream import ChatStream
from muxer_litellm.host import ChatCompletionResponse
from tests.fake_upstream import FakeUpstream
from tests.integration.conftest import HAS_PROC, WatchedProvider

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not HAS_PROC, reason="counting sockets and memory needs Linux /proc"),
]

CALLS = 2000
STREAMS = 200
CONCURRENCY = 100
MODEL = "cheap-chat"
#: The proxy absorbs its own spurious 500 on a stale upstream connection (litellm 1.106/1.108).
RETRIES: dict[str, Any] = {"num_retries": 2}
#: Memory the process may gain after the warm-up: the fake upstream (same process) keeps every
#: request body it saw, and allocators settle. A leak of a response per call (~10 KB) would be 20+ MB.
RSS_SLACK_MB = 16.0
#: Objects a finished call must not keep alive.
TRACKED = (httpx.Response, httpx.Request, ChatStream, ChatCompletionResponse, asyncio.Task)


@dataclass
class Tally:
    calls: int = 0
    full_streams: int = 0
    early_streams: int = 0
    proxy_retries: int = 0
    nonces: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def live_objects() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, TRACKED))


def delta_text(chunk: dict[str, Any]) -> str:
    return "".join(c.get("delta", {}).get("content") or "" for c in chunk.get("choices", []))


async def one_call(provider: LiteLLMProvider, nonce: str, tally: Tally) -> None:
    response = await provider.chat_completion([{"role": "user", "content": f"{nonce} go"}], MODEL, **RETRIES)
    answer = response.choices[0].message.content
    if answer != f"echo: {nonce} go":
        tally.errors.append(f"call {nonce}: answer {answer!r}")
        return
    meta = response.router_metadata
    if meta.cost_source != "proxy" or not meta.estimated_cost:
        tally.errors.append(f"call {nonce}: cost {meta.estimated_cost!r} from {meta.cost_source}")
        return
    tally.proxy_retries += meta.attempted_retries or 0
    tally.calls += 1


async def one_stream(provider: LiteLLMProvider, nonce: str, close_early: bool, tally: Tally) -> None:
    words = f"{nonce} a b c d e f g h"
    text = ""
    async with provider.stream_chat_completion([{"role": "user", "content": words}], MODEL, **RETRIES) as stream:
        async for chunk in stream:
            text += delta_text(chunk)
            if close_early and nonce in text:
                break
    if close_early:
        # Left after the nonce arrived, before the usage chunk: nothing billed is made up.
        if not text.startswith(f"echo: {nonce}") or stream.ended or stream.metadata is not None:
            tally.errors.append(f"early stream {nonce}: text {text!r}, ended {stream.ended}")
            return
        tally.early_streams += 1
        return
    if text != f"echo: {words}" or stream.cost is None or stream.cost <= 0:
        tally.errors.append(f"stream {nonce}: text {text!r}, cost {stream.cost!r}")
        return
    tally.full_streams += 1


async def run(provider: LiteLLMProvider, calls: int, streams: int, tag: str) -> tuple[Tally, float]:
    """``calls`` chat calls and ``streams`` streams (every other one closed early), shuffled,
    at most CONCURRENCY at a time; exceptions are tallied, not raised."""
    tally = Tally()
    gate = asyncio.Semaphore(CONCURRENCY)
    kinds = ["call"] * calls + ["stream", "early"] * (streams // 2)
    random.Random(12).shuffle(kinds)

    async def op(i: int, kind: str) -> None:
        nonce = f"{tag}{i:05d}{secrets.token_hex(3)}"
        tally.nonces.add(nonce)
        async with gate:
            try:
                if kind == "call":
                    await one_call(provider, nonce, tally)
                else:
                    await one_stream(provider, nonce, kind == "early", tally)
            except Exception as exc:
                tally.errors.append(f"{kind} {nonce}: {type(exc).__name__}: {exc}")

    started = time.perf_counter()
    await asyncio.gather(*(op(i, kind) for i, kind in enumerate(kinds)))
    return tally, time.perf_counter() - started


def nonces_seen(upstream: FakeUpstream, tag: str) -> set[str]:
    seen = set()
    for request in list(upstream.requests):
        messages = request["body"].get("messages") or [{}]
        content = str(messages[-1].get("content"))
        if content.startswith(tag):
            seen.add(content.split(" ", 1)[0])
    return seen


async def test_2000_calls_and_200_streams_each_get_their_own_answer_and_nothing_grows(
    watched: WatchedProvider, fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = watched.provider
    warm, _ = await run(provider, 100, 20, f"w{secrets.token_hex(3)}")
    assert warm.errors == []
    await asyncio.sleep(0)  # let the finished tasks' done-callbacks run (they hold the tasks)
    await watched.assert_released()
    sockets_warm, rss_warm, live_warm = len(watched.sockets()), rss_mb(), live_objects()

    tag = f"l{secrets.token_hex(3)}"
    tally, seconds = await run(provider, CALLS, STREAMS, tag)
    await asyncio.sleep(0)
    sockets_after, rss_after, live_after = len(watched.sockets()), rss_mb(), live_objects()

    with capsys.disabled():
        print(
            f"\nload: {CALLS} calls + {STREAMS} streams ({STREAMS // 2} closed early) at concurrency {CONCURRENCY} "
            f"in {seconds:.1f}s ({(CALLS + STREAMS) / seconds:.0f}/s); errors {len(tally.errors)}; "
            f"proxy retries {tally.proxy_retries}; sockets to the proxy {sockets_warm} -> {sockets_after} "
            f"(lent out {watched.transport.in_use}); RSS {rss_warm:.1f} -> {rss_after:.1f} MB; "
            f"live objects {sum(live_warm.values())} -> {sum(live_after.values())}"
        )

    assert tally.errors == [], tally.errors[:5]
    assert (tally.calls, tally.full_streams, tally.early_streams) == (CALLS, STREAMS // 2, STREAMS // 2)
    assert len(tally.nonces) == CALLS + STREAMS
    assert nonces_seen(fake_upstream, tag) == tally.nonces  # every answer came from its own request

    await watched.assert_released()  # nothing lent out; at most the keep-alive connections stay open
    # Every call's requests, responses, streams and tasks are gone (one per call would be 2,200).
    assert sum(live_after.values()) <= sum(live_warm.values()) + 5, (live_warm, live_after)
    assert rss_after - rss_warm <= RSS_SLACK_MB, (rss_warm, rss_after)
