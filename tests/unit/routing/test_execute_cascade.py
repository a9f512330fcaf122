"""Cascades through ``HeuristicRouter.route_request``: the automatic ``cascade`` strategy (cheapest
eligible, then the best-ranked candidate of each stronger known tier), named cascades from the config,
and ``hybrid`` (the heuristic pick, escalated while cascades are enabled). Covers the default quality
check, custom scorers and thresholds, the best-answer fallback, ``max_cost`` over the whole cascade,
failing steps and the configuration errors.

Costs are derived from the fakes: ``FakeProvider`` answers with 10 prompt and 20 completion tokens
and prices per 1K tokens, so one answered call costs ``(10 * in + 20 * out) / 1000``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    ChatCompletionResponse,
    FallbackExhaustedError,
    ProviderUnavailableError,
    RateLimitError,
    RoutingConfigError,
)
from muxer_litellm.host import MessageInput
from muxer_litellm.routing import HeuristicRouter, QualityScorer, QualityVerdict, RoutingConfig
from muxer_litellm.routing.classify import estimate_prompt_tokens
from muxer_litellm.testing import FakeProvider, Outcome
from tests.unit.routing.helpers import (
    CHEAP,
    MID,
    QUESTION,
    answered_cost,
    bare,
    called,
    user,
)

# Per-1K prices; the tier comes from the mean of input and output against the default
# thresholds (0.002, 0.005): cheap is tier 1, mid tier 2, strong tier 3.
CHEAP2 = (0.0008, 0.0016)
MID2 = (0.0035, 0.0045)
STRONG = (0.01, 0.03)


CODE_QUESTION = "Write a python function that reverses a linked list."
REFUSAL = "I'm sorry, but I can't help with that."


def tiered(name: str = "p", script: Mapping[str, Sequence[Outcome]] | None = None) -> FakeProvider:
    return bare(name, {"cheap": CHEAP, "mid": MID, "strong": STRONG}, script=script)


def scores_by_model(scores: Mapping[str, Any], seen: list[str] | None = None) -> QualityScorer:
    """An async scorer that answers ``scores[response.model]`` and logs what it saw."""

    async def check(messages: Sequence[MessageInput], response: ChatCompletionResponse) -> Any:
        if seen is not None:
            seen.append(response.model)
        return scores[response.model]

    return check


# ---------------------------------------------------------------------------- accept / escalate (default check)


async def test_first_answer_that_passes_is_accepted_with_one_call() -> None:
    p = tiered()
    response = await HeuristicRouter().route_request(user(QUESTION), {"p": p}, strategy="cascade")

    assert called(p) == ["cheap"]
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("p", "cheap")
    assert meta.routing_strategy == "cascade"
    [attempt] = meta.attempts
    assert (attempt.provider, attempt.model, attempt.outcome) == ("p", "cheap", "accepted")
    assert attempt.quality_score == 1.0
    assert attempt.detail is not None
    assert "passed the default checks" in attempt.detail
    assert ">= 0.50" in attempt.detail
    assert attempt.cost == pytest.approx(answered_cost(CHEAP))
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP))
    assert "accepted p/cheap at step 1" in meta.routing_reason


def _empty(p: FakeProvider) -> Outcome:
    return ""


def _refusal(p: FakeProvider) -> Outcome:
    return REFUSAL


def _cut_off(p: FakeProvider) -> Outcome:
    return p.response("cheap", "Paris is the capital and the largest", finish_reason="length")


@pytest.mark.parametrize(
    ("first_answer", "score", "why"),
    [
        pytest.param(_empty, 0.0, "empty answer", id="empty"),
        pytest.param(_refusal, 0.1, "refusal", id="refusal"),
        pytest.param(_cut_off, 0.2, "finish_reason=length", id="finish-reason-length"),
    ],
)
async def test_failed_answer_escalates_to_the_next_step_and_both_costs_count(
    first_answer: Callable[[FakeProvider], Outcome], score: float, why: str
) -> None:
    p = tiered()
    p.script["cheap"] = [first_answer(p)]
    response = await HeuristicRouter().route_request(user(QUESTION), {"p": p}, strategy="cascade")

    assert called(p) == ["cheap", "mid"]
    meta = response.router_metadata
    assert meta.selected_model == "mid"
    assert response.choices[0].message.content == "answer from p/mid"
    first, second = meta.attempts
    assert (first.model, first.outcome, first.quality_score) == ("cheap", "escalated", score)
    assert first.detail is not None
    assert why in first.detail
    assert f"< {0.5:.2f}" in first.detail
    assert (second.model, second.outcome) == ("mid", "accepted")
    assert first.cost == pytest.approx(answered_cost(CHEAP))
    assert second.cost == pytest.approx(answered_cost(MID))
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP) + answered_cost(MID))
    assert "accepted p/mid at step 2" in meta.routing_reason


async def test_too_short_answer_to_a_long_question_escalates() -> None:
    question = " ".join(f"w{i}" for i in range(150))  # 150 words: an answer needs about 15
    p = tiered(script={"cheap": ["Yes."], "mid": [" ".join(["word"] * 15)]})
    response = await HeuristicRouter().route_request(user(question), {"p": p}, strategy="cascade")

    assert called(p) == ["cheap", "mid"]
    first, second = response.router_metadata.attempts
    assert second.outcome == "accepted"
    assert first.outcome == "escalated"
    assert first.quality_score == 0.3
    assert first.detail is not None
    assert "too short" in first.detail


async def test_invalid_json_escalates_when_json_was_asked_for() -> None:
    p = tiered(script={"cheap": ["Sure! Here it is: name=Paris"], "mid": ['```json\n{"name": "Paris"}\n```']})
    response = await HeuristicRouter().route_request(
        user(QUESTION), {"p": p}, strategy="cascade", response_format={"type": "json_object"}
    )

    assert called(p) == ["cheap", "mid"]
    first, second = response.router_metadata.attempts
    assert (first.outcome, first.quality_score) == ("escalated", 0.0)
    assert first.detail is not None
    assert "invalid JSON" in first.detail
    assert second.outcome == "accepted"
    # The request parameters reach every step.
    assert all(kwargs["response_format"] == {"type": "json_object"} for _, kwargs in p.calls)


# ---------------------------------------------------------------------------- automatic steps


def five_models() -> FakeProvider:
    prices: dict[str, tuple[float, float] | None] = {
        "mystery": None,  # unknown price: unknown tier, never a step
        "strong": STRONG,
        "mid2": MID2,
        "cheap2": CHEAP2,
        "mid": MID,
        "cheap": CHEAP,
    }
    return bare("p", prices, script={m: [""] for m in prices})


@pytest.mark.parametrize(
    ("max_steps", "expected"),
    [(1, ["cheap"]), (2, ["cheap", "mid"]), (3, ["cheap", "mid", "strong"]), (5, ["cheap", "mid", "strong"])],
)
async def test_automatic_steps_are_cheapest_then_best_of_each_stronger_tier(
    max_steps: int, expected: list[str]
) -> None:
    p = five_models()
    router = HeuristicRouter(RoutingConfig(cascade_max_steps=max_steps))

    plan = await router.plan(user(QUESTION), {"p": p}, strategy="cascade")
    assert plan.kind == "cascade"
    assert [t.model for t in plan.candidates] == expected

    response = await router.route_request(user(QUESTION), {"p": p}, strategy="cascade")
    assert called(p) == expected
    assert [a.model for a in response.router_metadata.attempts] == expected
    assert all(a.outcome == "escalated" for a in response.router_metadata.attempts)


async def test_cascade_starts_at_the_cheapest_even_when_the_prompt_needs_a_higher_tier() -> None:
    p = tiered()
    plan = await HeuristicRouter().plan(user(CODE_QUESTION), {"p": p}, strategy="cascade")
    assert [t.model for t in plan.candidates] == ["cheap", "mid", "strong"]


# ---------------------------------------------------------------------------- custom scorers and thresholds


async def test_custom_scorer_and_threshold_decide_instead_of_the_default_check() -> None:
    p = tiered(script={"cheap": [""]})  # the default check would fail an empty answer
    seen: list[str] = []
    response = await HeuristicRouter().route_request(
        user(QUESTION),
        {"p": p},
        strategy="cascade",
        quality_check=scores_by_model({"cheap": 0.95, "mid": 0.0, "strong": 0.0}, seen),
        quality_threshold=0.9,
    )
    assert seen == ["cheap"]
    [attempt] = response.router_metadata.attempts
    assert (attempt.outcome, attempt.quality_score) == ("accepted", 0.95)
    assert attempt.detail is not None
    assert "custom quality check" in attempt.detail
    assert ">= 0.90" in attempt.detail


@pytest.mark.parametrize(
    ("threshold", "expected_calls"),
    [(0.5, ["cheap"]), (0.7, ["cheap", "mid"]), (0.95, ["cheap", "mid", "strong"]), (0.0, ["cheap"])],
)
async def test_quality_threshold_sets_how_far_the_cascade_climbs(threshold: float, expected_calls: list[str]) -> None:
    p = tiered()
    scores = {"cheap": 0.6, "mid": 0.8, "strong": 1.0}
    response = await HeuristicRouter().route_request(
        user(QUESTION), {"p": p}, strategy="cascade", quality_check=scores_by_model(scores), quality_threshold=threshold
    )
    assert called(p) == expected_calls
    last = response.router_metadata.attempts[-1]
    assert last.outcome == "accepted"
    assert last.quality_score == scores[expected_calls[-1]]


async def test_config_quality_threshold_is_the_default() -> None:
    p = tiered()
    router = HeuristicRouter(RoutingConfig(quality_threshold=0.7))
    scores = {"cheap": 0.6, "mid": 0.8, "strong": 1.0}
    response = await router.route_request(
        user(QUESTION), {"p": p}, strategy="cascade", quality_check=scores_by_model(scores)
    )
    assert called(p) == ["cheap", "mid"]
    assert response.router_metadata.selected_model == "mid"


async def test_router_level_quality_check_is_used_and_a_per_request_one_wins() -> None:
    router_seen: list[str] = []
    router = HeuristicRouter(quality_check=scores_by_model({"cheap": 0.1, "mid": 0.9, "strong": 1.0}, router_seen))

    p = tiered()
    response = await router.route_request(user(QUESTION), {"p": p}, strategy="cascade")
    assert router_seen == ["cheap", "mid"]
    assert response.router_metadata.selected_model == "mid"

    p2 = tiered()
    request_seen: list[str] = []
    response = await router.route_request(
        user(QUESTION),
        {"p": p2},
        strategy="cascade",
        quality_check=scores_by_model({"cheap": 0.9, "mid": 0.0, "strong": 0.0}, request_seen),
    )
    assert request_seen == ["cheap"]
    assert router_seen == ["cheap", "mid"]  # not asked again
    assert response.router_metadata.selected_model == "cheap"


async def test_scorer_gets_the_request_messages_and_the_answer() -> None:
    got: list[tuple[list[MessageInput], str | None]] = []

    async def check(messages: Sequence[MessageInput], response: ChatCompletionResponse) -> float:
        content = response.choices[0].message.content
        got.append((list(messages), content if isinstance(content, str) else None))
        return 1.0

    messages = user(QUESTION)
    await HeuristicRouter().route_request(messages, {"p": tiered()}, strategy="cascade", quality_check=check)
    assert got == [(messages, "answer from p/cheap")]


async def test_scorer_returning_a_verdict_sets_score_and_reason() -> None:
    async def check(messages: Sequence[MessageInput], response: ChatCompletionResponse) -> QualityVerdict:
        if response.model == "cheap":
            return QualityVerdict(0.25, "cites no source")
        return QualityVerdict(0.75, "cites two sources")

    response = await HeuristicRouter().route_request(
        user(QUESTION), {"p": tiered()}, strategy="cascade", quality_check=check
    )
    first, second = response.router_metadata.attempts
    assert (first.outcome, first.quality_score) == ("escalated", 0.25)
    assert first.detail is not None
    assert "cites no source" in first.detail
    assert (second.outcome, second.quality_score) == ("accepted", 0.75)
    assert second.detail is not None
    assert "cites two sources" in second.detail


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        pytest.param(1.5, ValueError, id="above-1"),
        pytest.param(-0.1, ValueError, id="below-0"),
        pytest.param(math.nan, ValueError, id="nan"),
        pytest.param(math.inf, ValueError, id="inf"),
        pytest.param(QualityVerdict(2.0, "too good"), ValueError, id="verdict-above-1"),
        pytest.param("x", TypeError, id="string"),
        pytest.param(None, TypeError, id="none"),
        pytest.param(True, TypeError, id="bool"),
    ],
)
async def test_scorer_returning_something_other_than_a_score_in_0_1_is_an_error(
    bad: Any, error: type[Exception]
) -> None:
    p = tiered()
    with pytest.raises(error):
        await HeuristicRouter().route_request(
            user(QUESTION), {"p": p}, strategy="cascade", quality_check=scores_by_model(dict.fromkeys(p.cards, bad))
        )
    assert called(p) == ["cheap"]  # a broken scorer does not silently walk the cascade


# ---------------------------------------------------------------------------- no step passes


@pytest.mark.parametrize(
    ("scores", "best"),
    [
        pytest.param({"cheap": 0.4, "mid": 0.2, "strong": 0.3}, "cheap", id="first-is-best"),
        pytest.param({"cheap": 0.1, "mid": 0.45, "strong": 0.3}, "mid", id="middle-is-best"),
        pytest.param({"cheap": 0.3, "mid": 0.3, "strong": 0.1}, "mid", id="tie-goes-to-the-later-step"),
        pytest.param({"cheap": 0.0, "mid": 0.0, "strong": 0.0}, "strong", id="all-zero-gives-the-last"),
    ],
)
async def test_when_no_step_passes_the_best_scoring_answer_is_returned(scores: dict[str, float], best: str) -> None:
    p = tiered()
    response = await HeuristicRouter().route_request(
        user(QUESTION), {"p": p}, strategy="cascade", quality_check=scores_by_model(scores)
    )
    assert called(p) == ["cheap", "mid", "strong"]
    meta = response.router_metadata
    assert meta.selected_model == best
    assert response.choices[0].message.content == f"answer from p/{best}"
    assert [a.outcome for a in meta.attempts] == ["escalated"] * 3
    assert "no step passed the quality check" in meta.routing_reason
    assert f"returning the best answer (p/{best}, quality {scores[best]:.2f})" in meta.routing_reason
    returned = [a.model for a in meta.attempts if (a.detail or "").endswith("returned as the best answer")]
    assert returned == [best]
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP) + answered_cost(MID) + answered_cost(STRONG))


# ---------------------------------------------------------------------------- max_cost over the whole cascade

MAX_TOKENS = 100  # with max_tokens set, routing estimates exactly that many output tokens


async def test_max_cost_skips_a_step_that_could_exceed_it_and_returns_the_failed_answer() -> None:
    p = tiered(script={"cheap": [""]})
    messages = user(QUESTION)
    prompt = estimate_prompt_tokens(messages)
    estimate_cheap = p.calculate_cost(prompt, MAX_TOKENS, "cheap")
    estimate_mid = p.calculate_cost(prompt, MAX_TOKENS, "mid")
    spent = answered_cost(CHEAP)
    max_cost = estimate_mid + spent / 2
    # Each step alone fits, the strong one does not, and step 1 + step 2 could exceed max_cost.
    assert estimate_cheap <= max_cost
    assert estimate_mid <= max_cost < spent + estimate_mid
    assert p.calculate_cost(prompt, MAX_TOKENS, "strong") > max_cost

    response = await HeuristicRouter().route_request(
        messages, {"p": p}, strategy="cascade", max_cost=max_cost, max_tokens=MAX_TOKENS
    )

    assert called(p) == ["cheap"]
    meta = response.router_metadata
    assert meta.selected_model == "cheap"
    assert response.choices[0].message.content == ""
    first, second = meta.attempts
    assert (first.model, first.outcome) == ("cheap", "escalated")
    assert (second.model, second.outcome, second.cost) == ("mid", "skipped", None)
    assert second.detail is not None
    assert "max_cost" in second.detail
    assert "stopped before p/mid" in meta.routing_reason
    assert meta.total_cost == pytest.approx(spent)


async def test_max_cost_that_covers_spent_plus_the_next_estimate_lets_the_step_run() -> None:
    p = tiered(script={"cheap": [""]})
    messages = user(QUESTION)
    prompt = estimate_prompt_tokens(messages)
    max_cost = answered_cost(CHEAP) + p.calculate_cost(prompt, MAX_TOKENS, "mid")

    response = await HeuristicRouter().route_request(
        messages, {"p": p}, strategy="cascade", max_cost=max_cost, max_tokens=MAX_TOKENS
    )
    assert called(p) == ["cheap", "mid"]
    assert response.router_metadata.attempts[-1].outcome == "accepted"


async def test_named_cascade_step_with_unknown_price_is_excluded_when_max_cost_is_set() -> None:
    p = bare("p", {"cheap": CHEAP, "mystery": None}, script={"cheap": [""]})
    config = RoutingConfig(cascades={"x": {"steps": ["p/cheap", "p/mystery"]}})

    response = await HeuristicRouter(config).route_request(user(QUESTION), {"p": p}, strategy="x", max_cost=1.0)
    assert called(p) == ["cheap"]
    meta = response.router_metadata
    assert [a.model for a in meta.attempts] == ["cheap"]
    assert "p/mystery (price unknown" in meta.routing_reason
    assert meta.selected_model == "cheap"


async def test_named_cascade_step_with_unknown_price_runs_without_max_cost_and_total_is_unknown() -> None:
    p = bare("p", {"cheap": CHEAP, "mystery": None}, script={"cheap": [""]})
    config = RoutingConfig(cascades={"x": {"steps": ["p/cheap", "p/mystery"]}})

    response = await HeuristicRouter(config).route_request(user(QUESTION), {"p": p}, strategy="x")
    assert called(p) == ["cheap", "mystery"]
    meta = response.router_metadata
    assert meta.selected_model == "mystery"
    assert meta.attempts[-1].cost is None
    assert meta.total_cost is None  # an unknown cost is never read as free


# ---------------------------------------------------------------------------- named cascades


async def test_named_cascade_runs_its_steps_in_order_with_its_own_threshold() -> None:
    p = tiered()
    config = RoutingConfig(cascades={"x": {"steps": ["p/strong", "p/cheap"], "quality_threshold": 0.7}})
    scores = {"strong": 0.6, "cheap": 0.8, "mid": 1.0}

    response = await HeuristicRouter(config).route_request(
        user(QUESTION), {"p": p}, strategy="x", quality_check=scores_by_model(scores)
    )
    assert called(p) == ["strong", "cheap"]  # configured order, not price order
    meta = response.router_metadata
    assert meta.routing_strategy == "x"
    assert meta.routing_reason.startswith("cascade 'x'")
    first, second = meta.attempts
    assert (first.model, first.outcome) == ("strong", "escalated")
    assert first.detail is not None
    assert "< 0.70" in first.detail
    assert (second.model, second.outcome) == ("cheap", "accepted")
    assert meta.total_cost == pytest.approx(answered_cost(STRONG) + answered_cost(CHEAP))


async def test_request_quality_threshold_overrides_the_named_cascade_threshold() -> None:
    p = tiered()
    config = RoutingConfig(cascades={"x": {"steps": ["p/strong", "p/cheap"], "quality_threshold": 0.7}})
    response = await HeuristicRouter(config).route_request(
        user(QUESTION),
        {"p": p},
        strategy="x",
        quality_check=scores_by_model({"strong": 0.6, "cheap": 0.8}),
        quality_threshold=0.5,
    )
    assert called(p) == ["strong"]
    assert response.router_metadata.attempts[0].outcome == "accepted"


async def test_named_cascade_without_threshold_uses_the_config_threshold() -> None:
    p = tiered()
    config = RoutingConfig(quality_threshold=0.9, cascades={"x": {"steps": ["p/cheap", "p/mid"]}})
    await HeuristicRouter(config).route_request(
        user(QUESTION), {"p": p}, strategy="x", quality_check=scores_by_model({"cheap": 0.85, "mid": 0.95})
    )
    assert called(p) == ["cheap", "mid"]


async def test_named_cascade_is_the_default_strategy_when_configured() -> None:
    p = tiered(script={"cheap": [""]})
    config = RoutingConfig(default_strategy="x", cascades={"x": {"steps": ["p/cheap", "p/strong"]}})
    response = await HeuristicRouter(config).route_request(user(QUESTION), {"p": p})
    assert called(p) == ["cheap", "strong"]
    assert response.router_metadata.routing_strategy == "x"


# ---------------------------------------------------------------------------- hybrid


async def test_hybrid_starts_at_the_heuristic_pick_and_escalates_to_stronger_tiers() -> None:
    p = tiered(script={"mid": [""]})
    router = HeuristicRouter()

    plan = await router.plan(user(CODE_QUESTION), {"p": p}, strategy="hybrid")
    assert plan.kind == "cascade"
    assert [t.model for t in plan.candidates] == ["mid", "strong"]  # code needs tier 2: cheap is never tried

    response = await router.route_request(user(CODE_QUESTION), {"p": p}, strategy="hybrid")
    assert called(p) == ["mid", "strong"]
    meta = response.router_metadata
    assert meta.routing_strategy == "hybrid"
    assert [a.outcome for a in meta.attempts] == ["escalated", "accepted"]
    assert meta.total_cost == pytest.approx(answered_cost(MID) + answered_cost(STRONG))


async def test_hybrid_on_a_simple_prompt_starts_at_the_cheapest() -> None:
    p = tiered(script={"cheap": [REFUSAL]})
    response = await HeuristicRouter().route_request(user(QUESTION), {"p": p}, strategy="hybrid")
    assert called(p) == ["cheap", "mid"]
    assert response.router_metadata.selected_model == "mid"


async def test_hybrid_with_cascades_disabled_is_a_plain_heuristic_route() -> None:
    p = tiered(script={"mid": [""]})
    router = HeuristicRouter(RoutingConfig(cascade_enabled=False))

    plan = await router.plan(user(CODE_QUESTION), {"p": p}, strategy="hybrid")
    assert plan.kind == "single"

    response = await router.route_request(user(CODE_QUESTION), {"p": p}, strategy="hybrid")
    assert called(p) == ["mid"]  # the empty answer is not checked, so not escalated
    meta = response.router_metadata
    assert meta.selected_model == "mid"
    assert meta.routing_strategy == "hybrid"
    [attempt] = meta.attempts
    assert (attempt.outcome, attempt.quality_score) == ("ok", None)
    assert meta.total_cost == pytest.approx(answered_cost(MID))


# ---------------------------------------------------------------------------- failing steps


async def test_rate_limited_step_is_recorded_as_failed_and_the_cascade_continues() -> None:
    now = [0.0]
    p = tiered(script={"cheap": [RateLimitError("slow down", retry_after=7.0)]})
    response = await HeuristicRouter(clock=lambda: now[0]).route_request(user(QUESTION), {"p": p}, strategy="cascade")

    assert called(p) == ["cheap", "mid"]
    first, second = response.router_metadata.attempts
    assert (first.model, first.outcome, first.error, first.cost) == ("cheap", "failed", "RateLimitError", None)
    assert first.detail is not None
    assert "slow down" in first.detail
    assert (second.model, second.outcome) == ("mid", "accepted")
    assert response.router_metadata.total_cost == pytest.approx(answered_cost(MID))  # errors are not billed


async def test_answer_that_failed_the_check_is_returned_when_the_next_step_errors() -> None:
    p = tiered(
        script={"cheap": [""], "mid": [ProviderUnavailableError("503")], "strong": [ProviderUnavailableError("503")]}
    )
    response = await HeuristicRouter().route_request(user(QUESTION), {"p": p}, strategy="cascade")
    assert called(p) == ["cheap", "mid", "strong"]
    meta = response.router_metadata
    assert meta.selected_model == "cheap"
    assert [a.outcome for a in meta.attempts] == ["escalated", "failed", "failed"]
    assert "no step passed the quality check" in meta.routing_reason


async def test_bad_request_stops_the_cascade() -> None:
    error = BadRequestError("messages[0].content is invalid", 400)
    p = tiered(script={"cheap": [error]})
    with pytest.raises(BadRequestError) as caught:
        await HeuristicRouter().route_request(user(QUESTION), {"p": p}, strategy="cascade")
    assert caught.value is error
    assert called(p) == ["cheap"]


async def test_every_step_failing_raises_fallback_exhausted_with_each_attempt() -> None:
    errors = {m: ProviderUnavailableError(f"{m} is down", 503) for m in ("cheap", "mid", "strong")}
    p = tiered(script={m: [e] for m, e in errors.items()})
    with pytest.raises(FallbackExhaustedError) as caught:
        await HeuristicRouter().route_request(user(QUESTION), {"p": p}, strategy="cascade")
    assert called(p) == ["cheap", "mid", "strong"]
    assert caught.value.last_error is errors["strong"]
    assert [(a["model"], a["outcome"], a["error"]) for a in caught.value.attempts] == [
        (m, "failed", "ProviderUnavailableError") for m in ("cheap", "mid", "strong")
    ]


async def test_refused_credentials_skip_the_rest_of_that_provider_only() -> None:
    a = tiered("a", script={"cheap": [AuthenticationError("bad key", 401)]})
    b = tiered("b")
    config = RoutingConfig(cascades={"x": {"steps": ["a/cheap", "a/mid", "b/strong"]}})
    response = await HeuristicRouter(config).route_request(user(QUESTION), {"a": a, "b": b}, strategy="x")
    assert called(a) == ["cheap"]
    assert called(b) == ["strong"]
    assert [(x.provider, x.model, x.outcome) for x in response.router_metadata.attempts] == [
        ("a", "cheap", "failed"),
        ("a", "mid", "skipped"),
        ("b", "strong", "accepted"),
    ]


# ---------------------------------------------------------------------------- configuration errors


@pytest.mark.parametrize("strategy", ["cascade", "x"])
async def test_cascade_strategies_with_cascades_disabled_are_a_config_error(strategy: str) -> None:
    p = tiered()
    config = RoutingConfig(cascade_enabled=False, cascades={"x": {"steps": ["p/cheap"]}})
    with pytest.raises(RoutingConfigError, match="cascade"):
        await HeuristicRouter(config).route_request(user(QUESTION), {"p": p}, strategy=strategy)
    assert p.calls == []


@pytest.mark.parametrize("threshold", [-0.01, 1.01, 2.0, math.nan, True, "0.5"])
async def test_quality_threshold_outside_0_1_is_a_config_error(threshold: float) -> None:
    p = tiered()
    with pytest.raises(RoutingConfigError, match="quality_threshold"):
        await HeuristicRouter().route_request(user(QUESTION), {"p": p}, strategy="cascade", quality_threshold=threshold)
    assert p.calls == []


@pytest.mark.parametrize("threshold", [0.0, 1.0])
async def test_quality_threshold_bounds_are_allowed(threshold: float) -> None:
    p = tiered()
    response = await HeuristicRouter().route_request(
        user(QUESTION), {"p": p}, strategy="cascade", quality_threshold=threshold
    )
    assert response.router_metadata.attempts[0].outcome == "accepted"  # the default check gives 1.0
