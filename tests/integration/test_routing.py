"""Routing across the real LiteLLM proxy and a native provider in one ``providers`` dict.

The native provider is ``muxer_litellm.testing``'s in-process fake, the way a host registers its
own providers beside the proxy. Costs are checked against the prices in conftest and the fake
upstream's usage formula (prompt = words + 3 per message, completion = words of the reply), so a
wrong price, a lost cost header or a mis-summed cascade fails here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from muxer_litellm import LiteLLMProvider
from muxer_litellm.errors import BudgetExceededError, FallbackExhaustedError, NoRouteError, ProviderUnavailableError
from muxer_litellm.host import LLMProvider
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from muxer_litellm.testing import BareFakeProvider
from tests.fake_upstream import RETRY_AFTER_SECONDS
from tests.integration.conftest import (
    CHEAP_IN,
    CHEAP_OUT,
    PASSES_RETRY_AFTER,
    REFUSE_IN,
    REFUSE_OUT,
    SMART_IN,
    SMART_OUT,
)

pytestmark = pytest.mark.integration

# The native provider's price table, per 1K tokens: dearer than cheap-chat, cheaper than smart-chat.
NATIVE_MINI = (0.0002, 0.0008)
NATIVE_PROMPT, NATIVE_COMPLETION = 12, 9  # the usage the native fake reports


@pytest.fixture
async def native() -> AsyncIterator[BareFakeProvider]:
    """A host's own provider (no catalog: names and prices only); native-broken answers 503."""
    async with BareFakeProvider(
        "native",
        {"native-mini": NATIVE_MINI, "native-broken": NATIVE_MINI},
        script={"native-broken": [ProviderUnavailableError("upstream answered 503", 503, "native")]},
        replies={"native-mini": "Paris."},
        prompt_tokens=NATIVE_PROMPT,
        completion_tokens=NATIVE_COMPLETION,
    ) as p:
        yield p


@pytest.fixture
def providers(provider: LiteLLMProvider, native: BareFakeProvider) -> dict[str, LLMProvider]:
    """How a ModelMuxer host registers them: the proxy beside a native provider."""
    return {"litellm": provider, "native": native}


SIMPLE = [{"role": "user", "content": "What is the capital of France?"}]
CODE = [{"role": "user", "content": "Write a Python function that merges two sorted lists, with unit tests."}]
REFUSAL = "I'm sorry, I can't help with that."


def upstream_usage(messages: list[dict[str, Any]], reply: str) -> tuple[int, int]:
    """The fake upstream's own usage formula (tests/fake_upstream.py)."""
    prompt = sum(len(str(m["content"]).split()) for m in messages) + 3 * len(messages)
    return prompt, max(1, len(reply.split()))


def answer(response: Any) -> str:
    return str(response.choices[0].message.content)


async def test_simple_prompt_routes_to_the_cheap_proxy_model(providers: dict[str, LLMProvider]) -> None:
    router = HeuristicRouter()
    response = await router.route_request(SIMPLE, providers, strategy="heuristic")
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("litellm", "cheap-chat")
    assert answer(response) == "echo: What is the capital of France?"
    assert "prompt is simple" in meta.routing_reason
    assert "cheapest adequate" in meta.routing_reason
    assert response.usage is not None
    expected = response.usage.prompt_tokens * CHEAP_IN + response.usage.completion_tokens * CHEAP_OUT
    assert meta.estimated_cost == pytest.approx(expected)
    assert meta.cost_source == "proxy"
    assert meta.total_cost == pytest.approx(expected)
    assert [(a.provider, a.model, a.outcome) for a in meta.attempts] == [("litellm", "cheap-chat", "ok")]


async def test_code_prompt_routes_to_the_strong_proxy_model(providers: dict[str, LLMProvider]) -> None:
    router = HeuristicRouter()
    response = await router.route_request(CODE, providers, strategy="heuristic")
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("litellm", "smart-chat")
    assert "prompt is code" in meta.routing_reason
    assert "code needs tier >= 2" in meta.routing_reason
    assert response.usage is not None
    expected = response.usage.prompt_tokens * SMART_IN + response.usage.completion_tokens * SMART_OUT
    assert meta.estimated_cost == pytest.approx(expected)


async def test_long_prompt_routes_to_the_strong_proxy_model(providers: dict[str, LLMProvider]) -> None:
    router = HeuristicRouter()
    long_text = "Summarise the following meeting notes for the board. " + "The team met and agreed. " * 1500
    await router.refresh(providers)  # select_model is sync: it reads the catalogs as they are
    decision = router.select_model([{"role": "user", "content": long_text}], providers)
    assert decision.prompt_tokens >= router.config.long_context_tokens
    assert (decision.provider, decision.model) == ("litellm", "smart-chat")
    assert "long_context" in decision.reason


async def test_combo_falls_back_from_a_429_to_native_and_back_to_the_proxy(
    providers: dict[str, LLMProvider], native: BareFakeProvider, proxy_version: tuple[int, int, int]
) -> None:
    config = RoutingConfig(
        combos={"mixed": {"targets": ["litellm/ratelimited-chat", "native/native-broken", "litellm/cheap-chat"]}}
    )
    router = HeuristicRouter(config)
    response = await router.route_request(SIMPLE, providers, strategy="mixed")
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("litellm", "cheap-chat")
    assert [(a.provider, a.model, a.outcome, a.error) for a in meta.attempts] == [
        ("litellm", "ratelimited-chat", "failed", "RateLimitError"),
        ("native", "native-broken", "failed", "ProviderUnavailableError"),
        ("litellm", "cheap-chat", "ok", None),
    ]
    assert [call.model for call in native.calls] == ["native-broken"]
    assert meta.routing_strategy == "mixed"
    assert "after 2 failed attempt(s)" in meta.routing_reason
    assert meta.total_cost == pytest.approx(meta.estimated_cost)

    limited = meta.attempts[0]
    status = router.state.status("litellm/ratelimited-chat", "litellm")
    assert status is not None
    if proxy_version >= PASSES_RETRY_AFTER:
        # The upstream asked for 7 s (the proxy forwards it as llm_provider-retry-after): cooling down.
        assert (limited.retry_after, limited.retry_after_source) == (RETRY_AFTER_SECONDS, "proxy")
        assert 5 < status.remaining <= 7
    else:
        # An older proxy drops the wait: the router's default, and the attempt says so.
        assert (limited.retry_after, limited.retry_after_source) == (config.rate_limit_cooldown, "default")
        assert config.rate_limit_cooldown - 2 < status.remaining <= config.rate_limit_cooldown

    again = await router.route_request(SIMPLE, providers, strategy="mixed")
    assert "litellm/ratelimited-chat (rate limited (429)" in again.router_metadata.routing_reason
    assert [a.model for a in again.router_metadata.attempts] == ["native-broken", "cheap-chat"]


async def test_combo_answers_from_the_native_target_with_its_own_cost(
    providers: dict[str, LLMProvider], native: BareFakeProvider
) -> None:
    router = HeuristicRouter(
        RoutingConfig(combos={"n": {"targets": ["litellm/ratelimited-chat", "native/native-mini"]}})
    )
    response = await router.route_request(SIMPLE, providers, strategy="n")
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("native", "native-mini")
    expected = (NATIVE_PROMPT * NATIVE_MINI[0] + NATIVE_COMPLETION * NATIVE_MINI[1]) / 1000
    assert meta.estimated_cost == pytest.approx(expected)
    assert answer(response) == "Paris."
    assert [a.outcome for a in meta.attempts] == ["failed", "ok"]


async def test_cascade_escalates_past_a_refusal_and_records_both_costs(providers: dict[str, LLMProvider]) -> None:
    config = RoutingConfig(cascades={"careful": {"steps": ["litellm/refuse-chat", "litellm/smart-chat"]}})
    router = HeuristicRouter(config)
    messages = [{"role": "user", "content": "Explain how a hash map handles collisions."}]
    response = await router.route_request(messages, providers, strategy="careful")
    meta = response.router_metadata
    first, second = meta.attempts
    assert (first.model, first.outcome) == ("refuse-chat", "escalated")
    assert first.detail is not None
    assert "refusal" in first.detail
    assert (second.model, second.outcome) == ("smart-chat", "accepted")
    prompt, completion = upstream_usage(messages, REFUSAL)
    assert first.cost == pytest.approx(prompt * REFUSE_IN + completion * REFUSE_OUT)
    assert response.usage is not None
    smart_cost = response.usage.prompt_tokens * SMART_IN + response.usage.completion_tokens * SMART_OUT
    assert second.cost == pytest.approx(smart_cost)
    assert meta.estimated_cost == pytest.approx(smart_cost)
    assert meta.total_cost == pytest.approx(first.cost + smart_cost)
    assert answer(response).startswith("echo: Explain")


async def test_max_cost_that_only_the_cheap_model_fits_is_respected(providers: dict[str, LLMProvider]) -> None:
    router = HeuristicRouter()
    plan = await router.plan(CODE, providers, strategy="cost_optimized")
    priced = [t for t in plan.candidates if t.estimated_cost is not None]
    assert priced[0].key == "litellm/cheap-chat"
    assert priced[0].estimated_cost is not None
    assert priced[1].estimated_cost is not None
    max_cost = (priced[0].estimated_cost + priced[1].estimated_cost) / 2

    # The heuristic wants a stronger tier for code, but only cheap-chat fits the budget.
    response = await router.route_request(CODE, providers, strategy="heuristic", max_cost=max_cost)
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("litellm", "cheap-chat")
    assert meta.estimated_cost is not None
    assert meta.estimated_cost <= max_cost
    assert "no candidate reaches tier 2; strongest available" in meta.routing_reason
    budgeted = await router.plan(CODE, providers, strategy="heuristic", max_cost=max_cost)
    assert [t.key for t in budgeted.candidates] == ["litellm/cheap-chat"]
    assert budgeted.excluded["litellm/smart-chat"].startswith("estimated $")
    assert budgeted.excluded["native/native-mini"].startswith("estimated $")
    assert budgeted.excluded["litellm/mystery-chat"].startswith("price unknown")  # unknown is never "within budget"

    with pytest.raises(BudgetExceededError, match="no candidate fits max_cost"):
        await router.route_request(CODE, providers, strategy="heuristic", max_cost=priced[0].estimated_cost / 10)


async def test_the_proxy_token_counter_decides_a_borderline_context_window(
    providers: dict[str, LLMProvider],
) -> None:
    # ~18,000 tokens by the 3-chars-per-token estimate, ~9,000 by the real tokenizer:
    # cheap-chat's 16,000-token window decides, so routing asks the proxy.
    messages = [{"role": "user", "content": "hello " * 9000}]
    exact = await HeuristicRouter().plan(messages, providers, strategy="cost_optimized")
    assert exact.profile.prompt_tokens < 16000 < (len(messages[0]["content"]) / 3)
    assert exact.candidates[0].key == "litellm/cheap-chat"

    rough = await HeuristicRouter(RoutingConfig(token_counter=False)).plan(
        messages, providers, strategy="cost_optimized"
    )
    assert rough.profile.prompt_tokens > 16000
    assert "context window 16000" in rough.excluded["litellm/cheap-chat"]
    assert rough.candidates[0].key != "litellm/cheap-chat"


async def test_streaming_through_a_combo_falls_back_before_the_first_chunk(
    providers: dict[str, LLMProvider],
) -> None:
    router = HeuristicRouter(
        RoutingConfig(combos={"s": {"targets": ["litellm/ratelimited-chat", "litellm/cheap-chat"]}})
    )
    chunks = [c async for c in router.route_stream(SIMPLE, providers, strategy="s")]
    text = "".join(
        (choice.get("delta") or {}).get("content") or "" for chunk in chunks for choice in chunk.get("choices", [])
    )
    assert text == "echo: What is the capital of France?"
    metas = [c["router_metadata"] for c in chunks if "router_metadata" in c]
    assert len(metas) == 1
    meta = metas[0]
    assert (meta["selected_provider"], meta["selected_model"]) == ("litellm", "cheap-chat")
    assert [(a["model"], a["outcome"]) for a in meta["attempts"]] == [
        ("ratelimited-chat", "failed"),
        ("cheap-chat", "ok"),
    ]
    prompt, completion = upstream_usage(SIMPLE, text)
    assert meta["estimated_cost"] == pytest.approx(prompt * CHEAP_IN + completion * CHEAP_OUT)
    assert meta["total_cost"] == pytest.approx(meta["estimated_cost"])


async def test_an_operator_tier_in_model_info_reaches_routing_but_never_beats_a_known_price(
    providers: dict[str, LLMProvider],
) -> None:
    router = HeuristicRouter()
    await router.refresh(providers)
    mystery = next(c for c in router.candidates(providers) if c.key == "litellm/mystery-chat")
    assert (mystery.tier, mystery.tier_source, mystery.price_known) == (3, "catalog", False)
    # Tier 3 is adequate for code, but its price is unknown: the priced smart-chat wins.
    decision = router.select_model(CODE, providers)
    assert decision.key == "litellm/smart-chat"
    ranked = [decision.key, *(a.key for a in decision.alternatives)]
    assert ranked.index("litellm/mystery-chat") > ranked.index("litellm/cheap-chat")


# ---------------------------------------------------------------------------- routing state under load


class Clock:
    """The router's clock, moved by the test (the proxy's own waits stay real)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def calls_to(responses: list[Any], model: str) -> int:
    """Calls a batch of routed answers made to ``model`` (every attempt that was not skipped)."""
    return sum(1 for r in responses for a in r.router_metadata.attempts if a.model == model and a.outcome != "skipped")


async def test_a_burst_after_a_429_leaves_the_rate_limited_target_alone(providers: dict[str, LLMProvider]) -> None:
    router = HeuristicRouter(
        RoutingConfig(combos={"limited": {"targets": ["litellm/ratelimited-chat", "litellm/cheap-chat"]}})
    )
    first = await router.route_request(SIMPLE, providers, strategy="limited")
    assert calls_to([first], "ratelimited-chat") == 1

    burst = await asyncio.gather(*(router.route_request(SIMPLE, providers, strategy="limited") for _ in range(20)))

    assert calls_to(burst, "ratelimited-chat") == 0  # still in its 7 s Retry-After
    assert {r.router_metadata.selected_model for r in burst} == {"cheap-chat"}


async def test_a_burst_at_a_half_open_target_sends_it_one_trial(providers: dict[str, LLMProvider]) -> None:
    clock = Clock()
    config = RoutingConfig(
        combos={"flaky": {"targets": ["litellm/broken-chat", "litellm/cheap-chat"]}},
        breaker_threshold=1,
        breaker_cooldown=30,
    )
    router = HeuristicRouter(config, clock=clock)
    await router.route_request(SIMPLE, providers, strategy="flaky")  # broken-chat's 500 opens its breaker
    assert router.state.breaker_state("litellm/broken-chat") == "open"

    clock.now += 30  # the breaker is half-open: one call may try it
    burst = await asyncio.gather(*(router.route_request(SIMPLE, providers, strategy="flaky") for _ in range(20)))

    assert calls_to(burst, "broken-chat") == 1
    assert {r.router_metadata.selected_model for r in burst} == {"cheap-chat"}
    assert router.state.breaker_state("litellm/broken-chat") == "open"  # the trial failed: open again


async def test_exhausted_retry_after_counts_a_target_left_out_while_cooling(
    providers: dict[str, LLMProvider],
) -> None:
    config = RoutingConfig(
        combos={
            "limited": {"targets": ["litellm/ratelimited-chat"]},
            "both": {"targets": ["litellm/broken-chat", "litellm/ratelimited-chat"]},
        },
        breaker_threshold=1,
        breaker_cooldown=30,
    )
    router = HeuristicRouter(config)
    with pytest.raises(FallbackExhaustedError):
        await router.route_request(SIMPLE, providers, strategy="limited")  # the 429 asks for 7 s

    with pytest.raises(FallbackExhaustedError) as exhausted:
        await router.route_request(SIMPLE, providers, strategy="both")
    # broken-chat's breaker is open for 30 s, but ratelimited-chat (left out while cooling) is
    # free in under 7 s: that is the wait, not the breaker's.
    assert exhausted.value.retry_after is not None
    assert 4 < exhausted.value.retry_after <= 7
    assert exhausted.value.retryable is True
    assert [a["model"] for a in exhausted.value.attempts] == ["broken-chat"]

    with pytest.raises(NoRouteError) as waiting:
        await router.route_request(SIMPLE, providers, strategy="both")
    assert waiting.value.retry_after is not None
    assert waiting.value.retry_after == pytest.approx(exhausted.value.retry_after, abs=1.0)
