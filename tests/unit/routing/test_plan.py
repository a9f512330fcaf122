"""``plan.py``: the four combo orders (priority, round_robin, weighted, cost), combos naming
unregistered providers, ``max_cost`` over a combo, and exact token counts near a context window
(``TokenCounter`` providers asked only where the estimate decides)."""

from __future__ import annotations

import asyncio

import pytest

from muxer_litellm import (
    BudgetExceededError,
    NoRouteError,
    ProviderUnavailableError,
    RateLimitError,
    RoutingConfigError,
)
from muxer_litellm.host import LLMProvider, MessageInput
from muxer_litellm.routing import (
    HeuristicRouter,
    RoutingConfig,
    estimate_prompt_tokens,
)
from muxer_litellm.testing import FakeProvider
from tests.unit.routing.helpers import (
    CHEAP,
    EXPENSIVE,
    MESSAGES,
    MID,
    Clock,
    bare,
    called,
    card,
    combo,
    make_router,
    order,
    planned_cost,
    two_providers,
    user,
)

# ---------------------------------------------------------------------------- helpers


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
    a = bare("native-a", {"cheap": CHEAP, "mystery": None})
    b = bare("native-b", {"mid": MID, "pricey": EXPENSIVE})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/mystery", "b/pricey", "a/cheap", "b/mid", strategy="cost"))

    plan = await router.plan(MESSAGES, providers, "c")

    assert order(plan) == ["a/cheap", "b/mid", "b/pricey", "a/mystery"]
    costs = [t.estimated_cost for t in plan.candidates]
    assert costs[:3] == pytest.approx([planned_cost(CHEAP), planned_cost(MID), planned_cost(EXPENSIVE)])
    assert costs[3] is None

    response = await router.route_request(MESSAGES, providers, "c")
    assert (response.router_metadata.selected_provider, response.router_metadata.selected_model) == ("a", "cheap")
    assert called(a) == ["cheap"]
    assert called(b) == []


async def test_cost_combo_falls_back_to_the_next_cheapest() -> None:
    a = bare("native-a", {"cheap": CHEAP}, script={"cheap": [ProviderUnavailableError("503", 503)]})
    b = bare("native-b", {"mid": MID, "pricey": EXPENSIVE})
    router = make_router(combo("b/pricey", "b/mid", "a/cheap", strategy="cost"))

    response = await router.route_request(MESSAGES, {"a": a, "b": b}, "c")

    assert response.router_metadata.selected_model == "mid"
    assert called(b) == ["mid"]


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
    a = bare("native-a", {"mystery": None, "cheap": CHEAP})
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


# ---------------------------------------------------------------------------- exact token counts in routing

LONG = user("x" * 400)  # simple prompt; its estimate (about 107 tokens) is what the windows are placed around
ESTIMATE = estimate_prompt_tokens(LONG)


def near_window(window: int, counter: type[FakeProvider] = FakeProvider) -> FakeProvider:
    """``small`` (cheap, window ``window``) and ``big`` (pricier, far too big to be near)."""
    return counter(
        "lp",
        [card("small", 0.0001, 0.0002, context_window=window), card("big", 0.001, 0.002, context_window=100_000)],
    )


async def test_exact_count_excludes_a_model_the_estimate_said_fits() -> None:
    window = ESTIMATE + 3
    p = near_window(window)
    p.exact_tokens = window + 1
    plan = await HeuristicRouter().plan(LONG, {"lp": p}, strategy="cost_optimized")
    assert p.token_counts == ["small"]
    assert plan.profile.prompt_tokens == window + 1
    assert [t.model for t in plan.candidates] == ["big"]
    assert plan.excluded["lp/small"] == f"prompt ~{window + 1} tokens > context window {window}"


async def test_exact_count_admits_a_model_the_estimate_said_does_not_fit() -> None:
    window = ESTIMATE - 3
    p = near_window(window)
    p.exact_tokens = window - 10
    plan = await HeuristicRouter().plan(LONG, {"lp": p}, strategy="cost_optimized")
    assert p.token_counts == ["small"]
    assert plan.profile.prompt_tokens == window - 10
    assert [t.model for t in plan.candidates] == ["small", "big"]


@pytest.mark.parametrize("window", [ESTIMATE * 10, ESTIMATE // 3])
async def test_token_counter_is_not_asked_far_from_every_window(window: int) -> None:
    p = near_window(window)  # exact_tokens stays None: count_tokens would fail the test
    plan = await HeuristicRouter().plan(LONG, {"lp": p}, strategy="cost_optimized")
    assert p.token_counts == []
    assert plan.profile.prompt_tokens == ESTIMATE


async def test_token_counter_band_sets_how_near_is_near() -> None:
    window = ESTIMATE * 2  # the estimate is half the window away
    p = near_window(window)
    p.exact_tokens = ESTIMATE
    await HeuristicRouter(RoutingConfig(token_counter_band=0.4)).plan(LONG, {"lp": p}, strategy="cost_optimized")
    assert p.token_counts == []
    await HeuristicRouter(RoutingConfig(token_counter_band=0.5)).plan(LONG, {"lp": p}, strategy="cost_optimized")
    assert p.token_counts == ["small"]


async def test_token_counter_is_not_asked_when_disabled() -> None:
    window = ESTIMATE + 3
    p = near_window(window)
    p.exact_tokens = window + 1
    plan = await HeuristicRouter(RoutingConfig(token_counter=False)).plan(LONG, {"lp": p}, strategy="cost_optimized")
    assert p.token_counts == []
    assert plan.profile.prompt_tokens == ESTIMATE
    assert plan.candidates[0].model == "small"


class FailingCounter(FakeProvider):
    async def count_tokens(
        self, messages: list[MessageInput], model: str, *, timeout_seconds: float | None = None
    ) -> int:
        self.token_counts.append(model)
        raise ProviderUnavailableError("token counter is down", 503)


class HangingCounter(FakeProvider):
    async def count_tokens(
        self, messages: list[MessageInput], model: str, *, timeout_seconds: float | None = None
    ) -> int:
        self.token_counts.append(model)
        await asyncio.Event().wait()  # never set: only the router's timeout ends this
        raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("counter", "config"),
    [
        pytest.param(FailingCounter, RoutingConfig(), id="provider-error"),
        pytest.param(HangingCounter, RoutingConfig(token_counter_timeout=0.01), id="timeout"),
    ],
)
async def test_unavailable_token_counter_keeps_the_estimate(counter: type[FakeProvider], config: RoutingConfig) -> None:
    window = ESTIMATE + 3
    p = near_window(window, counter)
    plan = await HeuristicRouter(config).plan(LONG, {"lp": p}, strategy="cost_optimized")
    assert p.token_counts == ["small"]
    assert plan.profile.prompt_tokens == ESTIMATE
    assert [t.model for t in plan.candidates] == ["small", "big"]
