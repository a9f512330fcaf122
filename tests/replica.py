"""One gateway replica in its own process, for tests/integration/test_replicas.py: a
``HeuristicRouter`` whose state lives in Redis, in front of the session's real LiteLLM proxy.

Run as ``python -m tests.replica BASE_URL API_KEY CONFIG_JSON``; CONFIG_JSON holds the
``RoutingConfig`` fields (``state_backend``, ``redis_url``, ``redis_prefix``, combos...).
It answers one JSON line on stdout per JSON line on stdin:

- ``{"op": "route", "strategy": S, "n": N, "concurrency": C, "pause": P, "api_key": K}``: N routed
  requests, C at a time, each worker pausing P seconds between its requests, with the tenant
  key K when given; one result per request (answering model, attempts, error class and scope,
  monotonic start and end);
- ``{"op": "plan", "strategy": S}``: the plan's candidates and exclusions, and when it was read;
- ``{"op": "state", "key": K, "tenant": T}``: the breaker state and status of ``provider/model`` K
  (for tenant label T when given);
- ``{"op": "stats"}``: the store's stats (and whether a publish of its signals is on its way);
  ``{"op": "sync"}``: the same after one snapshot (which
  tries Redis again when it is due); ``{"op": "quit"}``.

Monotonic times are comparable between processes on one machine (CLOCK_MONOTONIC).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from muxer_litellm import LiteLLMProvider, ProviderError
from muxer_litellm.routing import HeuristicRouter, RedisStore, RoutingConfig

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


async def route(router: HeuristicRouter, providers: dict[str, Any], cmd: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    queue = list(range(int(cmd.get("n", 1))))

    async def worker() -> None:
        while queue:
            queue.pop()
            started = time.monotonic()
            row: dict[str, Any] = {"start": started}
            try:
                tenant = {"api_key": cmd["api_key"]} if cmd.get("api_key") else {}
                response = await router.route_request(MESSAGES, providers, cmd["strategy"], **tenant)
            except ProviderError as exc:
                row["error"] = type(exc).__name__
                row["scope"] = exc.scope
                row["attempts"] = [[a["model"], a["outcome"]] for a in getattr(exc, "attempts", []) or []]
            else:
                meta = response.router_metadata
                row["model"] = meta.selected_model
                row["attempts"] = [[a.model, a.outcome] for a in meta.attempts]
            row["end"] = time.monotonic()
            results.append(row)
            if cmd.get("pause"):
                await asyncio.sleep(float(cmd["pause"]))

    await asyncio.gather(*(worker() for _ in range(int(cmd.get("concurrency", 1)))))
    return results


async def handle(router: HeuristicRouter, providers: dict[str, Any], cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    if op == "route":
        return {"results": await route(router, providers, cmd)}
    if op == "plan":
        started = time.monotonic()
        plan = await router.plan(MESSAGES, providers, cmd["strategy"])
        return {
            "start": started,
            "end": time.monotonic(),
            "targets": [t.key for t in plan.candidates],
            "excluded": dict(plan.excluded),
        }
    if op == "state":
        store = router.store
        status = await store.status(cmd["key"], cmd["key"].split("/", 1)[0], cmd.get("tenant"))
        return {
            "breaker": await store.breaker_state(cmd["key"]),
            "blocked": None if status is None else {"reason": status.reason, "remaining": status.remaining},
            "time": time.monotonic(),
        }
    if op in ("stats", "sync"):
        store = router.store
        assert isinstance(store, RedisStore)
        if op == "sync":
            await store.snapshot()
        s = store.stats
        return {
            "shared": s.shared,
            "outages": s.outages,
            "recoveries": s.recoveries,
            "published": s.published,
            "fallbacks": s.fallbacks,
            "signals_at_once": s.signals_at_once,
            "publishing": store.publishing,
        }
    raise ValueError(f"unknown op {op!r}")


async def main() -> None:
    base_url, api_key, config_json = sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    config = RoutingConfig.model_validate(json.loads(config_json))
    loop = asyncio.get_running_loop()
    async with LiteLLMProvider(base_url, api_key) as provider, HeuristicRouter(config) as router:
        providers: dict[str, Any] = {"litellm": provider}
        await router.refresh(providers)
        print(json.dumps({"ready": True}), flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            cmd = json.loads(line)
            if cmd["op"] == "quit":
                return
            try:
                reply = await handle(router, providers, cmd)
            except Exception as exc:  # reported to the test, which fails with it
                reply = {"exception": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
