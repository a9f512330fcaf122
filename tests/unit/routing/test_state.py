"""``state.py`` seen through routing: 429 cooldowns, the circuit breaker and its half-open
trial, and the wait an exhausted route reports."""

from __future__ import annotations

import pytest

from muxer_litellm import (
    FallbackExhaustedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from tests.unit.routing.helpers import (
    MESSAGES,
    Clock,
    called,
    combo,
    make_router,
    order,
    two_providers,
)

# ---------------------------------------------------------------------------- helpers


# ---------------------------------------------------------------------------- 429 cooldowns


async def test_429_with_retry_after_cools_the_target_down_for_that_long() -> None:
    clock = Clock()
    a, _b, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=7), "back"]})
    router = make_router(combo("a/m1", "b/m3"), clock)

    first = await router.route_request(MESSAGES, providers, "c")
    assert first.router_metadata.selected_model == "m3"

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


async def test_429_without_retry_after_uses_rate_limit_cooldown() -> None:
    clock = Clock()
    _, _, providers = two_providers(a_script={"m1": [RateLimitError("429"), "back"]})
    router = make_router(combo("a/m1", "b/m3", rate_limit_cooldown=11), clock)

    await router.route_request(MESSAGES, providers, "c")

    clock.now = 10.9
    assert "a/m1" in (await router.plan(MESSAGES, providers, "c")).excluded
    clock.now = 11.0
    assert order(await router.plan(MESSAGES, providers, "c"))[0] == "a/m1"


async def test_retry_after_above_max_cooldown_is_capped() -> None:
    clock = Clock()
    _, _, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=1000), "back"]})
    router = make_router(combo("a/m1", "b/m3", max_cooldown=50), clock)

    await router.route_request(MESSAGES, providers, "c")

    clock.now = 49.9
    assert "a/m1" in (await router.plan(MESSAGES, providers, "c")).excluded
    clock.now = 50.0
    assert order(await router.plan(MESSAGES, providers, "c"))[0] == "a/m1"


async def test_cooldown_is_per_target_not_per_provider() -> None:
    _, _, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=30)]})
    router = make_router(combo("a/m1", "a/m2", "b/m3"))

    response = await router.route_request(MESSAGES, providers, "c")
    assert response.router_metadata.selected_model == "m2"
    assert order(await router.plan(MESSAGES, providers, "c")) == ["a/m2", "b/m3"]


# ---------------------------------------------------------------------------- breaker


async def test_breaker_opens_after_threshold_consecutive_retryable_failures_and_closes_after_cooldown() -> None:
    clock = Clock()
    a, _, providers = two_providers(a_script={"m1": [ProviderUnavailableError("503", 503)]})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=3, breaker_cooldown=30), clock)
    states = []
    for _ in range(3):
        response = await router.route_request(MESSAGES, providers, "c")
        assert response.router_metadata.selected_model == "m3"
        states.append(router.state.breaker_state("a/m1"))
    assert states == ["closed", "closed", "open"]  # failures below the threshold do not trip it
    assert called(a) == ["m1"] * 3

    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["b/m3"]
    assert "circuit open" in plan.excluded["a/m1"]
    await router.route_request(MESSAGES, providers, "c")
    assert called(a) == ["m1"] * 3  # open: not called

    clock.now = 29.9
    assert router.state.breaker_state("a/m1") == "open"
    clock.now = 30.0
    assert router.state.breaker_state("a/m1") == "half-open"  # the next call is a trial
    a.script["m1"] = ["recovered"]
    response = await router.route_request(MESSAGES, providers, "c")
    assert (response.router_metadata.selected_provider, response.router_metadata.selected_model) == ("a", "m1")
    assert router.state.breaker_state("a/m1") == "closed"


async def test_a_success_resets_the_breaker_count() -> None:
    err = ProviderUnavailableError("503", 503)
    a, _, providers = two_providers(a_script={"m1": [err, err, "ok", err]})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=3))

    for _ in range(2):
        await router.route_request(MESSAGES, providers, "c")
    assert router.state.breaker_state("a/m1") == "closed"

    response = await router.route_request(MESSAGES, providers, "c")  # answers: count reset
    assert response.router_metadata.selected_model == "m1"
    assert router.state.breaker_state("a/m1") == "closed"

    for _ in range(2):
        await router.route_request(MESSAGES, providers, "c")
    assert router.state.breaker_state("a/m1") == "closed"  # 2 < 3 since the success
    await router.route_request(MESSAGES, providers, "c")
    assert router.state.breaker_state("a/m1") == "open"
    assert called(a) == ["m1"] * 6


async def test_breaker_threshold_one_opens_on_the_first_retryable_failure() -> None:
    _, _, providers = two_providers(a_script={"m1": [ProviderTimeoutError("slow")]})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=1))
    await router.route_request(MESSAGES, providers, "c")
    assert router.state.breaker_state("a/m1") == "open"
    assert router.state.breaker_state("b/m3") == "closed"


async def test_a_half_open_breaker_reopens_on_the_first_failed_trial() -> None:
    clock = Clock()
    err = ProviderUnavailableError("503", 503)
    a, _, providers = two_providers(a_script={"m1": [err]})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=3, breaker_cooldown=30), clock)
    for _ in range(3):
        await router.route_request(MESSAGES, providers, "c")
    assert router.state.breaker_state("a/m1") == "open"
    clock.now = 30.0
    assert router.state.breaker_state("a/m1") == "half-open"
    await router.route_request(MESSAGES, providers, "c")  # the trial fails
    assert router.state.breaker_state("a/m1") == "open"
    assert called(a) == ["m1"] * 4


async def test_all_targets_failing_and_cooling_gives_retry_after_on_the_exhausted_error() -> None:
    clock = Clock()
    _, _, providers = two_providers(
        a_script={"m1": [RateLimitError("slow", retry_after=9)]},
        b_script={"m3": [RateLimitError("slow", retry_after=4)]},
    )
    router = make_router(combo("a/m1", "b/m3"), clock)
    with pytest.raises(FallbackExhaustedError) as caught:
        await router.route_request(MESSAGES, providers, "c")
    assert caught.value.retry_after == pytest.approx(4)
    assert caught.value.retryable is True
