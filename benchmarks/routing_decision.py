"""How much CPU one routing decision costs across many candidates, and what the routing-state
store adds to it.

Run: ``.venv/bin/python benchmarks/routing_decision.py [--candidates 200]``. Prints the
CPU time per ``classify_prompt`` and per ``select_model`` call (process time, median of
several rounds) for prompts of several kinds and sizes, and the ratio to a bare
``calculate_cost`` loop over the same models, so the number can be compared across
machines. Then, on a real redis-server on loopback (``tests/redis_server.py``; skipped with a
line when there is none), a decision's store read (snapshot + select) and a whole routed request
on the local store and on the Redis store: wall time, CPU and round trips. A benchmark, not a
test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from muxer_litellm import LiteLLMProvider
from muxer_litellm.host import LLMProvider
from muxer_litellm.routing import HeuristicRouter, RoutingConfig, classify_prompt
from muxer_litellm.routing.select import select_candidate
from muxer_litellm.testing import BareFakeProvider

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/redis_server.py, from the repo


def build(n: int) -> dict[str, LiteLLMProvider]:
    """``n`` priced models over two LiteLLMProviders' catalogs (no proxy is contacted)."""
    providers: dict[str, LiteLLMProvider] = {}
    for p in range(2):
        provider = LiteLLMProvider("http://127.0.0.1:9", "sk-bench")
        for i in range(n // 2):
            price = 0.0001 * (1 + (i * 7 + p) % 60)
            provider.add_custom_model(
                f"model-{p}-{i}",
                pricing={"input": price, "output": price * 4},
                metadata={
                    "mode": "chat",
                    "context_window": 8000 * (1 + i % 16),
                    "supports_function_calling": i % 3 != 0,
                    "supports_vision": i % 5 == 0,
                },
            )
        providers[f"proxy{p}"] = provider
    return providers


def cpu_per_call(fn: Callable[[], object], calls: int, rounds: int = 7) -> float:
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        samples.append((time.process_time() - start) / calls)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    providers = build(args.candidates)
    router = HeuristicRouter()
    count = len(router.candidates(providers))
    notes = "The team met on Tuesday and agreed the budget, the hiring plan and the launch date. " * 100
    source = "def merge(a, b):\n    out = []\n    while a and b:\n        out.append(a.pop(0))\n    return out\n" * 40
    prompts = {
        "simple": [{"role": "user", "content": "What's a good name for a cat?"}],
        "code": [{"role": "user", "content": "Refactor this Python function:\n```python\ndef f(x): return x\n```"}],
        "2k-prose": [{"role": "user", "content": notes[:2000] + "\nSummarise these notes."}],
        "8k-prose": [{"role": "user", "content": notes[:8000] + "\nSummarise these notes."}],
        "4k-code": [{"role": "user", "content": "Why is this slow?\n```python\n" + source[:4000] + "\n```"}],
    }
    models = [(p, m) for p in providers.values() for m in p.get_supported_models()]

    def cost_loop() -> float:
        return sum(p.calculate_cost(500, 256, m) for p, m in models)

    baseline = cpu_per_call(cost_loop, args.calls)
    print(f"candidates: {count}")
    print(f"calculate_cost over all candidates: {baseline * 1e6:8.1f} us CPU")
    for name, messages in prompts.items():
        per_call = cpu_per_call(lambda m=messages: classify_prompt(m), args.calls)
        print(f"classify_prompt alone ({name:8}): {per_call * 1e6:8.1f} us CPU")
    for name, messages in prompts.items():
        per_call = cpu_per_call(lambda m=messages: router.select_model(m, providers), args.calls)
        print(f"select_model ({name:8}): {per_call * 1e6:8.1f} us CPU  ({per_call / baseline:4.1f}x the cost loop)")
        per_call = cpu_per_call(
            lambda m=messages: router.select_model(m, providers, strategy="cost_optimized", max_cost=0.01), args.calls
        )
        print(f"cost_optimized+max_cost ({name:8}): {per_call * 1e6:8.1f} us CPU")

    def cold() -> object:
        router.invalidate()
        return router.select_model(prompts["simple"], providers)

    per_call = cpu_per_call(cold, args.calls)
    print(f"select_model after a catalog change (candidates rebuilt): {per_call * 1e6:8.1f} us CPU")
    asyncio.run(store_costs(providers, prompts["simple"], args.calls))


async def timed(fn: Callable[[], Awaitable[object]], calls: int, rounds: int = 5) -> tuple[float, float]:
    """Median (wall, CPU) seconds per call."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            await fn()
        walls.append((time.perf_counter() - wall) / calls)
        cpus.append((time.process_time() - cpu) / calls)
    return statistics.median(walls), statistics.median(cpus)


class Trips:
    """Counts a Redis client's script calls: one round trip each."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        original = client.evalsha

        async def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(*args, **kwargs)

        client.evalsha = counting


async def store_costs(providers: dict[str, LiteLLMProvider], messages: list[dict[str, Any]], calls: int) -> None:
    from tests.redis_server import RedisServer, redis_server_executable

    executable = redis_server_executable()
    if executable is None:
        print("Redis store: skipped (no redis-server: `make install` brings one on Linux x86_64, Python 3.11)")
        return
    server = RedisServer(executable, Path(tempfile.mkdtemp(prefix="bench-redis-"))).start()
    try:
        config = RoutingConfig(
            state_backend="redis", redis_url=server.url, redis_prefix="bench", redis_timeout=5.0,
            combos={"c": {"targets": ["a/m1", "b/m3"]}},
        )  # fmt: skip
        local = HeuristicRouter(config.model_copy(update={"state_backend": "local"}))
        shared = HeuristicRouter(config)
        trips = Trips(shared.store.client)  # type: ignore[attr-defined]
        candidates = local.candidates(providers)
        profile = local.classify(messages)
        print(f"\nrouting state store, {len(candidates)} candidates, redis-server on loopback (wall / CPU per call):")
        for label, router in (("local", local), ("redis", shared)):

            async def decide(router: HeuristicRouter = router) -> object:
                view = await router.store.snapshot()
                return select_candidate(candidates, providers, profile, router.config, view, strategy="cost_optimized")

            await decide()
            trips.count = 0
            wall, cpu = await timed(decide, calls)
            per = trips.count / (calls * 5) if label == "redis" else 0
            print(f"  decision (snapshot + select), {label:5}: {wall * 1e6:8.1f} us / {cpu * 1e6:7.1f} us CPU, "
                  f"{per:.0f} round trip(s)")  # fmt: skip
        for i in range(20):  # a busy gateway: 20 targets cooling down in the snapshot
            await shared.store.cool_down(f"proxy0/model-0-{i}", 300.0, "rate limited (429)")
            await local.store.cool_down(f"proxy0/model-0-{i}", 300.0, "rate limited (429)")
        for label, router in (("local", local), ("redis", shared)):

            async def busy(router: HeuristicRouter = router) -> object:
                view = await router.store.snapshot()
                return select_candidate(candidates, providers, profile, router.config, view, strategy="cost_optimized")

            wall, cpu = await timed(busy, calls)
            print(f"  decision, 20 targets cooling, {label:5}: {wall * 1e6:8.1f} us / {cpu * 1e6:7.1f} us CPU")

        for label, router in (("local", local), ("redis", shared)):
            fakes: dict[str, LLMProvider] = {  # fresh per store: a fake's call log grows with every call
                "a": BareFakeProvider("a", {"m1": (0.0005, 0.0015)}),
                "b": BareFakeProvider("b", {"m3": (0.003, 0.004)}),
            }

            async def request(router: HeuristicRouter = router, fakes: dict[str, LLMProvider] = fakes) -> object:
                return await router.route_request(messages, fakes, "c")

            await request()
            trips.count = 0
            wall, cpu = await timed(request, calls)
            per = trips.count / (calls * 5) if label == "redis" else 0
            print(f"  routed request (plan, admit, call, report), {label:5}: {wall * 1e6:8.1f} us / "
                  f"{cpu * 1e6:7.1f} us CPU, {per:.0f} round trip(s)")  # fmt: skip

        other = HeuristicRouter(config)  # a second replica
        started = time.perf_counter()
        await shared.store.cool_down("a/m1", 5.0, "rate limited (429)")
        view = await other.store.snapshot()
        lag = time.perf_counter() - started
        seen = view.status("a/m1", "a") is not None
        print(f"  a 429 written by one replica and read by another: {lag * 1e3:.2f} ms (seen: {seen})")
        await other.aclose()
        await shared.aclose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
