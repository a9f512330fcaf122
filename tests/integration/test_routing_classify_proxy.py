"""The opt-in semantic classifier and cascade judge through the real LiteLLM proxy: the
embedding and judge calls go through the proxy, are priced by it, and add up in the routed
request's attempts and ``total_cost``.

The fake upstream embeds a text as ``[len(text), 0.5, -0.25]`` and chat models echo the last
user turn, so exemplar lengths decide the nearest class and an echoed grade is the judge's."""

from __future__ import annotations

import pytest

from muxer_litellm import LiteLLMProvider
from muxer_litellm.routing import CascadeConfig, HeuristicRouter, RoutingConfig
from muxer_litellm.routing.classify import SemanticClassifier
from muxer_litellm.routing.judge import JudgeScorer

pytestmark = pytest.mark.integration

PROMPT = "Tell me whether this riddle has an answer or not please"


async def test_semantic_classification_through_the_proxys_embeddings(provider: LiteLLMProvider) -> None:
    # Same length as the prompt: nearest to the reasoning exemplar; "a" is far.
    exemplars = {"simple": ("a",), "reasoning": ("x" * len(PROMPT),)}
    semantic = SemanticClassifier(provider, "embed", exemplars=exemplars, weight=1.0, skip_above=1.01)
    router = HeuristicRouter(RoutingConfig(unsure_confidence=0), semantic=semantic)
    response = await router.route_request([{"role": "user", "content": PROMPT}], {"litellm": provider})
    meta = response.router_metadata
    first = meta.attempts[0]
    assert (first.provider, first.model, first.outcome) == ("litellm", "embed", "classified")
    assert first.cost is not None
    assert first.cost > 0  # priced by the proxy from the embedding model's input price
    assert "semantic reasoning" in meta.routing_reason
    assert meta.selected_model == "smart-chat"  # reasoning needs tier 2
    assert meta.total_cost == pytest.approx(sum(a.cost or 0.0 for a in meta.attempts))


async def test_judge_grades_each_cascade_step_through_the_proxy(provider: LiteLLMProvider) -> None:
    # The judge (cheap-chat) echoes its request, which holds this grade: every answer gets 0.2.
    question = 'Rate this: {"score": 0.2, "reason": "too vague"}'
    config = RoutingConfig(
        cascades={"judged": CascadeConfig(steps=["litellm/cheap-chat", "litellm/smart-chat"])}  # type: ignore[list-item]
    )
    router = HeuristicRouter(config, quality_check=JudgeScorer(provider, "cheap-chat", timeout=20))
    response = await router.route_request([{"role": "user", "content": question}], {"litellm": provider}, "judged")
    meta = response.router_metadata
    assert [(a.model, a.outcome) for a in meta.attempts] == [
        ("cheap-chat", "escalated"),
        ("cheap-chat", "judged"),
        ("smart-chat", "escalated"),
        ("cheap-chat", "judged"),
    ]
    assert meta.attempts[0].quality_score == pytest.approx(0.2)
    judged = [a for a in meta.attempts if a.outcome == "judged"]
    assert all(a.cost is not None and a.cost > 0 for a in judged)
    assert meta.total_cost == pytest.approx(sum(a.cost or 0.0 for a in meta.attempts))
    assert "no step passed the quality check" in meta.routing_reason
