"""How much CPU one routing decision costs across many candidates.

Run: ``.venv/bin/python benchmarks/routing_decision.py [--candidates 200]``. Prints the
CPU time per ``classify_prompt`` and per ``select_model`` call (process time, median of
several rounds) for prompts of several kinds and sizes, and the ratio to a bare
``calculate_cost`` loop over the same models, so the number can be compared across
machines. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from muxer_litellm import LiteLLMProvider
from muxer_litellm.routing import HeuristicRouter, classify_prompt


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


if __name__ == "__main__":
    main()
