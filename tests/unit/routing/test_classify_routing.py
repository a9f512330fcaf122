"""How routing uses the classifier's confidence: an unsure cheap-looking prompt
whose runner-up class needs a stronger tier is cascaded (cheap first, escalate when the answer
fails the check) or, with ``unsure_action: escalate``, sent to that tier up front.

Profiles are built by hand so that each test controls the confidence exactly."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from muxer_litellm import BadRequestError
from muxer_litellm.routing import HeuristicRouter, PromptProfile, RoutingConfig, load_routing_config
from muxer_litellm.routing.classify import PromptClass
from muxer_litellm.routing.select import required_tier, unsure_escalation
from muxer_litellm.testing import FakeProvider
from tests.unit.routing.helpers import user

CHEAP = (0.0005, 0.0015)  # tier 1 by price
STRONG = (0.01, 0.03)  # tier 3 by price


def profile(
    primary: PromptClass = "simple",
    confidence: float = 0.45,
    runner_up: PromptClass | None = "reasoning",
    runner_up_score: float = 0.4,
    classes: frozenset[PromptClass] | None = None,
) -> PromptProfile:
    return PromptProfile(
        prompt_tokens=20,
        classes=classes if classes is not None else frozenset({primary}),
        signals=(),
        needs_tools=False,
        needs_vision=False,
        json_requested=primary == "json",
        needs_json_schema=False,
        primary=primary,
        confidence=confidence,
        runner_up=runner_up,
        runner_up_score=runner_up_score,
    )


def router_classifying_as(prof: PromptProfile, **config: Any) -> HeuristicRouter:
    router = HeuristicRouter(RoutingConfig(**config))
    router.classify = lambda messages, prompt_tokens=None, **request: prof  # type: ignore[method-assign]
    router.planner.classify = lambda messages, prompt_tokens, request: prof  # type: ignore[method-assign]
    return router


def providers(**script: list[str]) -> dict[str, FakeProvider]:
    return {"p": FakeProvider("p", {"cheap": CHEAP, "strong": STRONG}, script=script)}


# ----------------------------------------------------------------------------- select


def test_unsure_simple_with_a_harder_runner_up_is_unsure() -> None:
    config = RoutingConfig()
    assert config.unsure_confidence == 0.5
    assert config.unsure_action == "cascade"
    assert unsure_escalation(profile(), config) == "reasoning"


@pytest.mark.parametrize(
    ("prof", "why"),
    [
        (profile(confidence=0.5), "confidence at the threshold"),
        (profile(runner_up="json"), "runner-up needs no more than tier 1"),
        (profile(runner_up=None), "no scorer"),
        (profile("code", classes=frozenset({"code"}), runner_up="reasoning"), "already needs tier 2"),
    ],
)
def test_not_unsure(prof: PromptProfile, why: str) -> None:
    assert unsure_escalation(prof, RoutingConfig()) is None, why


def test_unsure_confidence_zero_turns_it_off() -> None:
    assert unsure_escalation(profile(confidence=0.01), RoutingConfig(unsure_confidence=0)) is None


def test_escalate_action_requires_the_runner_ups_tier_and_cascade_does_not() -> None:
    unsure = profile()
    assert required_tier(unsure, RoutingConfig(unsure_action="escalate")) == (2, ("reasoning",))
    assert required_tier(unsure, RoutingConfig(unsure_action="cascade")) == (1, ())
    assert required_tier(replace(unsure, confidence=0.9), RoutingConfig(unsure_action="escalate")) == (1, ())


def test_escalate_changes_the_heuristic_pick_and_says_why() -> None:
    p = providers()
    cheap_pick = router_classifying_as(profile(confidence=0.9)).select_model(user("x"), p, strategy="heuristic")
    assert cheap_pick.model == "cheap"
    decision = router_classifying_as(profile(), unsure_action="escalate").select_model(user("x"), p)
    assert decision.model == "strong"
    assert "unsure (simple 0.45, reasoning 0.40): reasoning needs tier >= 2" in decision.reason


def test_config_file_sets_the_unsure_knobs(tmp_path: Any) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("unsure_confidence: 0.3\nunsure_action: escalate\n")
    config = load_routing_config(path)
    assert (config.unsure_confidence, config.unsure_action) == (0.3, "escalate")
    path.write_text("unsure_action: sometimes\n")
    with pytest.raises(Exception, match="unsure_action"):
        load_routing_config(path)


# ----------------------------------------------------------------------------- router


async def test_unsure_heuristic_plan_is_a_cascade_from_cheap_to_strong() -> None:
    p = providers()
    sure = await router_classifying_as(profile(confidence=0.9)).plan(user("x"), p, strategy="heuristic")
    assert (sure.kind, [t.model for t in sure.candidates]) == ("single", ["cheap", "strong"])
    unsure = await router_classifying_as(profile()).plan(user("x"), p, strategy="heuristic")
    assert unsure.kind == "cascade"
    assert [t.model for t in unsure.candidates] == ["cheap", "strong"]
    assert "unsure (simple 0.45, reasoning 0.40): cascade p/cheap -> p/strong" in unsure.reason


async def test_unsure_cascade_escalates_when_the_cheap_answer_fails_the_check() -> None:
    p = providers(cheap=[""], strong=["a careful answer"])
    response = await router_classifying_as(profile()).route_request(user("Is 221 prime?"), p, strategy="heuristic")
    assert response.router_metadata.selected_model == "strong"
    assert [(a.model, a.outcome) for a in response.router_metadata.attempts] == [
        ("cheap", "escalated"),
        ("strong", "accepted"),
    ]


async def test_unsure_cascade_keeps_a_good_cheap_answer() -> None:
    p = providers(cheap=["17 times 13, so no: 221 is not prime."])
    response = await router_classifying_as(profile()).route_request(user("Is 221 prime?"), p, strategy="heuristic")
    assert response.router_metadata.selected_model == "cheap"
    assert [a.outcome for a in response.router_metadata.attempts] == ["accepted"]


async def test_no_unsure_cascade_without_cascades_or_for_other_strategies() -> None:
    p = providers()
    off = await router_classifying_as(profile(), cascade_enabled=False).plan(user("x"), p, strategy="heuristic")
    assert off.kind == "single"
    cost = await router_classifying_as(profile()).plan(user("x"), p, strategy="cost_optimized")
    assert cost.kind == "single"


async def test_an_unsure_stream_is_not_turned_into_a_cascade() -> None:
    p = providers(cheap=["streamed words"])
    chunks = [c async for c in router_classifying_as(profile()).route_stream(user("x"), p, strategy="heuristic")]
    assert chunks[-1]["router_metadata"]["selected_model"] == "cheap"
    with pytest.raises(BadRequestError, match="cannot stream"):
        async for _ in router_classifying_as(profile()).route_stream(user("x"), p, strategy="cascade"):
            pass
