"""Combos and fallback through ``HeuristicRouter.route_request`` / ``route_stream``: the four combo
strategies (priority, round_robin, weighted, cost), ``error_action`` and the fallback chain, 429
cooldowns, the circuit breaker, ``router_metadata`` of a routed answer, exhausted and empty routes,
``max_cost`` over a combo, heuristic/cost_optimized fallback along the decision's alternatives,
streaming fallback, configuration errors, ``check_health`` and catalog refreshes.

Costs are derived from the fakes: ``FakeProvider`` answers with 10 prompt and 20 completion tokens
(its stream reports 10 and 5) and prices per 1K tokens. A plan estimates
``estimate_prompt_tokens(messages)`` prompt tokens and, for a simple prompt without ``max_tokens``,
256 output tokens (``RoutingConfig.expected_output_tokens["simple"]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import pytest

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    FallbackExhaustedError,
    ModelNotFoundError,
    NoRouteError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    RoutingConfigError,
)
from muxer_litellm.host import LLMProvider, MessageInput, RouterMetadata
from muxer_litellm.routing import HeuristicRouter, RoutePlan, RoutingConfig, error_action
from muxer_litellm.routing.classify import estimate_prompt_tokens
from tests.unit.routing.helpers import CatalogProvider, FakeProvider, Outcome, card, user

QUESTION = "What is the capital of France?"
MESSAGES = user(QUESTION)
PROMPT_TOKENS, COMPLETION_TOKENS = 10, 20  # what FakeProvider.response reports
STREAM_PROMPT, STREAM_COMPLETION = 10, 5  # what FakeProvider's stream usage reports
SIMPLE_OUTPUT = 256  # expected_output_tokens["simple"], the plan's output estimate

CHEAP = (0.0005, 0.0015)
MID = (0.003, 0.004)
EXPENSIVE = (0.01, 0.03)


# ---------------------------------------------------------------------------- helpers


class Clock:
    """A fake monotonic clock: ``clock.now += 7`` moves time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def combo(
    *targets: str | Mapping[str, Any], strategy: str = "priority", name: str = "c", **fields: Any
) -> RoutingConfig:
    return RoutingConfig(combos={name: {"targets": list(targets), "strategy": strategy}}, **fields)


def make_router(config: RoutingConfig, clock: Clock | None = None, seed: int | None = None) -> HeuristicRouter:
    rng = random.Random(seed) if seed is not None else None
    return HeuristicRouter(config, clock=clock or Clock(), rng=rng)


def called(provider: FakeProvider) -> list[str]:
    return [model for model, _ in provider.calls]


def order(plan: RoutePlan) -> list[str]:
    return [t.key for t in plan.targets]


def answered_cost(price: tuple[float, float]) -> float:
    return (PROMPT_TOKENS * price[0] + COMPLETION_TOKENS * price[1]) / 1000


def planned_cost(price: tuple[float, float], messages: Sequence[MessageInput] = MESSAGES) -> float:
    return (estimate_prompt_tokens(messages) * price[0] + SIMPLE_OUTPUT * price[1]) / 1000


def two_providers(
    a_script: Mapping[str, Sequence[Outcome]] | None = None,
    b_script: Mapping[str, Sequence[Outcome]] | None = None,
) -> tuple[FakeProvider, FakeProvider, dict[str, LLMProvider]]:
    """``a`` offers m1 (cheap) and m2 (mid); ``b`` offers m3 (mid) and m4 (expensive)."""
    a = FakeProvider("native-a", {"m1": CHEAP, "m2": MID}, script=a_script)
    b = FakeProvider("native-b", {"m3": MID, "m4": EXPENSIVE}, script=b_script)
    return a, b, {"a": a, "b": b}


async def drain(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


def attempt_rows(attempts: Sequence[Any]) -> list[tuple[str, str, str, str | None]]:
    rows = []
    for a in attempts:
        d = a if isinstance(a, dict) else a.model_dump()
        rows.append((d["provider"], d["model"], d["outcome"], d["error"]))
    return rows


# ---------------------------------------------------------------------------- combo strategies


async def test_priority_combo_keeps_config_order_not_price_order() -> None:
    a, b, providers = two_providers()
    router = make_router(combo("b/m4", "a/m1", "b/m3"))

    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["b/m4", "a/m1", "b/m3"]
    assert plan.kind == "combo"

    response = await router.route_request(MESSAGES, providers, "c")
    assert (response.router_metadata.selected_provider, response.router_metadata.selected_model) == ("b", "m4")
    assert called(b) == ["m4"]
    assert called(a) == []


async def test_priority_combo_is_the_same_on_every_call() -> None:
    _, _, providers = two_providers()
    router = make_router(combo("a/m2", "b/m3", "a/m1"))
    orders = [order(await router.plan(MESSAGES, providers, "c")) for _ in range(4)]
    assert orders == [["a/m2", "b/m3", "a/m1"]] * 4


async def test_round_robin_start_rotates_per_call_and_wraps() -> None:
    _, _, providers = two_providers()
    targets = ["a/m1", "b/m3", "a/m2"]
    router = make_router(combo(*targets, strategy="round_robin"))

    orders = []
    for _ in range(5):
        orders.append(order(await router.plan(MESSAGES, providers, "c")))
        await router.route_request(MESSAGES, providers, "c")  # a request takes the turn

    expected = [targets[i % 3 :] + targets[: i % 3] for i in range(5)]
    assert orders == expected
    assert [o[0] for o in orders] == ["a/m1", "b/m3", "a/m2", "a/m1", "b/m3"]


async def test_previewing_a_round_robin_plan_does_not_take_a_turn() -> None:
    _, _, providers = two_providers()
    router = make_router(combo("a/m1", "b/m3", strategy="round_robin"))
    previews = [order(await router.plan(MESSAGES, providers, "c"))[0] for _ in range(3)]
    assert previews == ["a/m1"] * 3
    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert f"{meta.selected_provider}/{meta.selected_model}" == "a/m1"
    assert order(await router.plan(MESSAGES, providers, "c"))[0] == "b/m3"


async def test_round_robin_requests_are_answered_by_each_target_in_turn() -> None:
    a, b, providers = two_providers()
    router = make_router(combo("a/m1", "b/m3", "a/m2", strategy="round_robin"))

    answered = []
    for _ in range(4):
        meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
        answered.append(f"{meta.selected_provider}/{meta.selected_model}")

    assert answered == ["a/m1", "b/m3", "a/m2", "a/m1"]
    assert called(a) == ["m1", "m2", "m1"]
    assert called(b) == ["m3"]


async def test_round_robin_turns_are_per_combo() -> None:
    _, _, providers = two_providers()
    config = RoutingConfig(
        combos={
            "x": {"targets": ["a/m1", "b/m3"], "strategy": "round_robin"},
            "y": {"targets": ["b/m4", "a/m2"], "strategy": "round_robin"},
        }
    )
    router = make_router(config)
    first = (await router.route_request(MESSAGES, providers, "x")).router_metadata
    second = (await router.route_request(MESSAGES, providers, "x")).router_metadata
    assert [first.selected_model, second.selected_model] == ["m1", "m3"]
    # y's first call still starts at its own target 0
    assert order(await router.plan(MESSAGES, providers, "y"))[0] == "b/m4"


async def test_weighted_first_pick_share_follows_weights_3_to_1() -> None:
    _, _, providers = two_providers()
    router = make_router(
        combo({"target": "a/m1", "weight": 3}, {"target": "b/m3", "weight": 1}, strategy="weighted"), seed=1234
    )
    n = 2000
    firsts = []
    for _ in range(n):
        plan = await router.plan(MESSAGES, providers, "c")
        assert sorted(order(plan)) == ["a/m1", "b/m3"]  # the other stays as the fallback
        firsts.append(order(plan)[0])

    share = firsts.count("a/m1") / n
    assert 3 / 4 - 0.05 <= share <= 3 / 4 + 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_weighted_target_with_huge_weight_is_nearly_always_first(seed: int) -> None:
    _, _, providers = two_providers()
    router = make_router(
        combo("a/m1", {"target": "b/m4", "weight": 1e6}, "a/m2", strategy="weighted"),
        seed=seed,
    )
    firsts = [order(await router.plan(MESSAGES, providers, "c"))[0] for _ in range(300)]
    assert firsts.count("b/m4") >= 299


async def test_weighted_with_the_same_seed_gives_the_same_orders() -> None:
    _, _, providers = two_providers()
    config = combo("a/m1", "b/m3", "a/m2", "b/m4", strategy="weighted")
    first = make_router(config, seed=42)
    second = make_router(config, seed=42)
    orders1 = [order(await first.plan(MESSAGES, providers, "c")) for _ in range(20)]
    orders2 = [order(await second.plan(MESSAGES, providers, "c")) for _ in range(20)]
    assert orders1 == orders2
    assert len({tuple(o) for o in orders1}) > 1  # it does shuffle


async def test_cost_combo_orders_cheapest_estimate_first_and_unknown_price_last() -> None:
    a = FakeProvider("native-a", {"cheap": CHEAP, "mystery": None})
    b = FakeProvider("native-b", {"mid": MID, "pricey": EXPENSIVE})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/mystery", "b/pricey", "a/cheap", "b/mid", strategy="cost"))

    plan = await router.plan(MESSAGES, providers, "c")

    assert order(plan) == ["a/cheap", "b/mid", "b/pricey", "a/mystery"]
    costs = [t.estimated_cost for t in plan.targets]
    assert costs[:3] == pytest.approx([planned_cost(CHEAP), planned_cost(MID), planned_cost(EXPENSIVE)])
    assert costs[3] is None

    response = await router.route_request(MESSAGES, providers, "c")
    assert (response.router_metadata.selected_provider, response.router_metadata.selected_model) == ("a", "cheap")
    assert called(a) == ["cheap"]
    assert called(b) == []


async def test_cost_combo_falls_back_to_the_next_cheapest() -> None:
    a = FakeProvider("native-a", {"cheap": CHEAP}, script={"cheap": [ProviderUnavailableError("503", 503)]})
    b = FakeProvider("native-b", {"mid": MID, "pricey": EXPENSIVE})
    router = make_router(combo("b/pricey", "b/mid", "a/cheap", strategy="cost"))

    response = await router.route_request(MESSAGES, {"a": a, "b": b}, "c")

    assert response.router_metadata.selected_model == "mid"
    assert called(b) == ["mid"]


# ---------------------------------------------------------------------------- error_action / fallback rules

NEXT_ERRORS = [
    pytest.param(RateLimitError("slow down"), id="rate-limit"),
    pytest.param(ProviderTimeoutError("timed out"), id="timeout"),
    pytest.param(ProviderUnavailableError("bad gateway", 502), id="unavailable-5xx"),
    pytest.param(ProviderError("flaky upstream", 500, retryable=True), id="retryable-provider-error"),
    pytest.param(ModelNotFoundError("no such model", 404), id="model-not-found"),
    pytest.param(ContextWindowExceededError("too long", 400), id="context-window"),
    pytest.param(ContentPolicyError("flagged", 400), id="content-policy"),
]
SKIP_PROVIDER_ERRORS = [
    pytest.param(AuthenticationError("bad key", 401), id="auth"),
    pytest.param(BudgetExceededError("key budget spent", 400), id="budget"),
]
STOP_ERRORS = [
    pytest.param(BadRequestError("bad request", 400), id="bad-request"),
    pytest.param(ProviderError("teapot", 418), id="plain-provider-error"),
    pytest.param(ProviderError("refused", 500, retryable=False), id="non-retryable-provider-error"),
    pytest.param(BadRequestError("bad but retryable?", 400, retryable=True), id="bad-request-marked-retryable"),
]


@pytest.mark.parametrize(
    ("exc", "action"),
    [
        *[pytest.param(p.values[0], "next", id=p.id) for p in NEXT_ERRORS],
        *[pytest.param(p.values[0], "skip_provider", id=p.id) for p in SKIP_PROVIDER_ERRORS],
        *[pytest.param(p.values[0], "stop", id=p.id) for p in STOP_ERRORS],
    ],
)
def test_error_action_table(exc: ProviderError, action: str) -> None:
    assert error_action(exc) == action


@pytest.mark.parametrize("exc", NEXT_ERRORS)
async def test_retryable_and_model_scoped_errors_fall_back_to_the_next_target(exc: ProviderError) -> None:
    a, b, providers = two_providers(a_script={"m1": [exc]})
    router = make_router(combo("a/m1", "a/m2", "b/m3"))

    response = await router.route_request(MESSAGES, providers, "c")

    meta = response.router_metadata
    # the same provider's next model is tried: these errors are about this model only
    assert (meta.selected_provider, meta.selected_model) == ("a", "m2")
    assert called(a) == ["m1", "m2"]
    assert called(b) == []
    assert attempt_rows(meta.attempts) == [
        ("a", "m1", "failed", type(exc).__name__),
        ("a", "m2", "ok", None),
    ]


@pytest.mark.parametrize("exc", SKIP_PROVIDER_ERRORS)
async def test_auth_and_budget_errors_skip_that_providers_other_targets_but_try_another_provider(
    exc: ProviderError,
) -> None:
    a, b, providers = two_providers(a_script={"m1": [exc]})
    router = make_router(combo("a/m1", "a/m2", "b/m3"))

    response = await router.route_request(MESSAGES, providers, "c")

    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("b", "m3")
    assert called(a) == ["m1"]  # m2 shares the refused credentials/budget
    assert called(b) == ["m3"]
    assert attempt_rows(meta.attempts) == [
        ("a", "m1", "failed", type(exc).__name__),
        ("a", "m2", "skipped", None),
        ("b", "m3", "ok", None),
    ]
    skipped = meta.attempts[1]
    assert skipped.detail is not None
    assert type(exc).__name__ in skipped.detail


@pytest.mark.parametrize("exc", STOP_ERRORS)
async def test_request_errors_are_raised_at_once_and_later_targets_never_called(exc: ProviderError) -> None:
    a, b, providers = two_providers(a_script={"m1": [exc]})
    router = make_router(combo("a/m1", "b/m3", "a/m2"))

    with pytest.raises(type(exc)) as info:
        await router.route_request(MESSAGES, providers, "c")

    assert info.value is exc
    assert called(a) == ["m1"]
    assert called(b) == []


@pytest.mark.parametrize("exc", [ValueError("bug in a provider"), KeyError("oops"), RuntimeError("boom")])
async def test_non_provider_exceptions_propagate_without_fallback(exc: Exception) -> None:
    _a, b, providers = two_providers(a_script={"m1": [exc]})
    router = make_router(combo("a/m1", "b/m3"))

    with pytest.raises(type(exc)) as info:
        await router.route_request(MESSAGES, providers, "c")

    assert info.value is exc
    assert called(b) == []


async def test_fallback_chain_goes_through_several_failures_in_order() -> None:
    _a, _b, providers = two_providers(
        a_script={"m1": [RateLimitError("429")], "m2": [ModelNotFoundError("gone", 404)]},
        b_script={"m3": [ProviderTimeoutError("slow")]},
    )
    router = make_router(combo("a/m1", "a/m2", "b/m3", "b/m4"))

    response = await router.route_request(MESSAGES, providers, "c")

    assert response.router_metadata.selected_model == "m4"
    assert attempt_rows(response.router_metadata.attempts) == [
        ("a", "m1", "failed", "RateLimitError"),
        ("a", "m2", "failed", "ModelNotFoundError"),
        ("b", "m3", "failed", "ProviderTimeoutError"),
        ("b", "m4", "ok", None),
    ]
    assert "after 3 failed attempt(s)" in response.router_metadata.routing_reason


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


# ---------------------------------------------------------------------------- router_metadata


async def test_router_metadata_records_the_fallback_and_costs() -> None:
    alpha = FakeProvider("native-alpha", {"m1": CHEAP}, script={"m1": [ProviderUnavailableError("503", 503)]})
    beta = FakeProvider("native-beta", {"m2": MID})
    router = make_router(combo("alpha/m1", "beta/m2", name="mix"))

    response = await router.route_request(MESSAGES, {"alpha": alpha, "beta": beta}, "mix")

    meta = response.router_metadata
    assert meta.selected_provider == "beta"  # the providers-dict key, not provider_name
    assert meta.selected_model == "m2"
    assert meta.routing_strategy == "mix"
    assert "mix" in meta.routing_reason
    assert "answered by beta/m2 after 1 failed attempt(s)" in meta.routing_reason
    assert [(a.provider, a.model, a.outcome, a.error) for a in meta.attempts] == [
        ("alpha", "m1", "failed", "ProviderUnavailableError"),
        ("beta", "m2", "ok", None),
    ]
    assert meta.attempts[0].cost is None
    assert meta.attempts[1].cost == pytest.approx(answered_cost(MID))
    assert meta.estimated_cost == pytest.approx(answered_cost(MID))
    assert meta.total_cost == pytest.approx(answered_cost(MID))  # the failed call counts 0
    assert all(a.duration_ms is not None and a.duration_ms >= 0 for a in meta.attempts)


async def test_router_metadata_without_fallback_has_one_ok_attempt() -> None:
    _a, _, providers = two_providers()
    router = make_router(combo("a/m1", "b/m3"))
    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert attempt_rows(meta.attempts) == [("a", "m1", "ok", None)]
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP))
    assert "failed attempt" not in meta.routing_reason


async def test_total_cost_is_none_when_the_answering_call_cost_is_unknown() -> None:
    a = FakeProvider("native-a", {"known": CHEAP}, script={"known": [ProviderUnavailableError("503", 503)]})
    b = FakeProvider("native-b", {"mystery": None})
    router = make_router(combo("a/known", "b/mystery"))

    meta = (await router.route_request(MESSAGES, {"a": a, "b": b}, "c")).router_metadata

    assert meta.selected_model == "mystery"
    assert meta.estimated_cost is None
    assert meta.attempts[-1].cost is None
    assert meta.total_cost is None  # unknown, never read as free


# ---------------------------------------------------------------------------- exhausted / no route


@pytest.mark.parametrize(
    ("last", "retryable"),
    [
        (ProviderUnavailableError("503", 503), True),
        (RateLimitError("429", retry_after=2), True),
        (ModelNotFoundError("gone", 404), False),
        (ContextWindowExceededError("too long", 400), False),
    ],
)
async def test_all_targets_fail_raises_fallback_exhausted_mirroring_the_last_error(
    last: ProviderError, retryable: bool
) -> None:
    first = ProviderTimeoutError("slow")
    a, b, providers = two_providers(a_script={"m1": [first]}, b_script={"m3": [last]})
    router = make_router(combo("a/m1", "b/m3"))

    with pytest.raises(FallbackExhaustedError) as info:
        await router.route_request(MESSAGES, providers, "c")

    err = info.value
    assert err.last_error is last
    assert err.__cause__ is last
    assert err.retryable is retryable
    assert err.status_code == last.status_code
    assert [(d["provider"], d["model"], d["outcome"], d["error"]) for d in err.attempts] == [
        ("a", "m1", "failed", "ProviderTimeoutError"),
        ("b", "m3", "failed", type(last).__name__),
    ]
    assert called(a) == ["m1"]
    assert called(b) == ["m3"]


async def test_all_targets_cooling_down_raises_no_route_with_the_shortest_wait() -> None:
    clock = Clock()
    _, _, providers = two_providers(
        a_script={"m1": [RateLimitError("429", retry_after=4)]},
        b_script={"m3": [RateLimitError("429", retry_after=9)]},
    )
    router = make_router(combo("a/m1", "b/m3"), clock)

    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, providers, "c")

    clock.now = 1.0
    with pytest.raises(NoRouteError) as info:
        await router.route_request(MESSAGES, providers, "c")
    err = info.value
    assert err.retry_after == pytest.approx(3.0)
    assert err.retryable is True
    assert set(err.excluded) == {"a/m1", "b/m3"}


async def test_combo_target_of_an_unregistered_provider_is_skipped_with_the_reason() -> None:
    _a, _, providers = two_providers()
    router = make_router(combo("ghost/m0", "a/m1"))

    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["a/m1"]
    assert "'ghost' is not registered" in plan.excluded["ghost/m0"]

    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("a", "m1")
    assert "ghost/m0" in meta.routing_reason
    assert "not registered" in meta.routing_reason


async def test_combo_of_only_unregistered_providers_is_a_config_error() -> None:
    _, _, providers = two_providers()
    router = make_router(combo("ghost/m0", "phantom/m9"))
    with pytest.raises(RoutingConfigError) as info:
        await router.route_request(MESSAGES, providers, "c")
    message = str(info.value)
    assert "'ghost' is not registered" in message
    assert "'phantom' is not registered" in message


# ---------------------------------------------------------------------------- heuristic / cost_optimized fallback


@pytest.mark.parametrize("strategy", ["heuristic", "cost_optimized"])
async def test_builtin_strategies_fall_back_along_the_alternatives_up_to_max_attempts(strategy: str) -> None:
    err = ProviderUnavailableError("503", 503)
    p = FakeProvider(
        "native",
        {"d": (0.004, 0.004), "a": (0.001, 0.001), "c": (0.003, 0.003), "b": (0.002, 0.002)},
        script={m: [err] for m in "abcd"},
    )
    router = make_router(RoutingConfig(max_attempts=3))

    with pytest.raises(FallbackExhaustedError) as info:
        await router.route_request(MESSAGES, {"p": p}, strategy)

    assert called(p) == ["a", "b", "c"]  # cheapest first, then the alternatives; d never
    assert [d["model"] for d in info.value.attempts] == ["a", "b", "c"]
    assert info.value.last_error is err


@pytest.mark.parametrize("strategy", ["heuristic", "cost_optimized"])
async def test_builtin_strategy_answer_after_a_failure_records_both_attempts(strategy: str) -> None:
    p = FakeProvider("native", {"a": CHEAP, "b": (0.001, 0.002)}, script={"a": [RateLimitError("429")]})
    router = make_router(RoutingConfig())

    meta = (await router.route_request(MESSAGES, {"p": p}, strategy)).router_metadata

    assert meta.selected_model == "b"
    assert meta.routing_strategy == strategy
    assert attempt_rows(meta.attempts) == [("p", "a", "failed", "RateLimitError"), ("p", "b", "ok", None)]
    assert meta.total_cost == pytest.approx(answered_cost((0.001, 0.002)))


async def test_max_attempts_one_means_no_fallback() -> None:
    p = FakeProvider("native", {"a": CHEAP, "b": MID}, script={"a": [ProviderTimeoutError("slow")]})
    router = make_router(RoutingConfig(max_attempts=1))
    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, {"p": p}, "cost_optimized")
    assert called(p) == ["a"]


async def test_builtin_strategy_stops_on_bad_request() -> None:
    p = FakeProvider("native", {"a": CHEAP, "b": MID}, script={"a": [BadRequestError("bad", 400)]})
    with pytest.raises(BadRequestError):
        await make_router(RoutingConfig()).route_request(MESSAGES, {"p": p}, "heuristic")
    assert called(p) == ["a"]


# ---------------------------------------------------------------------------- max_cost with a combo


async def test_max_cost_excludes_combo_targets_over_budget() -> None:
    _a, b, providers = two_providers()
    router = make_router(combo("b/m4", "a/m1", "b/m3"))
    budget = (planned_cost(MID) + planned_cost(EXPENSIVE)) / 2  # m1 and m3 fit, m4 does not

    plan = await router.plan(MESSAGES, providers, "c", max_cost=budget)
    assert order(plan) == ["a/m1", "b/m3"]
    assert "max_cost" in plan.excluded["b/m4"]

    meta = (await router.route_request(MESSAGES, providers, "c", max_cost=budget)).router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("a", "m1")
    assert called(b) == []


async def test_max_cost_excludes_unknown_price_combo_targets() -> None:
    a = FakeProvider("native-a", {"mystery": None, "cheap": CHEAP})
    router = make_router(combo("a/mystery", "a/cheap"))
    plan = await router.plan(MESSAGES, {"a": a}, "c", max_cost=1.0)
    assert order(plan) == ["a/cheap"]
    assert "price unknown" in plan.excluded["a/mystery"]


async def test_cooling_target_within_budget_makes_no_route_a_wait_not_a_budget_error() -> None:
    clock = Clock()
    _, _, providers = two_providers(a_script={"m1": [RateLimitError("429", retry_after=10), "back"]})
    router = make_router(combo("a/m1", "b/m4"), clock)
    await router.route_request(MESSAGES, providers, "c")  # a/m1 429s, b/m4 answers; a/m1 cools 10s
    budget = (planned_cost(CHEAP) + planned_cost(EXPENSIVE)) / 2  # only a/m1 fits

    clock.now = 4.0
    with pytest.raises(NoRouteError) as info:
        await router.route_request(MESSAGES, providers, "c", max_cost=budget)
    assert not isinstance(info.value, BudgetExceededError)
    assert info.value.retry_after == pytest.approx(6.0)
    assert info.value.retryable is True

    clock.now = 10.0
    meta = (await router.route_request(MESSAGES, providers, "c", max_cost=budget)).router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("a", "m1")


async def test_max_cost_below_every_combo_target_raises_budget_exceeded() -> None:
    a, b, providers = two_providers()
    router = make_router(combo("b/m4", "a/m2"))
    budget = planned_cost(MID) / 2

    with pytest.raises(BudgetExceededError) as info:
        await router.route_request(MESSAGES, providers, "c", max_cost=budget)

    assert "max_cost" in str(info.value)
    assert called(a) == []
    assert called(b) == []


# ---------------------------------------------------------------------------- route_stream


class HalfStream(FakeProvider):
    """Streams one content chunk, then fails: too late for a fallback."""

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        self.stream_calls.append(model)
        yield {"object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": {"content": "Pa"}}]}
        raise ProviderUnavailableError("upstream dropped the stream", 502)


class BareStream(FakeProvider):
    """Streams content chunks with no router_metadata (a host provider may), and records closing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened = 0
        self.finished = 0  # generators that ran their finally (closed or exhausted)

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        self.stream_calls.append(model)
        self.opened += 1
        try:
            for word in ("Paris", "is", "the", "capital"):
                yield {
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": word}}],
                }
        finally:
            self.finished += 1


def content(chunks: Sequence[dict[str, Any]]) -> list[str]:
    return [c["choices"][0]["delta"]["content"] for c in chunks if c.get("choices")]


async def test_stream_falls_back_when_the_first_target_fails_before_the_first_chunk() -> None:
    a, b, providers = two_providers(
        a_script={"m1": [RateLimitError("429", retry_after=3)]}, b_script={"m3": ["Paris it is"]}
    )
    router = make_router(combo("a/m1", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, providers, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    assert content(chunks) == ["Paris", "it", "is"]
    metas = [c["router_metadata"] for c in chunks if "router_metadata" in c]
    assert len(metas) == 1
    meta = metas[0]
    assert meta["selected_provider"] == "b"
    assert meta["selected_model"] == "m3"
    assert meta["routing_strategy"] == "c"
    assert "after 1 failed attempt(s)" in meta["routing_reason"]
    assert attempt_rows(meta["attempts"]) == [("a", "m1", "failed", "RateLimitError"), ("b", "m3", "ok", None)]
    stream_cost = (STREAM_PROMPT * MID[0] + STREAM_COMPLETION * MID[1]) / 1000
    assert meta["attempts"][1]["cost"] == pytest.approx(stream_cost)
    assert meta["estimated_cost"] == pytest.approx(stream_cost)
    assert meta["total_cost"] == pytest.approx(stream_cost)
    # the 429 cooled a/m1 down for the next request
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]


async def test_stream_error_after_the_first_chunk_propagates_and_no_other_target_is_called() -> None:
    a = HalfStream("native-a", {"m1": CHEAP})
    b = FakeProvider("native-b", {"m3": MID})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=1))

    received: list[dict[str, Any]] = []
    with pytest.raises(ProviderUnavailableError):
        async for chunk in router.route_stream(MESSAGES, {"a": a, "b": b}, "c"):
            received.append(chunk)

    assert content(received) == ["Pa"]
    assert b.stream_calls == []
    assert b.calls == []
    assert router.state.breaker_state("a/m1") == "open"  # the state still learned from it


async def test_stream_without_router_metadata_gets_a_trailer_chunk_with_the_routing_fields() -> None:
    a = BareStream("native-a", {"m1": CHEAP})
    router = make_router(combo("a/m1", name="solo"))

    chunks = await drain(router.route_stream(MESSAGES, {"a": a}, "solo"))

    assert content(chunks) == ["Paris", "is", "the", "capital"]
    trailer = chunks[-1]
    assert trailer["choices"] == []
    assert trailer["model"] == "m1"
    meta = trailer["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"], meta["routing_strategy"]) == ("a", "m1", "solo")
    assert meta["estimated_cost"] is None
    assert attempt_rows(meta["attempts"]) == [("a", "m1", "ok", None)]
    assert all("router_metadata" not in c for c in chunks[:-1])
    assert a.finished == 1
    RouterMetadata.model_validate(meta)  # the trailer's metadata is a valid host RouterMetadata
    assert meta["cost_source"] == "unknown"


async def test_stream_closes_the_underlying_generator_when_the_consumer_stops_early() -> None:
    a = BareStream("native-a", {"m1": CHEAP})
    router = make_router(combo("a/m1"))

    async with contextlib.aclosing(router.route_stream(MESSAGES, {"a": a}, "c")) as stream:
        first = await anext(stream)
        assert content([first]) == ["Paris"]
        assert a.finished == 0

    assert a.opened == 1
    assert a.finished == 1


async def test_stream_through_a_cascade_is_a_bad_request() -> None:
    a, b, providers = two_providers()
    router = make_router(RoutingConfig())
    with pytest.raises(BadRequestError, match="cascade"):
        await drain(router.route_stream(MESSAGES, providers, "cascade"))
    assert a.stream_calls == b.stream_calls == []


async def test_stream_with_every_target_failing_before_output_raises_fallback_exhausted() -> None:
    _, _, providers = two_providers(
        a_script={"m1": [ProviderUnavailableError("503", 503)]}, b_script={"m3": [ProviderTimeoutError("slow")]}
    )
    router = make_router(combo("a/m1", "b/m3"))
    with pytest.raises(FallbackExhaustedError) as info:
        await drain(router.route_stream(MESSAGES, providers, "c"))
    assert [d["error"] for d in info.value.attempts] == ["ProviderUnavailableError", "ProviderTimeoutError"]
    assert info.value.retryable is True


async def test_stream_stops_on_a_bad_request_before_the_first_chunk() -> None:
    _a, b, providers = two_providers(a_script={"m1": [BadRequestError("bad", 400)]})
    router = make_router(combo("a/m1", "b/m3"))
    with pytest.raises(BadRequestError):
        await drain(router.route_stream(MESSAGES, providers, "c"))
    assert b.stream_calls == []


class EagerStream(FakeProvider):
    """A host provider whose ``stream_chat_completion`` is a plain ``def`` (as the ABC declares it)
    that checks before returning a generator, so it can raise when called, before any chunk."""

    def stream_chat_completion(  # type: ignore[override]
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        self.stream_calls.append(model)
        raise ProviderUnavailableError("connection refused", 503)


async def test_stream_skips_the_rest_of_a_provider_that_refused_our_key() -> None:
    a, b, providers = two_providers(a_script={"m1": [AuthenticationError("bad key", 401)]})
    router = make_router(combo("a/m1", "a/m2", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, providers, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    meta = next(c["router_metadata"] for c in chunks if "router_metadata" in c)
    assert attempt_rows(meta["attempts"]) == [
        ("a", "m1", "failed", "AuthenticationError"),
        ("a", "m2", "skipped", None),
        ("b", "m3", "ok", None),
    ]


async def test_stream_falls_back_when_opening_the_stream_raises_before_any_chunk() -> None:
    a = EagerStream("native-a", {"m1": CHEAP})
    b = FakeProvider("native-b", {"m3": MID})
    router = make_router(combo("a/m1", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, {"a": a, "b": b}, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    meta = next(c["router_metadata"] for c in chunks if "router_metadata" in c)
    assert attempt_rows(meta["attempts"]) == [
        ("a", "m1", "failed", "ProviderUnavailableError"),
        ("b", "m3", "ok", None),
    ]


# ---------------------------------------------------------------------------- request validation and kwargs


async def test_route_request_refuses_stream_true() -> None:
    a, b, providers = two_providers()
    with pytest.raises(BadRequestError, match="route_stream"):
        await make_router(combo("a/m1")).route_request(MESSAGES, providers, "c", stream=True)
    assert a.calls == b.calls == []


async def test_unknown_strategy_is_a_config_error_listing_the_valid_names() -> None:
    _, _, providers = two_providers()
    router = make_router(combo("a/m1", name="fast"))
    with pytest.raises(RoutingConfigError) as info:
        await router.route_request(MESSAGES, providers, "fastest")
    message = str(info.value)
    assert "'fastest'" in message
    for name in ("heuristic", "cost_optimized", "cascade", "hybrid", "fast"):
        assert name in message


@pytest.mark.parametrize("strategy", ["c", "heuristic", "cost_optimized"])
async def test_empty_providers_is_a_config_error(strategy: str) -> None:
    with pytest.raises(RoutingConfigError, match="providers is empty"):
        await make_router(combo("a/m1")).route_request(MESSAGES, {}, strategy)


async def test_kwargs_are_passed_through_to_every_called_target() -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    _, _, providers = two_providers(a_script={"m1": [ProviderUnavailableError("503", 503)]})
    a, b = providers["a"], providers["b"]
    assert isinstance(a, FakeProvider)
    assert isinstance(b, FakeProvider)
    router = make_router(combo("a/m1", "b/m3"))

    await router.route_request(MESSAGES, providers, "c", temperature=0.3, max_tokens=50, tools=tools)

    expected = {"max_tokens": 50, "temperature": 0.3, "tools": tools}
    assert a.calls == [("m1", expected)]
    assert b.calls == [("m3", expected)]


async def test_default_strategy_from_config_is_used_when_none_given() -> None:
    _a, _b, providers = two_providers()
    config = RoutingConfig(combos={"pinned": {"targets": ["b/m4"]}}, default_strategy="pinned")
    meta = (await make_router(config).route_request(MESSAGES, providers)).router_metadata
    assert (meta.selected_provider, meta.selected_model, meta.routing_strategy) == ("b", "m4", "pinned")


# ---------------------------------------------------------------------------- check_health


class RaisingHealth(FakeProvider):
    async def health_check(self) -> bool:
        raise ProviderUnavailableError("connection refused")


class CrashingHealth(FakeProvider):
    async def health_check(self) -> bool:
        raise RuntimeError("bug in a health check")


@pytest.mark.parametrize(
    "make_a",
    [
        pytest.param(lambda: FakeProvider("native-a", {"m1": CHEAP}, healthy=False), id="returns-false"),
        pytest.param(lambda: RaisingHealth("native-a", {"m1": CHEAP}), id="raises-provider-error"),
        pytest.param(lambda: CrashingHealth("native-a", {"m1": CHEAP}), id="raises-other-error"),
    ],
)
async def test_failed_health_check_excludes_the_provider_for_health_ttl(make_a: Callable[[], FakeProvider]) -> None:
    clock = Clock()
    a = make_a()
    b = FakeProvider("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/m1", "b/m3", health_ttl=20), clock)

    assert await router.check_health(providers) == {"a": False, "b": True}

    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["b/m3"]
    assert "health check" in plan.excluded["a/m1"]
    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert meta.selected_provider == "b"
    assert called(a) == []

    clock.now = 19.9
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]
    clock.now = 20.0
    assert order(await router.plan(MESSAGES, providers, "c")) == ["a/m1", "b/m3"]


async def test_a_later_passing_health_check_readmits_the_provider_before_the_ttl() -> None:
    clock = Clock()
    a = FakeProvider("native-a", {"m1": CHEAP}, healthy=False)
    b = FakeProvider("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/m1", "b/m3", health_ttl=60), clock)

    await router.check_health(providers)
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]

    clock.now = 1.0
    a.healthy = True
    assert await router.check_health(providers) == {"a": True, "b": True}
    assert order(await router.plan(MESSAGES, providers, "c")) == ["a/m1", "b/m3"]
    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert meta.selected_provider == "a"


async def test_unhealthy_provider_is_skipped_by_cost_optimized_routing_too() -> None:
    a = FakeProvider("native-a", {"cheapest": (0.0001, 0.0001)}, healthy=False)
    b = FakeProvider("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(RoutingConfig())
    await router.check_health(providers)

    meta = (await router.route_request(MESSAGES, providers, "cost_optimized")).router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("b", "m3")
    assert called(a) == []


async def test_health_exclusion_reason_carries_the_providers_last_health_error() -> None:
    a = FakeProvider("native-a", {"m1": CHEAP}, healthy=False)
    a.last_health_error = "HTTP 503 from /health/liveliness"  # type: ignore[attr-defined]
    b = FakeProvider("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/m1", "b/m3"))
    await router.check_health(providers)

    plan = await router.plan(MESSAGES, providers, "c")
    assert "HTTP 503 from /health/liveliness" in plan.excluded["a/m1"]


async def test_every_provider_unhealthy_raises_no_route_with_retry_after() -> None:
    clock = Clock()
    a = FakeProvider("native-a", {"m1": CHEAP}, healthy=False)
    router = make_router(combo("a/m1", health_ttl=20), clock)
    await router.check_health({"a": a})
    clock.now = 5.0
    with pytest.raises(NoRouteError) as info:
        await router.route_request(MESSAGES, {"a": a}, "c")
    assert info.value.retry_after == pytest.approx(15.0)


# ---------------------------------------------------------------------------- catalog refresh


class FailingRefresh(CatalogProvider):
    async def refresh_models(self, *, force: bool = False) -> list[Any]:
        self.refreshes += 1
        raise ProviderUnavailableError("proxy down while refreshing", 503)


@pytest.mark.parametrize("strategy", ["c", "heuristic", "cost_optimized"])
async def test_route_request_refreshes_catalogs(strategy: str) -> None:
    cat = CatalogProvider("proxy", [card("chat", *CHEAP), card("big", *MID)])
    native = FakeProvider("native", {"m3": MID})
    providers: dict[str, LLMProvider] = {"proxy": cat, "native": native}
    router = make_router(combo("proxy/chat", "native/m3"))

    await router.route_request(MESSAGES, providers, strategy)
    assert cat.refreshes == 1
    await router.route_request(MESSAGES, providers, strategy)
    assert cat.refreshes == 2
    assert called(cat) == ["chat", "chat"]


async def test_failed_catalog_refresh_does_not_break_routing() -> None:
    cat = FailingRefresh("proxy", [card("chat", *CHEAP)])
    native = FakeProvider("native", {"m3": MID})
    providers: dict[str, LLMProvider] = {"proxy": cat, "native": native}
    router = make_router(combo("proxy/chat", "native/m3"))

    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata

    assert cat.refreshes == 1
    assert (meta.selected_provider, meta.selected_model) == ("proxy", "chat")
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP))


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


class HangingHealth(FakeProvider):
    async def health_check(self) -> bool:
        await asyncio.Event().wait()  # never set: the router's timeout must end it
        return True


async def test_check_health_bounds_a_hanging_provider_and_names_the_cause() -> None:
    slow = HangingHealth("slow", {"m1": CHEAP})
    fine = FakeProvider("fine", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": slow, "b": fine}
    router = HeuristicRouter(RoutingConfig(health_check_timeout=0.05))
    assert await router.check_health(providers) == {"a": False, "b": True}
    plan = await router.plan(MESSAGES, providers, "heuristic")
    assert order(plan) == ["b/m3"]
    assert "health_check() took longer than 0.05s" in plan.excluded["a/m1"]


async def test_a_raising_health_check_puts_the_exception_in_the_exclusion_reason() -> None:
    class Broken(FakeProvider):
        async def health_check(self) -> bool:
            raise RuntimeError("socket exploded")

    providers: dict[str, LLMProvider] = {"a": Broken("x", {"m1": CHEAP}), "b": FakeProvider("y", {"m3": MID})}
    router = HeuristicRouter()
    await router.check_health(providers)
    plan = await router.plan(MESSAGES, providers, "heuristic")
    assert "health_check() raised RuntimeError: socket exploded" in plan.excluded["a/m1"]


async def test_an_empty_catalog_after_a_failed_refresh_says_why() -> None:
    class DeadProxy(CatalogProvider):
        async def refresh_models(self, *, force: bool = False) -> list[Any]:
            raise ProviderUnavailableError("LiteLLM proxy not reachable at http://127.0.0.1:9")

    providers: dict[str, LLMProvider] = {"litellm": DeadProxy("litellm", [])}
    with pytest.raises(NoRouteError, match=r"catalog refresh failed \(litellm: ProviderUnavailableError: LiteLLM"):
        await HeuristicRouter().route_request(MESSAGES, providers, "heuristic")
