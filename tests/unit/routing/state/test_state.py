"""The routing-state rules, one suite for every store (the ``stores`` fixture runs each test on
this process's ``RoutingState`` and on the Redis store): admission, the half-open trial gate,
stale results, burst counting, 429 waits and probes, forced calls, snapshots through the store
interface; then seen through routing: 429 cooldowns, the breaker, breakers that are a request's
last targets, and the wait an exhausted route reports. Time is a fake clock throughout."""

from __future__ import annotations

import asyncio

import pytest

from muxer_litellm import (
    FallbackExhaustedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.errors import NoRouteError
from muxer_litellm.routing import TRIAL_WAIT, RoutingConfig, RoutingState, TargetStatus, Ticket
from muxer_litellm.routing.state.store import RoutingStore
from tests.unit.routing.conftest import Stores
from tests.unit.routing.helpers import (
    MESSAGES,
    Clock,
    bare,
    called,
    combo,
    order,
    two_providers,
)

KEY, PROVIDER = "p/m", "p"


def make_state(stores: Stores, clock: Clock, **settings: float) -> RoutingStore:
    defaults: dict[str, float] = {"breaker_threshold": 3, "breaker_cooldown": 30.0, "max_cooldown": 300.0}
    defaults.update(settings)
    return stores.store(
        clock,
        breaker_threshold=int(defaults["breaker_threshold"]),
        breaker_cooldown=defaults["breaker_cooldown"],
        max_cooldown=defaults["max_cooldown"],
    )


async def ticket(state: RoutingStore, key: str = KEY, *, forced: bool = False) -> Ticket:
    admitted = await state.admit(key, key.split("/")[0], forced=forced)
    assert isinstance(admitted, Ticket), admitted
    return admitted


async def refused(state: RoutingStore, key: str = KEY, *, forced: bool = False) -> TargetStatus:
    admitted = await state.admit(key, key.split("/")[0], forced=forced)
    assert isinstance(admitted, TargetStatus), admitted
    return admitted


async def open_breaker(state: RoutingStore, key: str = KEY) -> None:
    """Sequential failures (each admitted after the last one was counted) up to the threshold."""
    for _ in range(state.local.breaker_threshold):
        await state.record_failure(await ticket(state, key))
    assert await state.breaker_state(key) == "open"


# ---------------------------------------------------------------------------- the store: the breaker


async def test_a_closed_target_admits_plain_tickets(stores: Stores) -> None:
    state = make_state(stores, Clock())
    first, second = await ticket(state), await ticket(state)
    assert (first.trial, first.forced, second.trial) == (False, False, False)
    assert second.seq >= first.seq  # ordered against state changes (a shared store's need not differ)
    assert await state.status(KEY, PROVIDER) is None
    assert (await state.snapshot()).empty


async def test_sequential_failures_open_the_breaker_at_the_threshold(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    assert [await state.record_failure(await ticket(state)) for _ in range(3)] == [False, False, True]
    status = await refused(state)
    assert status == TargetStatus("circuit open after 3 failure(s) in a row, 30.0s left", 30.0, "breaker")
    assert (await state.snapshot()).status(KEY, PROVIDER) == status
    clock.now = 29.9
    assert await state.breaker_state(KEY) == "open"
    clock.now = 30.0
    assert await state.breaker_state(KEY) == "half-open"


async def test_a_burst_of_concurrent_failures_counts_once(stores: Stores) -> None:
    state = make_state(stores, Clock())
    in_flight = [await ticket(state) for _ in range(10)]  # all admitted before any failed
    assert [await state.record_failure(t) for t in in_flight] == [False] * 10
    assert await state.breaker_state(KEY) == "closed"
    # two more failures, each admitted after the last counted one, make three in a row
    assert await state.record_failure(await ticket(state)) is False
    assert await state.record_failure(await ticket(state)) is True


async def test_a_success_resets_the_count(stores: Stores) -> None:
    state = make_state(stores, Clock())
    await state.record_failure(await ticket(state))
    await state.record_failure(await ticket(state))
    await state.record_success(await ticket(state))
    await state.record_failure(await ticket(state))
    await state.record_failure(await ticket(state))
    assert await state.breaker_state(KEY) == "closed"


async def test_half_open_admits_exactly_one_trial_until_it_resolves(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    await open_breaker(state)
    clock.now = 30.0

    trial = await ticket(state)
    assert trial.trial is True
    for _ in range(5):
        assert await refused(state) == TargetStatus(
            "half-open after 'circuit open after 3 failure(s) in a row': a trial call is in flight",
            TRIAL_WAIT,
            "breaker",
            trial_in_flight=True,
        )
    snapshot = await state.snapshot()
    assert snapshot.status(KEY, PROVIDER) is not None  # planning sees the gate taken too

    await state.record_success(trial)
    assert await state.breaker_state(KEY) == "closed"
    assert (await ticket(state)).trial is False


async def test_a_failed_trial_reopens_the_breaker_for_a_full_cooldown(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    await open_breaker(state)
    clock.now = 31.0
    trial = await ticket(state)
    assert await state.record_failure(trial) is True
    assert await refused(state) == TargetStatus("circuit open again after a failed trial, 30.0s left", 30.0, "breaker")


async def test_released_trial_frees_the_gate_for_the_next_one(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    await open_breaker(state)
    clock.now = 30.0
    first = await ticket(state)
    await state.release(first)  # cancelled, or a model-scoped error: nothing learned
    assert await state.breaker_state(KEY) == "half-open"
    second = await ticket(state)
    assert second.trial is True
    assert second.seq != first.seq


async def test_failures_of_calls_in_flight_when_the_breaker_opened_neither_extend_nor_reopen_it(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    late = [await ticket(state) for _ in range(3)]  # in flight while the breaker opens
    await open_breaker(state)
    clock.now = 10.0
    assert [await state.record_failure(t) for t in late] == [False, False, False]
    assert (await refused(state)).remaining == 20.0  # not extended

    clock.now = 30.0
    trial = await ticket(state)
    assert await state.record_failure(late[0]) is False  # still stale: the half-open gate holds
    assert await state.breaker_state(KEY) == "half-open"
    assert (await refused(state)).trial_in_flight is True
    await state.record_success(trial)
    assert await state.breaker_state(KEY) == "closed"


async def test_a_success_of_a_call_in_flight_when_the_breaker_opened_does_not_close_it(stores: Stores) -> None:
    state = make_state(stores, Clock())
    late = await ticket(state)
    await open_breaker(state)
    await state.record_success(late)
    assert await state.breaker_state(KEY) == "open"


# ---------------------------------------------------------------------------- the store: 429 waits


async def test_a_429_blocks_for_its_wait_then_admits_one_probe(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    limited = await ticket(state)
    crowd = [await ticket(state) for _ in range(5)]
    assert await state.cool_down(KEY, 2.0, "rate limited (429)", ticket=limited) == 2.0
    # the crowd was already in flight: its 429s are the same episode and change nothing
    assert [await state.cool_down(KEY, 9.0, "rate limited (429)", ticket=t) for t in crowd] == [0.0] * 5
    assert await refused(state) == TargetStatus("rate limited (429), 2.0s left", 2.0, "rate_limit")

    clock.now = 2.0
    probe = await ticket(state)
    assert probe.trial is True
    assert (await refused(state)).trial_in_flight is True
    await state.record_success(probe)
    assert (await ticket(state)).trial is False


async def test_a_probe_that_is_rate_limited_again_waits_again(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    await state.cool_down(KEY, 2.0, "rate limited (429)", ticket=await ticket(state))
    clock.now = 2.0
    probe = await ticket(state)
    await state.cool_down(KEY, 5.0, "rate limited (429)", ticket=probe)
    assert (await refused(state)).remaining == 5.0


async def test_a_probe_that_fails_otherwise_ends_the_rate_limit_and_counts_as_a_failure(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock, breaker_threshold=2)
    await state.cool_down(KEY, 2.0, "rate limited (429)", ticket=await ticket(state))
    clock.now = 2.0
    assert await state.record_failure(await ticket(state)) is False
    assert await state.breaker_state(KEY) == "closed"
    assert (await ticket(state)).trial is False  # the gate is gone
    assert await state.record_failure(await ticket(state)) is True  # and that was failure 1 of 2


async def test_cool_down_is_capped_and_never_shortens_a_longer_block(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock, max_cooldown=50.0)
    assert await state.cool_down(KEY, 1000.0, "rate limited (429)") == 50.0
    assert await state.cool_down(KEY, 5.0, "rate limited (429)") == 5.0
    assert (await refused(state)).remaining == 50.0


# ---------------------------------------------------------------------------- the store: forced calls, snapshots


async def test_forced_calls_pass_an_open_breaker_but_not_a_429_wait_or_a_down_provider(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    await open_breaker(state)
    forced = await ticket(state, forced=True)
    assert forced.forced is True
    assert await state.record_failure(forced) is False  # no second opening
    assert (await refused(state)).remaining == 30.0
    await state.record_success(await ticket(state, forced=True))  # it works after all: closed
    assert await state.breaker_state(KEY) == "closed"

    await state.cool_down(KEY, 4.0, "rate limited (429)")
    assert (await refused(state, forced=True)).cause == "rate_limit"
    await state.set_provider_health("q", False, "connection refused")
    assert (await refused(state, "q/m", forced=True)).cause == "health"


async def test_snapshot_lists_what_is_blocked_at_one_instant(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    await open_breaker(state, "p/broken")
    await state.cool_down("p/limited", 4.0, "rate limited (429)")
    await state.set_provider_health("down", False, "timeout")
    await state.record_failure(await ticket(state, "p/flaky"))  # one failure: still callable

    snapshot = await state.snapshot()
    assert not snapshot.empty
    assert snapshot.status("p/broken", "p") == TargetStatus(
        "circuit open after 3 failure(s) in a row, 30.0s left", 30.0, "breaker"
    )
    limited = snapshot.status("p/limited", "p")
    assert limited is not None
    assert limited.remaining == 4.0
    assert snapshot.status("p/flaky", "p") is None
    down = snapshot.status("down/any", "down")
    assert down is not None
    assert down.reason == "provider 'down' failed its health check: timeout"

    clock.now = 4.0
    assert snapshot.status("p/limited", "p") is not None  # a snapshot does not move
    assert (await state.snapshot()).status("p/limited", "p") is None  # half-open, no trial yet: callable


async def test_shortest_wait_only_when_every_target_is_blocked(stores: Stores) -> None:
    clock = Clock()
    state = make_state(stores, clock)
    await state.cool_down("p/a", 9.0, "rate limited (429)")
    await state.cool_down("p/b", 4.0, "rate limited (429)")
    assert await state.shortest_wait([("p/a", "p"), ("p/b", "p")]) == 4.0
    assert await state.shortest_wait([("p/a", "p"), ("p/c", "p")]) is None
    assert await state.shortest_wait([]) is None


# ---------------------------------------------------------------------------- 429 cooldowns


async def test_429_with_retry_after_cools_the_target_down_for_that_long(stores: Stores) -> None:
    clock = Clock()
    a, _b, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=7), "back"]})
    router = stores.router(combo("a/m1", "b/m3"), clock)

    first = await router.route_request(MESSAGES, providers, "c")
    assert first.router_metadata.selected_model == "m3"
    limited, answered = first.router_metadata.attempts
    assert (limited.outcome, limited.retry_after, limited.retry_after_source) == ("failed", 7, "proxy")
    assert (answered.retry_after, answered.retry_after_source) == (None, None)

    # still cooling: the plan leaves it out and the next request does not call it
    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["b/m3"]
    assert "rate limited" in plan.excluded["a/m1"]
    second = await router.route_request(MESSAGES, providers, "c")
    assert second.router_metadata.selected_model == "m3"
    assert called(a) == ["m1"]

    clock.now = 6.9
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]

    clock.now = 7.0
    assert order(await router.plan(MESSAGES, providers, "c")) == ["a/m1", "b/m3"]
    third = await router.route_request(MESSAGES, providers, "c")
    assert (third.router_metadata.selected_provider, third.router_metadata.selected_model) == ("a", "m1")
    assert called(a) == ["m1", "m1"]


async def test_429_without_retry_after_uses_rate_limit_cooldown(stores: Stores) -> None:
    clock = Clock()
    _, _, providers = two_providers(a_script={"m1": [RateLimitError("429"), "back"]})
    router = stores.router(combo("a/m1", "b/m3", rate_limit_cooldown=11), clock)

    answer = await router.route_request(MESSAGES, providers, "c")
    limited = answer.router_metadata.attempts[0]
    assert (limited.outcome, limited.retry_after, limited.retry_after_source) == ("failed", 11, "default")

    clock.now = 10.9
    assert "a/m1" in (await router.plan(MESSAGES, providers, "c")).excluded
    clock.now = 11.0
    assert order(await router.plan(MESSAGES, providers, "c"))[0] == "a/m1"


async def test_retry_after_above_max_cooldown_is_capped(stores: Stores) -> None:
    clock = Clock()
    _, _, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=1000), "back"]})
    router = stores.router(combo("a/m1", "b/m3", max_cooldown=50), clock)

    await router.route_request(MESSAGES, providers, "c")

    clock.now = 49.9
    assert "a/m1" in (await router.plan(MESSAGES, providers, "c")).excluded
    clock.now = 50.0
    assert order(await router.plan(MESSAGES, providers, "c"))[0] == "a/m1"


async def test_cooldown_is_per_target_not_per_provider(stores: Stores) -> None:
    _, _, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=30)]})
    router = stores.router(combo("a/m1", "a/m2", "b/m3"))

    response = await router.route_request(MESSAGES, providers, "c")
    assert response.router_metadata.selected_model == "m2"
    assert order(await router.plan(MESSAGES, providers, "c")) == ["a/m2", "b/m3"]


# ---------------------------------------------------------------------------- breaker


async def test_breaker_opens_after_threshold_consecutive_retryable_failures_and_closes_after_cooldown(
    stores: Stores,
) -> None:
    clock = Clock()
    a, _, providers = two_providers(a_script={"m1": [ProviderUnavailableError("503", 503)]})
    router = stores.router(combo("a/m1", "b/m3", breaker_threshold=3, breaker_cooldown=30), clock)
    states = []
    for _ in range(3):
        response = await router.route_request(MESSAGES, providers, "c")
        assert response.router_metadata.selected_model == "m3"
        states.append(await router.store.breaker_state("a/m1"))
    assert states == ["closed", "closed", "open"]  # failures below the threshold do not trip it
    assert called(a) == ["m1"] * 3

    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["b/m3"]
    assert "circuit open" in plan.excluded["a/m1"]
    await router.route_request(MESSAGES, providers, "c")
    assert called(a) == ["m1"] * 3  # open: not called

    clock.now = 29.9
    assert await router.store.breaker_state("a/m1") == "open"
    clock.now = 30.0
    assert await router.store.breaker_state("a/m1") == "half-open"  # the next call is a trial
    a.script["m1"] = ["recovered"]
    response = await router.route_request(MESSAGES, providers, "c")
    assert (response.router_metadata.selected_provider, response.router_metadata.selected_model) == ("a", "m1")
    assert await router.store.breaker_state("a/m1") == "closed"


async def test_a_success_resets_the_breaker_count(stores: Stores) -> None:
    err = ProviderUnavailableError("503", 503)
    a, _, providers = two_providers(a_script={"m1": [err, err, "ok", err]})
    router = stores.router(combo("a/m1", "b/m3", breaker_threshold=3))

    for _ in range(2):
        await router.route_request(MESSAGES, providers, "c")
    assert await router.store.breaker_state("a/m1") == "closed"

    response = await router.route_request(MESSAGES, providers, "c")  # answers: count reset
    assert response.router_metadata.selected_model == "m1"
    assert await router.store.breaker_state("a/m1") == "closed"

    for _ in range(2):
        await router.route_request(MESSAGES, providers, "c")
    assert await router.store.breaker_state("a/m1") == "closed"  # 2 < 3 since the success
    await router.route_request(MESSAGES, providers, "c")
    assert await router.store.breaker_state("a/m1") == "open"
    assert called(a) == ["m1"] * 6


async def test_breaker_threshold_one_opens_on_the_first_retryable_failure(stores: Stores) -> None:
    _, _, providers = two_providers(a_script={"m1": [ProviderTimeoutError("slow")]})
    router = stores.router(combo("a/m1", "b/m3", breaker_threshold=1))
    await router.route_request(MESSAGES, providers, "c")
    assert await router.store.breaker_state("a/m1") == "open"
    assert await router.store.breaker_state("b/m3") == "closed"


async def test_a_half_open_breaker_reopens_on_the_first_failed_trial(stores: Stores) -> None:
    clock = Clock()
    err = ProviderUnavailableError("503", 503)
    a, _, providers = two_providers(a_script={"m1": [err]})
    router = stores.router(combo("a/m1", "b/m3", breaker_threshold=3, breaker_cooldown=30), clock)
    for _ in range(3):
        await router.route_request(MESSAGES, providers, "c")
    assert await router.store.breaker_state("a/m1") == "open"
    clock.now = 30.0
    assert await router.store.breaker_state("a/m1") == "half-open"
    await router.route_request(MESSAGES, providers, "c")  # the trial fails
    assert await router.store.breaker_state("a/m1") == "open"
    assert called(a) == ["m1"] * 4


async def test_all_targets_failing_and_cooling_gives_retry_after_on_the_exhausted_error(stores: Stores) -> None:
    clock = Clock()
    _, _, providers = two_providers(
        a_script={"m1": [RateLimitError("slow", retry_after=9)]},
        b_script={"m3": [RateLimitError("slow", retry_after=4)]},
    )
    router = stores.router(combo("a/m1", "b/m3"), clock)
    with pytest.raises(FallbackExhaustedError) as caught:
        await router.route_request(MESSAGES, providers, "c")
    assert caught.value.retry_after == pytest.approx(4)
    assert caught.value.retryable is True


# ---------------------------------------------------------------------------- breakers and a request's last targets


async def test_when_open_breakers_are_all_that_stands_in_the_way_the_request_still_calls_them(stores: Stores) -> None:
    clock = Clock()
    err = ProviderUnavailableError("503", 503)
    a, _, providers = two_providers(a_script={"m1": [err, "back"]}, b_script={"m3": [err, "back"]})
    router = stores.router(combo("a/m1", "b/m3", breaker_threshold=1), clock)
    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, providers, "c")
    assert await router.store.breaker_state("a/m1") == await router.store.breaker_state("b/m3") == "open"

    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["a/m1", "b/m3"]
    assert all(t.forced for t in plan.candidates)
    assert plan.candidates[0].note == "breaker open, but no other candidate can serve this request"

    response = await router.route_request(MESSAGES, providers, "c")
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("a", "m1")
    assert await router.store.breaker_state("a/m1") == "closed"  # the forced call worked
    assert called(a) == ["m1", "m1"]


async def test_a_429_wait_is_kept_even_beside_an_open_breaker(stores: Stores) -> None:
    clock = Clock()
    _, _, providers = two_providers(
        a_script={"m1": [ProviderUnavailableError("503", 503)]},
        b_script={"m3": [RateLimitError("429", retry_after=3)]},
    )
    router = stores.router(combo("a/m1", "b/m3", breaker_threshold=1), clock)
    with pytest.raises(FallbackExhaustedError) as exhausted:
        await router.route_request(MESSAGES, providers, "c")
    # a/m1's breaker is open for 30 s, b/m3 is free in 3 s: the shortest wait, not the breaker's
    assert exhausted.value.retry_after == 3.0
    assert exhausted.value.retryable is True
    assert str(exhausted.value) == (
        "c: every candidate failed (a/m1: failed (ProviderUnavailableError: 503); b/m3: failed (RateLimitError: 429))"
    )

    clock.now = 1.0
    with pytest.raises(NoRouteError) as waiting:
        await router.route_request(MESSAGES, providers, "c")
    assert waiting.value.retry_after == 2.0
    assert waiting.value.retryable is True
    assert str(waiting.value).startswith(
        "every candidate that could serve this request is cooling down or its provider is down; retry in 2.0s."
    )


async def test_exhausted_retry_after_counts_targets_left_out_at_planning(stores: Stores) -> None:
    clock = Clock()
    a, b, providers = two_providers(
        a_script={"m1": [ProviderUnavailableError("503", 503)]},
        b_script={"m3": [RateLimitError("429", retry_after=5)]},
    )
    router = stores.router(combo("a/m1", "b/m3", breaker_threshold=1, breaker_cooldown=30), clock)
    await router.store.cool_down("b/m3", 5.0, "rate limited (429)")  # left out of the next plan
    clock.now = 4.14

    with pytest.raises(FallbackExhaustedError) as exhausted:
        await router.route_request(MESSAGES, providers, "c")

    assert called(a) == ["m1"]
    assert called(b) == []
    assert exhausted.value.retry_after == pytest.approx(0.86)  # b/m3's wait, not a/m1's 30 s breaker
    assert exhausted.value.retryable is True
    assert [d["model"] for d in exhausted.value.attempts] == ["m1"]


async def test_no_retry_after_while_a_failed_target_is_not_blocked(stores: Stores) -> None:
    _, _, providers = two_providers(
        a_script={"m1": [ProviderUnavailableError("503", 503)]},
        b_script={"m3": [RateLimitError("429", retry_after=5)]},
    )
    router = stores.router(combo("a/m1", "b/m3"))  # one 503 does not open a/m1's breaker
    with pytest.raises(FallbackExhaustedError) as exhausted:
        await router.route_request(MESSAGES, providers, "c")
    assert exhausted.value.retry_after is None


async def test_a_probe_in_flight_makes_the_next_request_wait_for_it(stores: Stores) -> None:
    clock = Clock()
    a, _, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=2), "back"]})
    router = stores.router(combo("a/m1", name="solo"), clock)
    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, providers, "solo")
    clock.now = 2.0
    release = a.hold("m1")
    probe = asyncio.ensure_future(router.route_request(MESSAGES, providers, "solo"))
    await a.wait_for_calls(2)  # the probe is in flight

    with pytest.raises(NoRouteError) as info:
        await router.route_request(MESSAGES, providers, "solo")
    assert info.value.retry_after == TRIAL_WAIT
    assert info.value.retryable is True
    assert info.value.excluded == {"a/m1": "half-open after 'rate limited (429)': a trial call is in flight"}

    release.set()
    assert (await probe).router_metadata.selected_model == "m1"
    assert called(a) == ["m1", "m1"]


async def test_a_trial_taken_while_the_request_waited_on_an_earlier_target_is_skipped_at_call_time(
    stores: Stores,
) -> None:
    clock = Clock()
    a, b, providers = two_providers(
        a_script={"m1": [ProviderUnavailableError("503", 503)]},
        b_script={"m3": [RateLimitError("429", retry_after=2), "back"]},
    )
    config = RoutingConfig(
        combos={"both": {"targets": ["a/m1", "b/m3"]}, "solo": {"targets": ["b/m3"]}}, breaker_threshold=1
    )
    router = stores.router(config, clock)
    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, providers, "solo")  # b/m3 waits 2 s
    clock.now = 2.0  # b/m3 is half-open
    slow_a, slow_b = a.hold("m1"), b.hold("m3")

    first = asyncio.ensure_future(router.route_request(MESSAGES, providers, "both"))  # planned [a/m1, b/m3]
    await a.wait_for_calls(1)
    second = asyncio.ensure_future(router.route_request(MESSAGES, providers, "solo"))  # takes b/m3's trial
    await b.wait_for_calls(2)
    slow_a.set()  # a/m1 fails; b/m3's gate is taken by then

    with pytest.raises(FallbackExhaustedError) as info:
        await first
    assert [(d["model"], d["outcome"], d["detail"]) for d in info.value.attempts][1] == (
        "m3",
        "skipped",
        "half-open after 'rate limited (429)': a trial call is in flight",
    )
    assert info.value.retry_after == TRIAL_WAIT  # a/m1's breaker is open for 30 s, b/m3's trial ends sooner
    slow_b.set()
    assert (await second).router_metadata.selected_model == "m3"
    assert b.call_count("m3") == 2


@pytest.mark.parametrize(("max_attempts", "retry_after"), [(2, None), (3, 2.0)])
async def test_exhausted_retry_after_is_none_while_an_eligible_target_was_left_unplanned(
    stores: Stores, max_attempts: int, retry_after: float | None
) -> None:
    limited = [RateLimitError("429", retry_after=wait) for wait in (4, 2, 6)]
    p = bare("p", {"a": (0.001, 0.001), "b": (0.002, 0.002), "c": (0.003, 0.003)})
    p.script.update({m: [err] for m, err in zip("abc", limited, strict=True)})
    router = stores.router(RoutingConfig(max_attempts=max_attempts))
    with pytest.raises(FallbackExhaustedError) as exhausted:
        await router.route_request(MESSAGES, {"p": p}, "cost_optimized")
    assert called(p) == ["a", "b", "c"][:max_attempts]
    # with 2 attempts, p/c could serve at once; with 3, every target waits and b's 2 s is the shortest
    assert exhausted.value.retry_after == retry_after


# ---------------------------------------------------------------------------- RoutingState only


def test_try_acquire_trial_is_the_gate_alone() -> None:
    clock = Clock()
    state = RoutingState(clock=clock, breaker_threshold=1)
    assert state.try_acquire_trial(KEY) is None  # closed: nothing to try
    state.record_failure(state.admit(KEY, PROVIDER))  # type: ignore[arg-type]
    assert state.try_acquire_trial(KEY) is None  # open
    clock.now = 30.0
    trial = state.try_acquire_trial(KEY)
    assert trial is not None
    assert trial.trial is True
    assert state.try_acquire_trial(KEY) is None  # taken
