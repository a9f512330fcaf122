"""``select.py`` through ``HeuristicRouter.select_model`` (sync, nothing is called): every filter
with its exclusion reason, the budget, the ranking rules, the decision's shape and the errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from muxer_litellm._utils import format_usd
from muxer_litellm.errors import BudgetExceededError, NoRouteError, RoutingConfigError
from muxer_litellm.host import LLMProvider, MessageInput
from muxer_litellm.routing import (
    HeuristicRouter,
    RankedCandidate,
    RoutingConfig,
    RoutingDecision,
    estimate_prompt_tokens,
)
from muxer_litellm.testing import BareFakeProvider, FakeProvider
from tests.unit.routing.helpers import (
    bare,
    card,
    catalog,
    user,
)

SIMPLE = user("What is the capital of France?")
CODE = user("Write a python function that reverses a list")
REASONING = user("Prove that the square root of 2 is irrational.")
CODE_AND_MATH = user("Write a python function that computes the integral of a polynomial")
IMAGE: list[MessageInput] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
    }
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}

# Per-1K prices (input, output) and the tier their mean infers with the default thresholds.
TIER1 = (0.0005, 0.0015)  # mean 0.001
TIER1_DEARER = (0.001, 0.002)  # mean 0.0015
TIER2 = (0.002, 0.006)  # mean 0.004
TIER2_DEARER = (0.003, 0.006)  # mean 0.0045
TIER3 = (0.01, 0.03)  # mean 0.02


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_router(clock: Clock | None = None, **config: Any) -> HeuristicRouter:
    return HeuristicRouter(RoutingConfig(**config), clock=clock or Clock())


def cost(provider: FakeProvider, model: str, prompt: int, out: int) -> float:
    value = provider.calculate_cost(prompt, out, model)
    assert math.isfinite(value)
    return value


def money(value: float) -> str:
    return format_usd(value)


class BrokenListProvider(BareFakeProvider):
    def get_supported_models(self) -> list[str]:
        raise RuntimeError("catalog not loaded")


# ---------------------------------------------------------------------------- capability filters

CAPABILITIES = [
    pytest.param(IMAGE, {}, "supports_vision", "vision", id="vision"),
    pytest.param(SIMPLE, {"tools": TOOLS}, "supports_function_calling", "function calling", id="tools"),
    pytest.param(SIMPLE, {"response_format": SCHEMA}, "supports_response_schema", "JSON schema output", id="schema"),
]


@pytest.mark.parametrize(("messages", "request_kw", "field", "label"), CAPABILITIES)
def test_capability_known_missing_is_excluded_with_reason(
    messages: list[MessageInput], request_kw: dict[str, Any], field: str, label: str
) -> None:
    provider = catalog("p", [card("lacks", *TIER1, **{field: False}), card("has", *TIER2, **{field: True})])
    decision = make_router().select_model(messages, {"p": provider}, **request_kw)

    assert decision.key == "p/has"
    assert decision.excluded == {"p/lacks": f"no {label}"}
    assert f"p/lacks (no {label})" in decision.reason
    assert decision.alternatives == ()


@pytest.mark.parametrize(("messages", "request_kw", "field", "label"), CAPABILITIES)
def test_capability_unknown_is_allowed_but_ranked_after_known(
    messages: list[MessageInput], request_kw: dict[str, Any], field: str, label: str
) -> None:
    # The unsure one is cheaper and registered first, and still loses.
    provider = catalog("p", [card("unsure", *TIER1, **{field: None}), card("sure", *TIER2, **{field: True})])
    decision = make_router().select_model(messages, {"p": provider}, **request_kw)

    assert decision.key == "p/sure"
    assert decision.excluded == {}
    [alt] = decision.alternatives
    assert (alt.key, alt.note) == ("p/unsure", f"{label} not stated")
    assert "assuming" not in decision.reason


@pytest.mark.parametrize(("messages", "request_kw", "field", "label"), CAPABILITIES)
def test_capability_unknown_alone_is_chosen_and_reason_says_it_assumes(
    messages: list[MessageInput], request_kw: dict[str, Any], field: str, label: str
) -> None:
    provider = catalog("p", [card("lacks", *TIER1, **{field: False}), card("unsure", *TIER3)])
    decision = make_router().select_model(messages, {"p": provider}, **request_kw)

    assert decision.key == "p/unsure"
    assert f"assuming {label} not stated" in decision.reason
    assert decision.excluded == {"p/lacks": f"no {label}"}


@pytest.mark.parametrize(("messages", "request_kw", "field", "label"), CAPABILITIES)
def test_capability_missing_does_not_matter_when_not_needed(
    messages: list[MessageInput], request_kw: dict[str, Any], field: str, label: str
) -> None:
    provider = catalog("p", [card("lacks", *TIER1, **{field: False}), card("has", *TIER2, **{field: True})])
    decision = make_router().select_model(SIMPLE, {"p": provider})
    assert decision.key == "p/lacks"
    assert decision.excluded == {}


def test_native_provider_serves_capabilities_as_unsure() -> None:
    native = bare("native", {"m": TIER1})
    decision = make_router().select_model(IMAGE, {"native": native}, tools=TOOLS)
    assert decision.key == "native/m"
    assert "assuming vision not stated, function calling not stated" in decision.reason


# ---------------------------------------------------------------------------- window and output limits


def test_context_window_known_too_small_is_excluded() -> None:
    provider = catalog("p", [card("small", *TIER1, context_window=4000), card("large", *TIER2, context_window=16_000)])
    router = make_router()

    decision = router.select_model(SIMPLE, {"p": provider}, prompt_tokens=5000)
    assert decision.key == "p/large"
    assert decision.excluded == {"p/small": "prompt ~5000 tokens > context window 4000"}
    assert "p/small (prompt ~5000 tokens > context window 4000)" in decision.reason

    # A prompt exactly the window's size fits.
    assert router.select_model(SIMPLE, {"p": provider}, prompt_tokens=4000).key == "p/small"


def test_context_window_check_uses_the_documented_prompt_estimate() -> None:
    messages = user("word " * 4000)  # 20,000 characters
    tokens = estimate_prompt_tokens(messages)
    assert tokens == 3 + 4 + math.ceil(20_000 / 3)  # all ASCII: ceil(chars / 3)
    provider = catalog(
        "p", [card("fits", *TIER2, context_window=tokens), card("short", *TIER1, context_window=tokens - 1)]
    )
    decision = make_router().select_model(messages, {"p": provider})
    assert decision.key == "p/fits"
    assert decision.prompt_tokens == tokens
    assert decision.excluded == {"p/short": f"prompt ~{tokens} tokens > context window {tokens - 1}"}


def test_unknown_window_with_prompt_over_assumed_window_is_unsure() -> None:
    provider = catalog("p", [card("unstated", *TIER1), card("stated", *TIER2, context_window=32_000)])
    router = make_router()

    over = router.select_model(SIMPLE, {"p": provider}, prompt_tokens=5000)
    assert over.key == "p/stated"
    assert over.excluded == {}
    [alt] = over.alternatives
    assert (alt.key, alt.note) == ("p/unstated", "context window not stated (prompt ~5000 tokens)")

    # At the assumed window (4096 by default) nothing is in doubt: the cheaper one wins.
    at = router.select_model(SIMPLE, {"p": provider}, prompt_tokens=4096)
    assert at.key == "p/unstated"
    assert at.alternatives[0].note is None

    alone = router.select_model(SIMPLE, {"p": catalog("p", [card("unstated", *TIER1)])}, prompt_tokens=5000)
    assert alone.key == "p/unstated"
    assert "assuming context window not stated (prompt ~5000 tokens)" in alone.reason


def test_assumed_context_window_is_configurable() -> None:
    provider = catalog("p", [card("unstated", *TIER1), card("stated", *TIER2, context_window=32_000)])
    decision = make_router(assumed_context_window=1000).select_model(SIMPLE, {"p": provider}, prompt_tokens=1001)
    assert decision.key == "p/stated"
    assert decision.alternatives[0].note == "context window not stated (prompt ~1001 tokens)"


@pytest.mark.parametrize("kw", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_over_model_output_limit_is_excluded(kw: str) -> None:
    provider = catalog(
        "p", [card("short", *TIER1, max_output_tokens=1000), card("long", *TIER2, max_output_tokens=8000)]
    )
    router = make_router()

    decision = router.select_model(SIMPLE, {"p": provider}, **{kw: 2000})
    assert decision.key == "p/long"
    assert decision.excluded == {"p/short": "max_tokens 2000 > model's output limit 1000"}
    assert "p/short (max_tokens 2000 > model's output limit 1000)" in decision.reason

    assert router.select_model(SIMPLE, {"p": provider}, **{kw: 1000}).key == "p/short"
    assert router.select_model(SIMPLE, {"p": provider}).key == "p/short"


# ---------------------------------------------------------------------------- health and cooldowns


@pytest.mark.parametrize(
    ("error", "why"),
    [("upstream returned 503", "unhealthy: upstream returned 503"), (None, "unhealthy: deep health check failed")],
)
def test_card_known_unhealthy_is_excluded(error: str | None, why: str) -> None:
    provider = catalog(
        "p",
        [
            card("sick", *TIER1, healthy=False, health_error=error),
            card("unchecked", *TIER2, healthy=None),
            card("well", *TIER3, healthy=True),
        ],
    )
    decision = make_router().select_model(SIMPLE, {"p": provider})
    assert decision.key == "p/unchecked"  # not checked is not unhealthy
    assert decision.excluded == {"p/sick": why}
    assert f"p/sick ({why})" in decision.reason


def test_cooling_down_target_is_excluded_until_its_time_passes() -> None:
    clock = Clock()
    router = make_router(clock)
    native = bare("n", {"cheap": TIER1, "dear": TIER2})
    router.state.cool_down("n/cheap", 30.0, "rate limited (429)")

    decision = router.select_model(SIMPLE, {"n": native})
    assert decision.key == "n/dear"
    assert decision.excluded == {"n/cheap": "rate limited (429), 30.0s left"}
    assert "n/cheap (rate limited (429), 30.0s left)" in decision.reason

    clock.now = 10.0
    assert router.select_model(SIMPLE, {"n": native}).excluded == {"n/cheap": "rate limited (429), 20.0s left"}
    clock.now = 30.0
    back = router.select_model(SIMPLE, {"n": native})
    assert back.key == "n/cheap"
    assert back.excluded == {}


def test_provider_failed_health_check_excludes_all_its_models_for_health_ttl() -> None:
    clock = Clock()
    router = make_router(clock, health_ttl=60.0)
    down = bare("down", {"a": TIER1, "b": TIER1_DEARER})
    up = bare("up", {"c": TIER2})
    providers: dict[str, LLMProvider] = {"down": down, "up": up}
    router.state.set_provider_health("down", False, "connection refused")

    decision = router.select_model(SIMPLE, providers)
    why = "provider 'down' failed its health check: connection refused"
    assert decision.key == "up/c"
    assert decision.excluded == {"down/a": why, "down/b": why}
    assert f"down/a ({why})" in decision.reason

    clock.now = 59.0
    assert router.select_model(SIMPLE, providers).key == "up/c"
    clock.now = 60.0
    assert router.select_model(SIMPLE, providers).key == "down/a"


def test_provider_marked_healthy_again_is_back_at_once() -> None:
    router = make_router()
    providers: dict[str, LLMProvider] = {"p": bare("p", {"a": TIER1}), "q": bare("q", {"b": TIER2})}
    router.state.set_provider_health("p", False, "boom")
    assert router.select_model(SIMPLE, providers).key == "q/b"
    router.state.set_provider_health("p", True)
    assert router.select_model(SIMPLE, providers).key == "p/a"


def test_reason_caps_the_exclusion_list_and_counts_the_rest() -> None:
    total = 30
    models = [card(f"blind{i:02d}", *TIER1, supports_vision=False) for i in range(total)]
    provider = catalog("p", [*models, card("eyes", *TIER2, supports_vision=True)])
    decision = make_router().select_model(IMAGE, {"p": provider})
    assert decision.key == "p/eyes"
    assert len(decision.excluded) == total  # the map keeps every one
    listed = decision.reason.count("(no vision)")
    assert 0 < listed < total
    assert f"and {total - listed} more" in decision.reason
    assert all(f"p/blind{i:02d} (no vision)" in decision.reason for i in range(listed))


def test_capped_exclusion_list_puts_unknown_prices_last() -> None:
    prices: dict[str, tuple[float, float] | None] = {f"unpriced{i:02d}": None for i in range(30)}
    prices["dear"] = TIER3
    native = bare("n", prices)
    with pytest.raises(BudgetExceededError) as info:
        make_router().select_model(SIMPLE, {"n": native}, max_cost=1e-9)
    assert "n/dear (estimated $" in str(info.value)
    assert "more" in str(info.value)


# ---------------------------------------------------------------------------- budget


def test_max_cost_excludes_over_budget_and_unknown_price_even_against_tier() -> None:
    native = bare("n", {"unpriced": None, "weak": TIER1, "strong": TIER3, "mid": TIER2})
    prompt = estimate_prompt_tokens(CODE)
    out = 1024  # code's expected output
    weak, mid, strong = (cost(native, m, prompt, out) for m in ("weak", "mid", "strong"))
    assert weak < mid < strong
    budget = (weak + mid) / 2

    decision = make_router().select_model(CODE, {"n": native}, max_cost=budget)
    # Code wants tier 2, but the only tier-2+ candidates are over budget: never chosen.
    assert decision.key == "n/weak"
    assert decision.estimated_cost == pytest.approx(weak)
    assert decision.excluded == {
        "n/unpriced": "price unknown, so it cannot be shown to fit max_cost",
        "n/strong": f"estimated {money(strong)} > max_cost {money(budget)}",
        "n/mid": f"estimated {money(mid)} > max_cost {money(budget)}",
    }
    assert f"max_cost {money(budget)}" in decision.reason
    assert "no candidate reaches tier 2; strongest available" in decision.reason
    assert decision.alternatives == ()


def test_max_cost_equal_to_the_estimate_fits() -> None:
    native = bare("n", {"a": TIER2, "b": TIER3})
    prompt = estimate_prompt_tokens(SIMPLE)
    exact = cost(native, "a", prompt, 256)
    router = make_router()

    decision = router.select_model(SIMPLE, {"n": native}, max_cost=exact)
    assert decision.key == "n/a"
    assert decision.estimated_cost == exact
    with pytest.raises(BudgetExceededError):
        router.select_model(SIMPLE, {"n": native}, max_cost=math.nextafter(exact, 0.0))


def test_every_alternative_fits_the_budget() -> None:
    prices = {f"m{i}": (0.0005 * i, 0.001 * i) for i in range(1, 9)}
    native = bare("n", prices)
    prompt = estimate_prompt_tokens(SIMPLE)
    budget = cost(native, "m5", prompt, 256)
    decision = make_router().select_model(SIMPLE, {"n": native}, max_cost=budget)
    chosen = [decision.key, *(a.key for a in decision.alternatives)]
    assert chosen == [f"n/m{i}" for i in range(1, 6)]
    assert all(a.estimated_cost is not None and a.estimated_cost <= budget for a in decision.alternatives)
    assert set(decision.excluded) == {f"n/m{i}" for i in range(6, 9)}


def test_nothing_fits_budget_raises_with_cheapest_estimate() -> None:
    native = bare("n", {"dear": TIER3, "cheap": TIER1, "unpriced": None})
    prompt = estimate_prompt_tokens(SIMPLE)
    cheapest = cost(native, "cheap", prompt, 256)
    budget = cheapest / 2

    with pytest.raises(BudgetExceededError) as info:
        make_router().select_model(SIMPLE, {"n": native}, max_cost=budget)
    message = str(info.value)
    assert f"max_cost {money(budget)}" in message
    assert f"~{prompt} prompt tokens" in message
    assert f"the cheapest would cost about {money(cheapest)}" in message
    assert "n/unpriced (price unknown, so it cannot be shown to fit max_cost)" in message
    assert f"n/dear (estimated {money(cost(native, 'dear', prompt, 256))} > max_cost {money(budget)})" in message


def test_only_unknown_prices_under_a_budget_raise_without_a_cheapest_estimate() -> None:
    native = bare("n", {"unpriced": None})
    with pytest.raises(BudgetExceededError) as info:
        make_router().select_model(SIMPLE, {"n": native}, max_cost=100.0)
    assert "cheapest" not in str(info.value)
    assert "price unknown" in str(info.value)


def test_budget_error_quotes_the_cheapest_of_the_models_that_could_serve() -> None:
    # The blind model is cheaper but cannot serve; the quote is the cheapest that could.
    provider = catalog(
        "p", [card("blind", 0.0001, 0.0001, supports_vision=False), card("eyes", *TIER2, supports_vision=True)]
    )
    prompt = estimate_prompt_tokens(IMAGE)
    eyes = cost(provider, "eyes", prompt, 512)
    with pytest.raises(BudgetExceededError) as info:
        make_router().select_model(IMAGE, {"p": provider}, max_cost=eyes / 10)
    assert f"the cheapest would cost about {money(eyes)}" in str(info.value)
    assert "p/blind (no vision)" in str(info.value)


def test_max_cost_zero_allows_only_free_models() -> None:
    router = make_router()
    with_free = bare("n", {"paid": TIER1, "free": (0.0, 0.0)})
    decision = router.select_model(SIMPLE, {"n": with_free}, max_cost=0)
    assert decision.key == "n/free"
    assert decision.estimated_cost == 0.0
    assert decision.excluded.keys() == {"n/paid"}

    with pytest.raises(BudgetExceededError, match=r"max_cost \$0\.00 "):
        router.select_model(SIMPLE, {"n": bare("n", {"paid": TIER1})}, max_cost=0.0)


@pytest.mark.parametrize("bad", [-0.01, -1, math.nan, math.inf, -math.inf, True, False, "0.5"])
def test_invalid_max_cost_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_cost"):
        make_router().select_model(SIMPLE, {"n": bare("n", {"m": TIER1})}, max_cost=bad)


# ---------------------------------------------------------------------------- ranking


def tiered() -> FakeProvider:
    """Registered cheapest first, so cheaper-but-weaker is always also earlier."""
    return bare("n", {"t1": TIER1, "t1b": TIER1_DEARER, "t2": TIER2, "t2b": TIER2_DEARER, "t3": TIER3})


def test_simple_prompt_goes_to_the_cheapest_tier_1() -> None:
    native = bare("n", {"t2": TIER2, "t1b": TIER1_DEARER, "t1": TIER1})
    decision = make_router().select_model(SIMPLE, {"n": native})
    assert decision.key == "n/t1"
    assert decision.tier == 1
    assert "cheapest adequate" in decision.reason
    assert "needs tier" not in decision.reason


@pytest.mark.parametrize(
    ("messages", "prompt_tokens", "cls"),
    [(CODE, None, "code"), (REASONING, None, "reasoning"), (SIMPLE, 9000, "long_context")],
)
def test_demanding_prompt_goes_to_cheapest_tier_2_or_more(
    messages: list[MessageInput], prompt_tokens: int | None, cls: str
) -> None:
    window = {"context_window": 128_000}
    provider = catalog(
        "p",
        [
            card("t1", *TIER1, **window),
            card("t1b", *TIER1_DEARER, **window),
            card("t3", *TIER3, **window),
            card("t2b", *TIER2_DEARER, **window),
            card("t2", *TIER2, **window),
        ],
    )
    decision = make_router().select_model(messages, {"p": provider}, prompt_tokens=prompt_tokens)
    assert decision.profile is not None
    assert cls in decision.profile.classes
    assert decision.key == "p/t2"
    assert decision.tier == 2
    assert f"{cls} needs tier >= 2" in decision.reason
    assert "chose p/t2 (tier 2," in decision.reason
    assert "cheapest adequate" in decision.reason
    # The cheaper weak ones stay as (later) alternatives.
    assert [a.key for a in decision.alternatives] == ["p/t2b", "p/t3", "p/t1", "p/t1b"]


def test_min_tier_is_configurable() -> None:
    decision = make_router(min_tier={"code": 3}).select_model(CODE, {"n": tiered()})
    assert decision.key == "n/t3"
    assert "code needs tier >= 3" in decision.reason


def test_declared_task_type_makes_a_low_tier_model_adequate() -> None:
    provider = catalog("p", [card("coder", *TIER1, task_types=("code",)), card("t2", *TIER2)])
    decision = make_router().select_model(CODE, {"p": provider})
    assert decision.key == "p/coder"
    assert decision.tier == 1
    assert "cheapest adequate" in decision.reason


def test_declared_task_types_must_cover_every_demanding_class() -> None:
    router = make_router()
    only_code = catalog("p", [card("coder", *TIER1, task_types=("code",)), card("t2", *TIER2)])
    assert router.select_model(CODE_AND_MATH, {"p": only_code}).key == "p/t2"
    both = catalog("p", [card("coder", *TIER1, task_types=("code", "reasoning")), card("t2", *TIER2)])
    assert router.select_model(CODE_AND_MATH, {"p": both}).key == "p/coder"


def test_no_adequate_tier_takes_the_strongest_available() -> None:
    native = bare("n", {"t1": TIER1, "t2b": TIER2_DEARER, "t2": TIER2})
    decision = make_router(min_tier={"code": 3}).select_model(CODE, {"n": native})
    # Strongest tier first, then the cheapest within it.
    assert decision.key == "n/t2"
    assert "no candidate reaches tier 3; strongest available" in decision.reason
    assert [a.key for a in decision.alternatives] == ["n/t2b", "n/t1"]


def test_unknown_tier_ranks_after_adequate_and_before_too_weak() -> None:
    # A tier is unknown only when neither config, card nor price says: all unknown-price here.
    provider = catalog(
        "p", [card("weak", None, None, tier=1), card("mystery", None, None), card("strong", None, None, tier=3)]
    )
    router = make_router()
    decision = router.select_model(CODE, {"p": provider})
    assert decision.key == "p/strong"
    assert [a.key for a in decision.alternatives] == ["p/mystery", "p/weak"]

    provider.set_models([c for c in provider.model_cards() if c.name != "strong"])
    fallback = router.select_model(CODE, {"p": provider})
    assert fallback.key == "p/mystery"
    assert "no candidate is known to reach tier 2; cheapest of unknown tier" in fallback.reason
    assert "(every eligible price is unknown)" in fallback.reason


def test_cost_optimized_ignores_tiers() -> None:
    decision = make_router().select_model(CODE, {"n": tiered()}, strategy="cost_optimized")
    assert decision.key == "n/t1"
    assert decision.strategy == "cost_optimized"
    assert decision.reason.startswith("cost_optimized: ")
    assert "needs tier" not in decision.reason
    assert "cheapest of" in decision.reason
    assert [a.key for a in decision.alternatives] == ["n/t1b", "n/t2", "n/t2b", "n/t3"]


@pytest.mark.parametrize("strategy", ["heuristic", "cost_optimized"])
def test_unknown_price_never_beats_a_much_dearer_known_price(strategy: Any) -> None:
    native = bare("n", {"unpriced": None, "gold": (5.0, 15.0)})
    decision = make_router().select_model(SIMPLE, {"n": native}, strategy=strategy)
    assert decision.key == "n/gold"
    [alt] = decision.alternatives
    assert (alt.key, alt.estimated_cost) == ("n/unpriced", None)


def test_unknown_price_loses_even_as_the_only_adequate_tier() -> None:
    provider = catalog("p", [card("strong-unpriced", None, None, tier=3), card("weak", *TIER1)])
    decision = make_router().select_model(CODE, {"p": provider})
    assert decision.key == "p/weak"
    assert "p/strong-unpriced reaches tier 2 but its price is unknown; chose the best with known facts" in (
        decision.reason
    )
    assert decision.alternatives[0].key == "p/strong-unpriced"


def test_an_adequate_tier_that_does_not_state_a_needed_capability_is_named_in_the_reason() -> None:
    native = bare("openai", {"gpt-big": (0.0025, 0.01)})  # tier 3 by price, states nothing
    proxy = catalog("litellm", [card("cheap", *TIER1, supports_function_calling=True)])
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    decision = make_router().select_model(CODE, {"openai": native, "litellm": proxy}, tools=tools)
    assert decision.key == "litellm/cheap"
    assert "openai/gpt-big reaches tier 2 but function calling not stated" in decision.reason


def test_only_unknown_prices_still_route_and_say_so() -> None:
    decision = make_router().select_model(SIMPLE, {"n": bare("n", {"a": None, "b": None})})
    assert decision.key == "n/a"
    assert decision.estimated_cost is None
    assert "est. unknown" in decision.reason
    assert "(every eligible price is unknown)" in decision.reason


def test_cost_tie_goes_to_the_higher_tier() -> None:
    native = bare("n", {"low": TIER1, "high": TIER1})
    decision = make_router(tiers={"n/low": 1, "n/high": 2}).select_model(SIMPLE, {"n": native})
    assert decision.key == "n/high"
    assert decision.tier == 2


@pytest.mark.parametrize("order", [("first", "second"), ("second", "first")])
def test_full_tie_goes_to_provider_registration_order(order: tuple[str, str]) -> None:
    providers: dict[str, LLMProvider] = {name: bare(name, {"m": TIER1}) for name in order}
    decision = make_router().select_model(SIMPLE, providers)
    assert decision.provider == order[0]
    assert [a.provider for a in decision.alternatives] == [order[1]]


def test_full_tie_within_a_provider_goes_to_model_order() -> None:
    native = bare("n", {"zeta": TIER1, "alpha": TIER1, "mid": TIER1})
    decision = make_router().select_model(SIMPLE, {"n": native})
    assert decision.key == "n/zeta"
    assert [a.key for a in decision.alternatives] == ["n/alpha", "n/mid"]


# ---------------------------------------------------------------------------- the decision


def test_the_decision_and_its_alternatives_are_ranked_candidates() -> None:
    provider = catalog("p", [card("a", *TIER1), card("b", *TIER2)])
    router = make_router()
    decision = router.select_model(SIMPLE, {"p": provider})
    candidates = {c.key: c for c in router.candidates({"p": provider})}
    chosen, [other] = decision.chosen, decision.alternatives
    assert isinstance(chosen, RankedCandidate)
    assert chosen.candidate is candidates["p/a"]
    assert other.candidate is candidates["p/b"]
    assert (chosen.key, chosen.tier, chosen.estimated_cost, chosen.forced) == ("p/a", 1, decision.estimated_cost, False)


def test_decision_unpacks_as_provider_model_reason() -> None:
    decision = make_router().select_model(SIMPLE, {"n": bare("n", {"m": TIER1})})
    provider, model, reason = decision
    assert (provider, model, reason) == (decision.provider, decision.model, decision.reason)
    assert (provider, model) == ("n", "m")
    assert isinstance(decision, RoutingDecision)
    assert reason.startswith("heuristic: prompt is simple")


@pytest.mark.parametrize(
    ("messages", "request_kw", "prompt_tokens", "out"),
    [
        pytest.param(SIMPLE, {}, None, 256, id="simple"),
        pytest.param(CODE, {}, None, 1024, id="code"),
        pytest.param(REASONING, {}, None, 1024, id="reasoning"),
        pytest.param(IMAGE, {}, None, 512, id="vision"),
        pytest.param(SIMPLE, {}, 9000, 512, id="long"),
        pytest.param(CODE, {}, 9000, 1024, id="code+long-takes-the-larger"),
        pytest.param(SIMPLE, {"tools": TOOLS}, None, 256, id="tools-uses-simple"),
        pytest.param(CODE, {"max_tokens": 77}, None, 77, id="max_tokens"),
        pytest.param(SIMPLE, {"max_completion_tokens": 300}, None, 300, id="max_completion_tokens"),
    ],
)
def test_estimated_cost_is_calculate_cost_of_estimated_prompt_and_expected_output(
    messages: list[MessageInput], request_kw: dict[str, Any], prompt_tokens: int | None, out: int
) -> None:
    native = bare("n", {"m": TIER2})
    decision = make_router().select_model(messages, {"n": native}, prompt_tokens=prompt_tokens, **request_kw)
    prompt = prompt_tokens if prompt_tokens is not None else estimate_prompt_tokens(messages, request_kw.get("tools"))
    assert (decision.prompt_tokens, decision.output_tokens) == (prompt, out)
    assert decision.estimated_cost == cost(native, "m", prompt, out)
    assert f"~{prompt} prompt + {out} output tokens" in decision.reason
    assert f"est. {money(decision.estimated_cost)}" in decision.reason


def test_catalog_priced_estimate_matches_the_providers_calculate_cost() -> None:
    provider = catalog("p", [card("m", *TIER2)])
    decision = make_router().select_model(CODE, {"p": provider})
    assert decision.estimated_cost == pytest.approx(
        provider.calculate_cost(estimate_prompt_tokens(CODE), 1024, "m"), rel=1e-12
    )


def test_expected_output_tokens_come_from_config() -> None:
    native = bare("n", {"m": TIER2})
    decision = make_router(expected_output_tokens={"simple": 100}).select_model(SIMPLE, {"n": native})
    assert decision.output_tokens == 100
    assert decision.estimated_cost == cost(native, "m", estimate_prompt_tokens(SIMPLE), 100)


def test_alternatives_are_the_other_eligible_candidates_in_rank_order() -> None:
    native = bare("n", {"c": TIER2, "blocked": TIER1, "a": TIER1_DEARER, "d": TIER3, "b": TIER2_DEARER})
    router = make_router()
    router.state.cool_down("n/blocked", 10.0, "rate limited")
    decision = router.select_model(SIMPLE, {"n": native})
    prompt = estimate_prompt_tokens(SIMPLE)

    assert decision.key == "n/a"
    assert [(a.key, a.tier) for a in decision.alternatives] == [("n/c", 2), ("n/b", 2), ("n/d", 3)]
    for alt in decision.alternatives:
        assert alt.estimated_cost == cost(native, alt.model, prompt, 256)
        assert alt.note is None
    costs = [decision.estimated_cost, *(a.estimated_cost for a in decision.alternatives)]
    assert costs == sorted(costs)  # type: ignore[type-var]
    assert "of 4 eligible" in decision.reason
    assert "n/blocked" in decision.excluded


# ---------------------------------------------------------------------------- no route


@pytest.mark.parametrize(
    "providers",
    [
        pytest.param({}, id="no-providers"),
        pytest.param({"empty": bare("empty", {})}, id="no-models"),
        pytest.param({"broken": BrokenListProvider("broken", {"m": TIER1})}, id="list-raises"),
    ],
)
def test_no_models_at_all_is_no_route(providers: dict[str, LLMProvider]) -> None:
    with pytest.raises(NoRouteError, match="no registered provider offers a chat model") as info:
        make_router().select_model(SIMPLE, providers)
    assert info.value.excluded == {}
    assert info.value.retryable is False
    assert info.value.retry_after is None


def test_everything_excluded_for_capabilities_is_no_route_with_reasons() -> None:
    provider = catalog("p", [card("blind", *TIER1, supports_vision=False), card("tiny", *TIER2, context_window=100)])
    with pytest.raises(NoRouteError) as info:
        make_router().select_model(IMAGE, {"p": provider})
    err = info.value
    assert not isinstance(err, BudgetExceededError)
    prompt = estimate_prompt_tokens(IMAGE)
    assert err.excluded == {"p/blind": "no vision", "p/tiny": f"prompt ~{prompt} tokens > context window 100"}
    assert err.retryable is False
    assert err.retry_after is None
    assert "no candidate can serve this vision" in str(err)
    assert "p/blind (no vision)" in str(err)


def test_everything_cooling_down_is_retryable_no_route_with_shortest_wait() -> None:
    clock = Clock()
    router = make_router(clock, health_ttl=60.0)
    providers: dict[str, LLMProvider] = {
        "n": bare("n", {"a": TIER1, "b": TIER2}),
        "down": bare("down", {"c": TIER1}),
    }
    router.state.cool_down("n/a", 30.0, "rate limited")
    router.state.cool_down("n/b", 12.0, "circuit open")
    router.state.set_provider_health("down", False, "timeout")

    with pytest.raises(NoRouteError) as info:
        router.select_model(SIMPLE, providers)
    assert info.value.retryable is True
    assert info.value.retry_after == 12.0
    assert set(info.value.excluded) == {"n/a", "n/b", "down/c"}
    assert "retry in 12.0s" in str(info.value)

    clock.now = 5.0
    with pytest.raises(NoRouteError) as later:
        router.select_model(SIMPLE, providers)
    assert later.value.retry_after == 7.0


def test_budget_fit_only_cooling_down_is_retryable_not_budget_exceeded() -> None:
    router = make_router()
    native = bare("n", {"cheap": TIER1, "dear": TIER3})
    prompt = estimate_prompt_tokens(SIMPLE)
    router.state.cool_down("n/cheap", 8.0, "rate limited")
    budget = cost(native, "cheap", prompt, 256) * 2
    assert budget < cost(native, "dear", prompt, 256)

    with pytest.raises(NoRouteError) as info:
        router.select_model(SIMPLE, {"n": native}, max_cost=budget)
    assert not isinstance(info.value, BudgetExceededError)
    assert info.value.retryable is True
    assert info.value.retry_after == 8.0
    dear = cost(native, "dear", prompt, 256)
    assert info.value.excluded == {
        "n/cheap": "rate limited, 8.0s left",
        "n/dear": f"estimated {money(dear)} > max_cost {money(budget)}",
    }
    assert "retry in 8.0s" in str(info.value)


def test_only_capable_target_cooling_down_is_retryable() -> None:
    router = make_router()
    provider = catalog("p", [card("eyes", *TIER2, supports_vision=True), card("blind", *TIER1, supports_vision=False)])
    router.state.cool_down("p/eyes", 8.0, "rate limited")

    with pytest.raises(NoRouteError) as info:
        router.select_model(IMAGE, {"p": provider})
    assert info.value.retryable is True
    assert info.value.retry_after == 8.0
    assert info.value.excluded == {"p/eyes": "rate limited, 8.0s left", "p/blind": "no vision"}


def test_cooling_target_that_cannot_serve_is_excluded_for_that_and_not_retryable() -> None:
    """Availability is checked last: a target that could not serve anyway is no reason to wait."""
    router = make_router()
    provider = catalog("p", [card("blind", *TIER1, supports_vision=False)])
    router.state.cool_down("p/blind", 8.0, "rate limited")

    with pytest.raises(NoRouteError) as info:
        router.select_model(IMAGE, {"p": provider})
    assert info.value.retryable is False
    assert info.value.retry_after is None
    assert info.value.excluded == {"p/blind": "no vision"}
    assert "no candidate can serve" in str(info.value)


def test_cooling_target_over_budget_is_excluded_for_the_budget() -> None:
    router = make_router()
    native = bare("n", {"cheap": TIER1, "dear": TIER3})
    prompt = estimate_prompt_tokens(SIMPLE)
    cheap = cost(native, "cheap", prompt, 256)
    budget = cheap / 2
    router.state.cool_down("n/cheap", 8.0, "rate limited")

    with pytest.raises(BudgetExceededError) as info:
        router.select_model(SIMPLE, {"n": native}, max_cost=budget)
    assert info.value.retryable is False
    assert f"n/cheap (estimated {money(cheap)} > max_cost {money(budget)})" in str(info.value)
    assert "rate limited" not in str(info.value)


def test_cooling_target_behind_a_too_small_window_is_not_a_wait() -> None:
    router = make_router()
    provider = catalog("p", [card("tiny", *TIER1, context_window=100), card("big", *TIER2)])
    router.state.cool_down("p/tiny", 8.0, "rate limited")
    router.state.cool_down("p/big", 20.0, "rate limited")

    with pytest.raises(NoRouteError) as info:
        router.select_model(SIMPLE, {"p": provider}, prompt_tokens=5000)
    # Only the big one could serve, so its wait is the one that counts.
    assert info.value.retry_after == 20.0
    assert info.value.excluded["p/tiny"] == "prompt ~5000 tokens > context window 100"


def test_card_unhealthy_is_not_a_wait_but_a_cooling_neighbour_makes_it_retryable() -> None:
    router = make_router()
    sick = catalog("p", [card("sick", *TIER1, healthy=False, health_error="503")])
    with pytest.raises(NoRouteError) as alone:
        router.select_model(SIMPLE, {"p": sick})
    assert alone.value.retryable is False
    assert alone.value.excluded == {"p/sick": "unhealthy: 503"}

    both = catalog("p", [card("sick", *TIER1, healthy=False, health_error="503"), card("busy", *TIER2)])
    router.state.cool_down("p/busy", 4.0, "rate limited")
    with pytest.raises(NoRouteError) as info:
        router.select_model(SIMPLE, {"p": both})
    assert info.value.retryable is True
    assert info.value.retry_after == 4.0
    assert info.value.excluded == {"p/sick": "unhealthy: 503", "p/busy": "rate limited, 4.0s left"}


def test_provider_down_wait_is_its_health_ttl_left_and_the_shortest_wait_wins() -> None:
    clock = Clock()
    router = make_router(clock, health_ttl=10.0)
    native = bare("n", {"b": TIER2, "c": TIER3})
    providers: dict[str, LLMProvider] = {"down": bare("down", {"a": TIER1}), "n": native}
    router.state.set_provider_health("down", False, "timeout")
    router.state.cool_down("n/b", 25.0, "rate limited")
    budget = cost(native, "b", estimate_prompt_tokens(SIMPLE), 256)
    clock.now = 3.0

    with pytest.raises(NoRouteError) as info:
        router.select_model(SIMPLE, providers, max_cost=budget)  # n/c is over budget
    assert info.value.retry_after == 7.0
    assert set(info.value.excluded) == {"down/a", "n/b", "n/c"}
    assert info.value.excluded["n/c"].startswith("estimated ")


@pytest.mark.parametrize("strategy", ["cascade", "hybrid", "priority", "nonsense"])
def test_select_model_only_takes_heuristic_or_cost_optimized(strategy: Any) -> None:
    with pytest.raises(RoutingConfigError, match=repr(strategy)):
        make_router().select_model(SIMPLE, {"n": bare("n", {"m": TIER1})}, strategy=strategy)


def test_select_model_makes_no_calls() -> None:
    native = bare("n", {"m": TIER1})
    carded = catalog("c", [card("x", *TIER2)])
    make_router().select_model(CODE, {"n": native, "c": carded})
    assert native.calls == []
    assert native.stream_calls == []
    assert carded.calls == []
    assert carded.refreshes == 0
    assert carded.token_counts == []
