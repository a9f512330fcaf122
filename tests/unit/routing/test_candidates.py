"""``candidates.py``: what each provider contributes to the candidate view (catalog cards,
``calculate_cost`` prices), tier sources and inference, and the candidate cache."""

from __future__ import annotations

import gc
import logging
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from muxer_litellm.host import LLMProvider, ModelCard
from muxer_litellm.routing import (
    CAPABILITIES,
    Candidate,
    HeuristicRouter,
    PromptProfile,
    RoutingConfig,
    build_candidates,
    estimate_prompt_tokens,
    infer_tier,
)
from muxer_litellm.routing.candidates import CandidateCache
from muxer_litellm.testing import BareFakeProvider, FakeProvider
from tests.unit.routing.helpers import (
    bare,
    card,
    catalog,
    user,
)

SIMPLE = user("What is the capital of France?")

# Per-1K prices (input, output) and the tier their mean infers with the default thresholds.
TIER1 = (0.0005, 0.0015)  # mean 0.001
TIER2 = (0.002, 0.006)  # mean 0.004
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


def by_key(candidates: Sequence[Candidate]) -> dict[str, Candidate]:
    return {c.key: c for c in candidates}


class BrokenListProvider(BareFakeProvider):
    def get_supported_models(self) -> list[str]:
        raise RuntimeError("catalog not loaded")


class ListedProvider(BareFakeProvider):
    """Lists exactly ``models`` (duplicates and junk included), priced from ``prices``."""

    def __init__(self, name: str, prices: Mapping[str, tuple[float, float] | None], models: list[Any]) -> None:
        super().__init__(name, prices)
        self.models = models

    def get_supported_models(self) -> list[str]:
        return list(self.models)


class CostFnProvider(BareFakeProvider):
    """calculate_cost is whatever ``fn`` does (return garbage, raise...)."""

    def __init__(self, name: str, model: str, fn: Callable[[int, int], Any]) -> None:
        super().__init__(name, {model: None})
        self.fn = fn

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        result: float = self.fn(input_tokens, output_tokens)
        return result


class CountingProvider(BareFakeProvider):
    def __init__(self, name: str, prices: Mapping[str, tuple[float, float] | None]) -> None:
        super().__init__(name, prices)
        self.cost_calls = 0

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        self.cost_calls += 1
        return super().calculate_cost(input_tokens, output_tokens, model)


# ---------------------------------------------------------------------------- candidate view


def test_catalog_card_gives_prices_window_capabilities_tier_and_health() -> None:
    big = card(
        "big",
        0.003,
        0.015,
        context_window=200_000,
        max_output_tokens=8192,
        supports_function_calling=True,
        supports_vision=False,
        supports_response_schema=None,
        supports_reasoning=True,
        task_types=("code", "reasoning"),
        tier=3,
        healthy=True,
        health_error=None,
    )
    [c] = make_router().candidates({"lite": catalog("lite", [big])})

    assert (c.provider, c.model, c.key) == ("lite", "big", "lite/big")
    assert (c.input_cost_per_1k, c.output_cost_per_1k) == (0.003, 0.015)
    assert c.pricing_source == "proxy"
    assert c.catalog_priced is True
    assert c.price_known is True
    assert (c.context_window, c.max_output_tokens) == (200_000, 8192)
    assert c.card is big  # kept as is: nothing is renamed between the catalog and routing
    assert dict(c.capabilities) == {
        "supports_vision": False,
        "supports_function_calling": True,
        "supports_response_schema": None,
        "supports_reasoning": True,
    }
    assert [c.supports(cap) for cap in CAPABILITIES] == [False, True, None, True]
    assert c.task_types == frozenset({"code", "reasoning"})
    assert (c.tier, c.tier_source) == (3, "catalog")
    assert c.healthy is True


def test_capabilities_are_every_supports_flag_of_the_card_under_its_own_name() -> None:
    flags = {name for name in ModelCard.model_fields if name.startswith("supports_")}
    assert {cap.field for cap in CAPABILITIES} == flags
    profile_needs = {
        name.removeprefix("needs_") for name in PromptProfile.__dataclass_fields__ if name.startswith("needs_")
    }
    assert profile_needs <= {cap.need for cap in CAPABILITIES}


@pytest.mark.parametrize(
    ("price", "tokens"),
    [((0.003, 0.015), (1234, 567)), ((0.0, 0.0), (10, 10)), ((None, None), (10, 10)), ((0.001, None), (10, 10))],
)
def test_a_carded_candidate_is_priced_by_the_cards_own_formula(
    price: tuple[float | None, float | None], tokens: tuple[int, int]
) -> None:
    priced = card("m", *price)
    [c] = build_candidates({"p": catalog("p", [priced])})
    assert c.estimate(None, *tokens) == priced.cost(*tokens)
    if priced.price_known:
        assert c.estimate(None, *tokens) == pytest.approx((tokens[0] * price[0] + tokens[1] * price[1]) / 1000)  # type: ignore[operator]
    else:
        assert c.estimate(None, *tokens) is None


def test_native_provider_prices_per_1k_come_from_calculate_cost_and_unknown_stays_none() -> None:
    native = bare("native", {"priced": TIER1, "unpriced": None})
    cands = by_key(make_router().candidates({"native": native}))

    priced = cands["native/priced"]
    assert priced.input_cost_per_1k == pytest.approx(native.calculate_cost(1000, 0, "priced"))
    assert priced.output_cost_per_1k == pytest.approx(native.calculate_cost(0, 1000, "priced"))
    assert priced.input_cost_per_1k == pytest.approx(TIER1[0])
    assert priced.output_cost_per_1k == pytest.approx(TIER1[1])
    assert priced.pricing_source == "provider"
    assert priced.catalog_priced is False
    assert (priced.tier, priced.tier_source) == (1, "price")
    # Nothing else is known about a provider without a catalog: unknown, not "no".
    assert priced.context_window is None
    assert priced.max_output_tokens is None
    assert [priced.supports(cap) for cap in CAPABILITIES] == [None, None, None, None]
    assert priced.healthy is None
    assert priced.task_types == frozenset()

    unpriced = cands["native/unpriced"]
    assert math.isinf(native.calculate_cost(1000, 0, "unpriced"))
    assert (unpriced.input_cost_per_1k, unpriced.output_cost_per_1k) == (None, None)
    assert unpriced.price_known is False
    assert unpriced.pricing_source == "unknown"
    assert (unpriced.tier, unpriced.tier_source) == (None, "unknown")


def _raise(i: int, o: int) -> float:
    raise RuntimeError("pricing service down")


@pytest.mark.parametrize(
    "fn",
    [
        pytest.param(lambda i, o: math.inf, id="inf"),
        pytest.param(lambda i, o: math.nan, id="nan"),
        pytest.param(lambda i, o: -1.0, id="negative"),
        pytest.param(lambda i, o: True, id="bool"),
        pytest.param(lambda i, o: "0.01", id="string"),
        pytest.param(lambda i, o: 0.001 if o == 0 else math.inf, id="output-price-unknown"),
        pytest.param(lambda i, o: math.inf if o == 0 else 0.001, id="input-price-unknown"),
        pytest.param(_raise, id="raises"),
    ],
)
def test_native_price_that_is_not_a_finite_nonnegative_number_is_unknown(fn: Callable[[int, int], Any]) -> None:
    [c] = make_router().candidates({"odd": CostFnProvider("odd", "m", fn)})
    assert (c.input_cost_per_1k, c.output_cost_per_1k) == (None, None)
    assert c.pricing_source == "unknown"
    assert c.tier is None


def test_provider_whose_model_list_raises_contributes_nothing_but_others_route(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ok = bare("ok", {"m": TIER1})
    providers: dict[str, LLMProvider] = {"broken": BrokenListProvider("broken", {"x": TIER1}), "ok": ok}
    router = make_router()

    with caplog.at_level(logging.WARNING, logger="muxer_litellm.routing"):
        assert [c.key for c in router.candidates(providers)] == ["ok/m"]
    assert any("broken" in r.getMessage() and "get_supported_models" in r.getMessage() for r in caplog.records)

    decision = router.select_model(SIMPLE, providers)
    assert decision.key == "ok/m"
    assert not any(k.startswith("broken/") for k in decision.excluded)


def test_duplicate_and_junk_model_names_are_listed_once_in_order() -> None:
    listed = ListedProvider("p", {"a": TIER1, "b": TIER2}, ["a", "b", "a", "", None, "b", "a"])
    other = bare("q", {"a": TIER1})
    keys = [c.key for c in build_candidates({"p": listed, "q": other})]
    # Within a provider once each; the same name under another provider is another target.
    assert keys == ["p/a", "p/b", "q/a"]


def test_tier_sources_config_beats_card_beats_price_inference() -> None:
    provider = catalog(
        "p",
        [
            card("overridden", *TIER3, tier=2),  # card says 2, price says 3, config says 1
            card("carded", *TIER3, tier=2),  # card says 2, price says 3
            card("inferred", *TIER3),  # only the price: 3
            card("configured-unpriced", None, None),  # no price, config says 2
            card("mystery", None, None),  # nothing
        ],
    )
    router = make_router(tiers={"p/overridden": 1, "p/configured-unpriced": 2})
    got = {c.model: (c.tier, c.tier_source) for c in router.candidates({"p": provider})}
    assert got == {
        "overridden": (1, "config"),
        "carded": (2, "catalog"),
        "inferred": (3, "price"),
        "configured-unpriced": (2, "config"),
        "mystery": (None, "unknown"),
    }


def test_config_tier_applies_to_native_provider_models() -> None:
    native = bare("native", {"m": TIER1})
    [c] = make_router(tiers={"native/m": 3}).candidates({"native": native})
    assert (c.tier, c.tier_source) == (3, "config")


@pytest.mark.parametrize(
    ("inp", "out", "tier"),
    [
        (0.0, 0.0, 1),
        (0.0019999, 0.0019999, 1),
        (0.002, 0.002, 2),  # mean exactly 0.002 is not < 0.002
        (0.0, 0.004, 2),  # mean exactly 0.002 from unequal prices
        (0.001, 0.0029, 1),  # mean 0.00195
        (0.0049999, 0.0049999, 2),
        (0.005, 0.005, 3),  # mean exactly 0.005 is not < 0.005
        (0.0, 0.01, 3),
        (1.0, 2.0, 3),
    ],
)
def test_infer_tier_default_thresholds_at_the_boundaries(inp: float, out: float, tier: int) -> None:
    assert infer_tier(inp, out, (0.002, 0.005)) == tier
    [c] = build_candidates({"p": catalog("p", [card("m", inp, out)])})
    assert (c.tier, c.tier_source) == (tier, "price")


@pytest.mark.parametrize(("inp", "out"), [(None, 0.001), (0.001, None), (None, None)])
def test_infer_tier_unknown_when_either_price_is_unknown(inp: float | None, out: float | None) -> None:
    assert infer_tier(inp, out, (0.002, 0.005)) is None


@pytest.mark.parametrize(
    ("mean", "tier"), [(0.0099, 1), (0.01, 2), (0.0199, 2), (0.02, 3), (0.03, 4), (0.5, 4), (0.001, 1)]
)
def test_infer_tier_custom_thresholds(mean: float, tier: int) -> None:
    assert infer_tier(mean, mean, (0.01, 0.02, 0.03)) == tier


def test_router_uses_configured_tier_price_thresholds() -> None:
    native = bare("n", {"a": (0.005, 0.005), "b": (0.015, 0.015), "c": (0.025, 0.025), "d": (0.05, 0.05)})
    custom = {c.model: c.tier for c in make_router(tier_price_thresholds=[0.01, 0.02, 0.03]).candidates({"n": native})}
    default = {c.model: c.tier for c in make_router().candidates({"n": native})}
    assert custom == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert default == {"a": 3, "b": 3, "c": 3, "d": 3}


# ---------------------------------------------------------------------------- candidate cache


def test_cache_picks_up_a_replaced_catalog_card() -> None:
    provider = catalog("p", [card("m", *TIER1)])
    router = make_router()
    [before] = router.candidates({"p": provider})
    assert before.input_cost_per_1k == TIER1[0]

    provider.set_models([card("m", *TIER3, context_window=32_000)])
    [after] = router.candidates({"p": provider})
    assert (after.input_cost_per_1k, after.output_cost_per_1k) == TIER3
    assert after.context_window == 32_000
    assert after.tier == 3


def test_cache_picks_up_a_changed_model_list_at_once() -> None:
    native = bare("n", {"a": TIER1})
    router = make_router()
    assert [c.model for c in router.candidates({"n": native})] == ["a"]
    native.set_models({"a": TIER1, "b": TIER2})
    assert [c.model for c in router.candidates({"n": native})] == ["a", "b"]


def test_cache_reuses_candidates_while_models_and_cards_are_the_same_objects() -> None:
    counting = CountingProvider("n", {"a": TIER1, "b": TIER2})
    carded = catalog("c", [card("x", *TIER1)])
    providers: dict[str, LLMProvider] = {"n": counting, "c": carded}
    router = make_router()

    first = router.candidates(providers)
    calls = counting.cost_calls
    assert calls == 4  # per-1K input and output price of each model
    second = router.candidates(providers)
    assert counting.cost_calls == calls
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_cache_rebuilds_entries_older_than_max_age() -> None:
    clock = Clock()
    cache = CandidateCache(max_age=10.0, clock=clock)
    native = CountingProvider("n", {"m": TIER1})

    assert cache.build({"n": native})[0].input_cost_per_1k == pytest.approx(TIER1[0])
    native.set_models({"m": TIER3})  # a price change the model list does not show
    clock.now = 9.999
    assert cache.build({"n": native})[0].input_cost_per_1k == pytest.approx(TIER1[0])
    clock.now = 10.0
    assert cache.build({"n": native})[0].input_cost_per_1k == pytest.approx(TIER3[0])
    calls = native.cost_calls
    clock.now = 19.0  # the rebuilt entry is fresh again
    cache.build({"n": native})
    assert native.cost_calls == calls


def test_router_candidates_are_rebuilt_after_a_minute_but_estimates_are_live() -> None:
    clock = Clock()
    native = bare("n", {"cheap": TIER1, "dear": TIER2})
    providers: dict[str, LLMProvider] = {"n": native}
    router = make_router(clock)
    assert router.select_model(SIMPLE, providers).model == "cheap"

    native.set_models({"cheap": TIER3, "dear": TIER2})
    clock.now = 59.0
    # The candidate (per-1K prices, inferred tier) is still the cached one...
    assert by_key(router.candidates(providers))["n/cheap"].tier == 1
    # ...but a decision prices each request with the provider's calculate_cost now.
    decision = router.select_model(SIMPLE, providers)
    assert decision.model == "dear"
    assert decision.alternatives[0].estimated_cost == cost(native, "cheap", estimate_prompt_tokens(SIMPLE), 256)

    clock.now = 60.0
    rebuilt = by_key(router.candidates(providers))["n/cheap"]
    assert (rebuilt.tier, rebuilt.input_cost_per_1k) == (3, pytest.approx(TIER3[0]))


def test_cache_is_not_fooled_by_a_new_card_at_a_recycled_address() -> None:
    provider = catalog("p", [card("m", *TIER1)])
    router = make_router()
    stale = 0
    for i in range(20):
        router.candidates({"p": provider})
        provider.set_models([card("m", 0.1 + i, 0.1 + i)])  # refresh: the card routing saw is freed
        provider.set_models([card("m", 0.2 + i, 0.2 + i)])  # next refresh: may land on its address
        [c] = router.candidates({"p": provider})
        stale += c.input_cost_per_1k != provider.cards["m"].input_cost_per_1k
    assert stale == 0


def test_cache_keeps_the_cards_it_compared_alive_until_it_rebuilds() -> None:
    """Identity is only safe while the old card lives: the cache holds it, so no new card can
    take its address; a rebuild lets it go."""
    old = card("m", *TIER1)
    ref = weakref.ref(old)
    provider = catalog("p", [old])
    cache = CandidateCache(clock=Clock())
    cache.build({"p": provider})
    provider.set_models([card("m", *TIER2)])
    del old
    gc.collect()
    assert ref() is not None

    [c] = cache.build({"p": provider})
    assert (c.input_cost_per_1k, c.output_cost_per_1k) == TIER2
    gc.collect()
    assert ref() is None


def test_cache_rebuilds_for_an_equal_but_new_card_object() -> None:
    provider = catalog("p", [card("m", *TIER1)])
    cache = CandidateCache(clock=Clock())
    [first] = cache.build({"p": provider})
    provider.set_models([card("m", *TIER1)])  # a refresh with the same data: new objects
    assert provider.cards["m"] == card("m", *TIER1)
    [second] = cache.build({"p": provider})
    assert second is not first
    assert second == first
    [third] = cache.build({"p": provider})  # nothing changed since: reused
    assert third is second


def test_cache_rebuilds_when_another_provider_object_takes_the_name() -> None:
    cache = CandidateCache(clock=Clock())
    [a] = cache.build({"n": bare("n", {"m": TIER1})})
    [b] = cache.build({"n": bare("n", {"m": TIER3})})  # same name and models, new object
    assert a.input_cost_per_1k == pytest.approx(TIER1[0])
    assert b.input_cost_per_1k == pytest.approx(TIER3[0])
    assert b.tier == 3


def test_cache_rebuilds_at_once_when_a_configured_tier_changes() -> None:
    native = CountingProvider("n", {"m": TIER1, "k": TIER1})
    router = make_router(tiers={"n/m": 2})
    assert by_key(router.candidates({"n": native}))["n/m"].tier == 2
    calls = native.cost_calls

    router.config.tiers["n/m"] = 3  # same keys, another value
    cands = by_key(router.candidates({"n": native}))
    assert (cands["n/m"].tier, cands["n/m"].tier_source) == (3, "config")
    assert native.cost_calls > calls  # rebuilt, not reused

    del router.config.tiers["n/m"]
    assert by_key(router.candidates({"n": native}))["n/m"].tier_source == "price"


def test_cache_rebuilds_at_once_when_tier_price_thresholds_change() -> None:
    native = bare("n", {"m": TIER2})  # mean 0.004
    router = make_router()
    assert router.candidates({"n": native})[0].tier == 2

    router.config.tier_price_thresholds = [0.001, 0.003]
    assert router.candidates({"n": native})[0].tier == 3
    router.config.tier_price_thresholds = [0.01]
    assert router.candidates({"n": native})[0].tier == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param({"tiers": {"n/m": 1}}, {"tiers": {"n/m": 2}}, id="tier-value"),
        pytest.param({"tiers": {"n/m": 1}}, {"tiers": {"n/m": 1, "n/x": 3}}, id="tier-added"),
        pytest.param({"tier_price_thresholds": (0.002, 0.005)}, {"tier_price_thresholds": (0.002,)}, id="thresholds"),
    ],
)
def test_cache_signature_includes_tiers_and_thresholds(first: dict[str, Any], second: dict[str, Any]) -> None:
    native = CountingProvider("n", {"m": TIER3})
    cache = CandidateCache(clock=Clock())
    [a] = cache.build({"n": native}, **first)
    assert cache.build({"n": native}, **first)[0] is a  # same arguments: reused
    [b] = cache.build({"n": native}, **second)
    assert b is not a
    expected_tier = second.get("tiers", {}).get("n/m") or infer_tier(*TIER3, second.get("tier_price_thresholds", ()))
    assert b.tier == expected_tier
