"""``routing/adaptive.py`` and what execution measures (``routing/measure.py``): every decision rule
on live signals (headroom skip until the reset, the fastest strategy, the latency objective, cost
ties won by the faster, probes for untried targets, least busy, the share cap of a slowing target,
error-prone targets last, cheapest first when all are healthy) and the reasons that say so; then
the signals a routed call leaves behind (latency, time to first chunk, in flight, errors, headroom)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from muxer_litellm import ProviderTimeoutError, RateLimitError
from muxer_litellm.errors import BadRequestError, NoRouteError
from muxer_litellm.host import ChatCompletionResponse, Headroom, LLMProvider, RouterMetadata
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from muxer_litellm.routing.state.signals import SignalBook
from tests.unit.routing.helpers import CHEAP, EXPENSIVE, MESSAGES, MID, Clock, bare, drain, order

SAME = (0.001, 0.002)
NEAR = (0.001, 0.00204)  # within 5% of SAME for a simple prompt
HALF = (0.0005, 0.001)  # half of SAME


def router(config: RoutingConfig | None = None, clock: Clock | None = None, **adaptive: Any) -> HeuristicRouter:
    config = config or RoutingConfig(adaptive=adaptive)
    return HeuristicRouter(config, clock=clock or Clock())


def book(r: HeuristicRouter) -> SignalBook:
    return r.state.signals


def measured(r: HeuristicRouter, key: str, ms: float, n: int = 5, kind: Any = "total") -> None:
    for _ in range(n):
        book(r).record_latency(key, kind, ms)


def exhausted(r: HeuristicRouter, key: str, reset: float = 4.1, left: int = 0) -> None:
    book(r).observe_headroom(key, Headroom(remaining_requests=left, reset_requests=reset), book(r).started(key))
    book(r).ended(key, ok=True)


def providers(**models: tuple[float, float]) -> dict[str, LLMProvider]:
    return {"p": bare("p", models)}


# ---------------------------------------------------------------------- headroom


async def test_a_target_out_of_requests_is_skipped_until_its_reset_and_the_reason_says_so() -> None:
    clock = Clock()
    r = router(clock=clock)
    ps = providers(cheap=CHEAP, dear=MID)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/cheap"
    exhausted(r, "p/cheap", reset=4.1, left=2)
    book(r).started("p/cheap")
    book(r).started("p/cheap")  # two calls since the reading: none left
    plan = await r.plan(MESSAGES, ps)
    assert order(plan) == ["p/dear"]
    assert plan.excluded["p/cheap"] == "0 requests left until reset in 4.1 s"
    assert "p/cheap (0 requests left until reset in 4.1 s)" in plan.reason
    clock.now += 4.2
    assert order(await r.plan(MESSAGES, ps))[0] == "p/cheap"  # admitted again after the reset


async def test_unknown_headroom_never_skips() -> None:
    r = router()
    book(r).observe_headroom("p/cheap", Headroom(limit_requests=10), book(r).started("p/cheap"))
    assert order(await r.plan(MESSAGES, providers(cheap=CHEAP, dear=MID)))[0] == "p/cheap"


async def test_too_few_tokens_left_for_this_request_skips() -> None:
    r = router()
    book(r).observe_headroom("p/cheap", Headroom(remaining_tokens=100, reset_tokens=3.0), book(r).started("p/cheap"))
    ps = providers(cheap=CHEAP, dear=MID)
    plan = await r.plan(MESSAGES, ps)  # ~260 tokens expected
    assert order(plan)[0] == "p/dear"
    assert plan.excluded["p/cheap"] == "100 tokens left until reset in 3.0 s"
    assert order(await r.plan(MESSAGES, ps, max_tokens=20))[0] == "p/cheap"


async def test_when_only_low_headroom_stands_in_the_way_the_target_is_still_called() -> None:
    r = router()
    exhausted(r, "p/only")
    plan = await r.plan(MESSAGES, providers(only=CHEAP))
    assert order(plan) == ["p/only"]
    assert "calling despite low headroom" in plan.reason


async def test_headroom_is_ignored_when_adaptive_routing_is_off() -> None:
    r = router(enabled=False)
    exhausted(r, "p/cheap")
    assert order(await r.plan(MESSAGES, providers(cheap=CHEAP, dear=MID)))[0] == "p/cheap"


async def test_a_429_free_route_with_headroom_skips_the_cheap_one_before_it_refuses() -> None:
    """Through execution: the cheap provider's reply says 0 left, so the next request goes elsewhere."""
    zero = RouterMetadata(
        selected_provider="p",
        selected_model="cheap",
        routing_reason="",
        response_time_ms=1.0,
        headroom=Headroom(remaining_requests=0, reset_requests=30.0),
    )
    answer = ChatCompletionResponse(id="x", created=0, model="cheap", choices=[], router_metadata=zero)
    cheap = bare("p", {"cheap": CHEAP}, script={"cheap": [answer, RateLimitError("would be a 429")]})
    dear = bare("q", {"dear": MID})
    r = router()
    ps: dict[str, LLMProvider] = {"p": cheap, "q": dear}
    first = await r.route_request(MESSAGES, ps)
    second = await r.route_request(MESSAGES, ps)
    assert first.router_metadata.selected_model == "cheap"
    assert second.router_metadata.selected_model == "dear"
    assert [c.model for c in cheap.calls] == ["cheap"]  # never asked again, so no 429
    assert "0 requests left until reset in" in second.router_metadata.routing_reason


# ---------------------------------------------------------------------- latency


async def test_fastest_strategy_picks_the_fastest_adequate_target_and_says_why() -> None:
    r = router()
    ps = providers(a=SAME, b=SAME, c=SAME)
    measured(r, "p/a", 480.0)
    measured(r, "p/b", 120.0)
    measured(r, "p/c", 300.0)
    plan = await r.plan(MESSAGES, ps, "fastest")
    assert order(plan) == ["p/b", "p/c", "p/a"]
    assert plan.reason.startswith("fastest: prompt is simple")
    assert "chose p/b (tier 1, est. $0.000529): fastest adequate of 3 eligible" in plan.reason
    assert "p/b: p50 latency 118 ms vs 299 ms (p/c)" in plan.reason


async def test_fastest_ignores_price_within_max_cost_but_not_beyond() -> None:
    r = router()
    ps = providers(cheap=CHEAP, dear=EXPENSIVE)
    measured(r, "p/cheap", 400.0)
    measured(r, "p/dear", 50.0)
    assert order(await r.plan(MESSAGES, ps, "fastest"))[0] == "p/dear"
    assert order(await r.plan(MESSAGES, ps, "fastest", max_cost=0.001))[0] == "p/cheap"
    assert order(await r.plan(MESSAGES, ps))[0] == "p/cheap"  # the default strategy: cost first


async def test_streams_compare_time_to_first_chunk() -> None:
    r = router()
    ps = providers(a=SAME, b=SAME)
    measured(r, "p/a", 100.0, kind="total")
    measured(r, "p/b", 300.0, kind="total")
    measured(r, "p/a", 400.0, kind="ttft")
    measured(r, "p/b", 50.0, kind="ttft")
    assert order(await r.plan(MESSAGES, ps, "fastest"))[0] == "p/a"
    stream = r.route_stream(MESSAGES, ps, "fastest")
    await drain(stream)
    assert stream.metadata is not None
    assert stream.metadata.selected_model == "b"
    assert "p50 TTFT" in stream.metadata.routing_reason


async def test_cost_ties_go_to_the_faster_target() -> None:
    r = router()
    ps = providers(a=SAME, b=NEAR)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/a"  # nothing measured: cheapest
    measured(r, "p/a", 400.0)
    measured(r, "p/b", 100.0)
    plan = await r.plan(MESSAGES, ps)
    assert order(plan)[0] == "p/b"
    assert "p/b: p50 latency" in plan.reason


async def test_a_cheaper_slower_target_keeps_the_traffic_beyond_the_tolerance() -> None:
    r = router()
    ps = providers(slow=HALF, fast=SAME)
    measured(r, "p/slow", 200.0)
    measured(r, "p/fast", 100.0)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/slow"
    wide = router(cost_tolerance=1.0)
    measured(wide, "p/slow", 200.0)
    measured(wide, "p/fast", 100.0)
    assert order(await wide.plan(MESSAGES, ps))[0] == "p/fast"


async def test_latency_objective_excludes_targets_measured_slower() -> None:
    r = router(max_latency_ms=150.0, latency_percentile=0.9)
    ps = providers(slow=HALF, fast=SAME, new=EXPENSIVE)
    measured(r, "p/slow", 200.0)
    measured(r, "p/fast", 100.0)
    plan = await r.plan(MESSAGES, ps)
    assert order(plan)[0] == "p/fast"
    assert plan.excluded["p/slow"].startswith("p90 latency 2")
    assert "> max_latency_ms 150" in plan.excluded["p/slow"]
    assert "p/new" in order(plan)  # unmeasured: kept


async def test_latency_objective_that_nothing_meets_is_a_no_route() -> None:
    r = router(max_latency_ms=50.0)
    measured(r, "p/a", 200.0)
    with pytest.raises(NoRouteError, match="max_latency_ms 50"):
        await r.plan(MESSAGES, providers(a=SAME))


async def test_latency_objective_applies_to_combos() -> None:
    config = RoutingConfig(
        combos={"c": {"targets": ["p/a", "p/b"], "strategy": "priority"}}, adaptive={"max_latency_ms": 150.0}
    )
    r = router(config)
    measured(r, "p/a", 300.0)
    plan = await r.plan(MESSAGES, providers(a=SAME, b=SAME), "c")
    assert order(plan) == ["p/b"]


async def test_cost_combos_prefer_the_faster_of_near_equal_prices() -> None:
    config = RoutingConfig(combos={"c": {"targets": ["p/a", "p/b"], "strategy": "cost"}})
    r = router(config)
    measured(r, "p/a", 300.0)
    measured(r, "p/b", 60.0)
    assert order(await r.plan(MESSAGES, providers(a=SAME, b=SAME), "c")) == ["p/b", "p/a"]


async def test_untried_targets_get_one_probe_at_a_time_not_a_flood() -> None:
    clock = Clock()
    r = router(clock=clock, probe_interval=1.0)
    ps = providers(a=SAME, b=SAME)
    measured(r, "p/a", 100.0)
    plan = await r.plan(MESSAGES, ps)
    assert order(plan)[0] == "p/b"
    assert "p/b: probe call (0 of 3 latency samples)" in plan.reason
    assert order(await r.plan(MESSAGES, ps))[0] == "p/a"  # probed just now: not again
    clock.now += 1.5
    book(r).started("p/b")  # a call to it is in flight
    assert order(await r.plan(MESSAGES, ps))[0] == "p/a"
    book(r).ended("p/b", ok=True)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/b"


async def test_a_target_unmeasured_for_a_while_is_probed_again() -> None:
    clock = Clock()
    r = router(clock=clock, stale_after=30.0)
    ps = providers(a=SAME, b=SAME)
    measured(r, "p/a", 600.0)
    measured(r, "p/b", 100.0)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/b"
    clock.now += 20
    measured(r, "p/b", 100.0)
    clock.now += 20  # a's samples are 40 s old
    assert order(await r.plan(MESSAGES, ps))[0] == "p/a"


async def test_least_busy_breaks_latency_ties() -> None:
    r = router()
    ps = providers(a=SAME, b=SAME)
    measured(r, "p/a", 100.0)
    measured(r, "p/b", 105.0)
    book(r).started("p/a")
    book(r).started("p/a")
    plan = await r.plan(MESSAGES, ps)
    assert order(plan)[0] == "p/b"
    assert "least busy: p/b 0 in flight vs 2 (p/a)" in plan.reason


async def test_least_busy_orders_unmeasured_ties() -> None:
    r = router()
    ps = providers(a=SAME, b=SAME)
    book(r).started("p/a")
    plan = await r.plan(MESSAGES, ps)
    assert order(plan) == ["p/b", "p/a"]
    assert "least busy: p/b 0 in flight vs 1" in plan.reason


async def test_a_slowing_target_holding_most_calls_in_flight_yields() -> None:
    r = router(slow_share=0.5, slow_factor=1.5)
    ps = providers(a=SAME, b=SAME)
    measured(r, "p/a", 50.0, n=40)
    measured(r, "p/b", 200.0, n=40)
    measured(r, "p/a", 150.0, n=4)  # slowing, still the fastest
    assert order(await r.plan(MESSAGES, ps))[0] == "p/a"  # nothing in flight: no cap
    book(r).started("p/a")
    plan = await r.plan(MESSAGES, ps)
    assert order(plan)[0] == "p/b"
    assert "p/a is slowing down with 1 of 1 tied calls in flight" in plan.reason


async def test_error_prone_targets_lose_ties() -> None:
    r = router(max_error_rate=0.5)
    ps = providers(a=SAME, b=SAME)
    measured(r, "p/a", 50.0)
    measured(r, "p/b", 200.0)
    for _ in range(5):
        book(r).started("p/a")
        book(r).ended("p/a", ok=False)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/b"


async def test_when_all_are_healthy_the_cheapest_adequate_still_wins() -> None:
    r = router()
    ps = providers(cheap=CHEAP, mid=MID, dear=EXPENSIVE)
    measured(r, "p/cheap", 900.0)
    measured(r, "p/mid", 50.0)
    measured(r, "p/dear", 10.0)
    plan = await r.plan(MESSAGES, ps)
    assert order(plan)[0] == "p/cheap"
    assert "p50" not in plan.reason


# ---------------------------------------------------------------------- what execution measures


async def test_a_routed_call_leaves_latency_and_no_call_in_flight() -> None:
    r = router()
    provider = bare("p", {"a": SAME}, latency=0.02)
    await r.route_request(MESSAGES, {"p": provider})
    view = r.state.signals.view()
    assert view.samples("p/a", "total") == 1
    assert view.samples("p/a", "per_token") == 1
    assert view.in_flight("p/a") == 0


async def test_calls_in_flight_are_counted_while_they_run() -> None:
    r = router()
    provider = bare("p", {"a": SAME}, latency=0.2)
    task = asyncio.ensure_future(r.route_request(MESSAGES, {"p": provider}))
    await asyncio.sleep(0.05)
    assert r.state.signals.view().in_flight("p/a") == 1
    await task
    assert r.state.signals.view().in_flight("p/a") == 0


async def test_failures_about_the_target_count_as_errors_and_bad_requests_do_not() -> None:
    r = router(min_samples=1)
    flaky = bare("p", {"a": SAME}, script={"a": [ProviderTimeoutError("slow")]})
    steady = bare("q", {"b": MID})
    await r.route_request(MESSAGES, {"p": flaky, "q": steady})
    assert r.state.signals.view().error_rate("p/a") == pytest.approx(0.2)
    bad = bare("x", {"c": SAME}, script={"c": [BadRequestError("no", 400)]})
    with pytest.raises(BadRequestError):
        await r.route_request(MESSAGES, {"x": bad})
    assert r.state.signals.view().error_rate("p/c") is None
    assert r.state.signals.view().in_flight("x/c") == 0


async def test_a_stream_records_its_time_to_first_chunk() -> None:
    r = router()
    provider = bare("p", {"a": SAME}, latency=0.01)
    await drain(r.route_stream(MESSAGES, {"p": provider}))
    view = r.state.signals.view()
    assert view.samples("p/a", "ttft") == 1
    assert view.samples("p/a", "total") == 0
    assert view.in_flight("p/a") == 0


async def test_when_nothing_is_measured_each_tie_gets_a_few_probe_calls_first() -> None:
    r = router(min_samples=2)
    ps = providers(a=SAME, b=SAME)
    first = await r.plan(MESSAGES, ps)
    assert order(first)[0] == "p/a"  # cost order among equals
    measured(r, "p/a", 300.0, n=1)
    second = await r.plan(MESSAGES, ps)
    assert order(second)[0] == "p/b"
    assert "p/b: probe call (0 of 2 latency samples)" in second.reason
    measured(r, "p/b", 100.0, n=2)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/a"  # a: 1 sample, b measured: a's probe is due
    measured(r, "p/a", 300.0, n=1)
    assert order(await r.plan(MESSAGES, ps))[0] == "p/b"  # both measured: the faster
