"""Every billed call of the opt-in classifier and judge counts: in ``total_cost`` and in a
cascade's ``max_cost``, also when the judge's grade is unreadable or a first request fails."""

from __future__ import annotations

from typing import Any

import pytest

from muxer_litellm.errors import ProviderUnavailableError
from muxer_litellm.host import EmbeddingResponse, RouterMetadata
from muxer_litellm.routing import HeuristicRouter
from muxer_litellm.routing.classify import SemanticClassifier
from muxer_litellm.routing.judge import JudgeScorer
from muxer_litellm.testing import FakeProvider

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ANSWER = "Paris is the capital of France and it is a lovely city to visit indeed."


def answers() -> FakeProvider:
    return FakeProvider(
        "p", {"cheap": (0.001, 0.001), "strong": (0.01, 0.01)}, replies={"cheap": ANSWER, "strong": ANSWER}
    )


async def test_a_judge_with_an_unreadable_grade_is_still_counted() -> None:
    judge = FakeProvider("j", {"judge": (0.5, 0.5)}, replies={"judge": "I think it is probably fine"})
    router = HeuristicRouter(quality_check=JudgeScorer(judge, "judge"))
    response = await router.route_request(QUESTION, {"p": answers()}, strategy="cascade")
    meta = response.router_metadata
    judged = [a for a in meta.attempts if a.provider == "j"]
    assert [(a.outcome, a.error) for a in judged] == [("judged", None)]
    assert judged[0].cost is not None
    assert judged[0].cost > 0
    assert "no readable grade" in (judged[0].detail or "")
    answered = sum(a.cost or 0.0 for a in meta.attempts if a.provider == "p" and a.outcome != "skipped")
    assert meta.total_cost == pytest.approx(answered + judged[0].cost)


async def test_a_cascade_stops_before_a_step_the_judges_spend_would_put_over_max_cost() -> None:
    judge = FakeProvider("j", {"judge": (0.05, 0.05)}, replies={"judge": '{"score": 0.1, "reason": "meh"}'})
    router = HeuristicRouter(quality_check=JudgeScorer(judge, "judge"))
    response = await router.route_request(QUESTION, {"p": answers()}, strategy="cascade", max_cost=0.01)
    meta = response.router_metadata
    assert [(a.model, a.outcome) for a in meta.attempts] == [
        ("cheap", "escalated"),
        ("judge", "judged"),
        ("strong", "skipped"),
    ]
    assert meta.total_cost is not None
    assert meta.total_cost <= 0.01


class FlakyEmbedder:
    """Bills $0.01 per call; its ``fail``-th call fails."""

    provider_name = "emb"

    def __init__(self, fail: int) -> None:
        self.calls = 0
        self.fail = fail

    async def embeddings(self, input: list[str], model: str, **kwargs: Any) -> EmbeddingResponse:
        self.calls += 1
        if self.calls == self.fail:
            raise ProviderUnavailableError("busy", 503, "emb")
        data = [{"index": i, "embedding": [1.0, float(i % 3), 0.5]} for i in range(len(input))]
        meta = RouterMetadata(
            selected_provider="emb", selected_model=model, routing_reason="x", estimated_cost=0.01, response_time_ms=1
        )
        return EmbeddingResponse(model=model, data=data, router_metadata=meta)


async def test_the_exemplars_embedding_is_counted_once_even_when_the_first_request_fails() -> None:
    embedder = FlakyEmbedder(fail=2)  # call 1 embeds the exemplars, call 2 (the prompt) fails
    router = HeuristicRouter(semantic=SemanticClassifier(embedder, "emb-model"))
    provider = FakeProvider("p", {"a": (0.001, 0.001)})
    counted = 0.0
    for prompt in ("hmm, what about this one thing here", "and what about that other thing then"):
        response = await router.route_request(
            [{"role": "user", "content": prompt}], {"p": provider}, strategy="cost_optimized"
        )
        counted += sum(a.cost or 0.0 for a in response.router_metadata.attempts if a.provider == "emb")
    assert embedder.calls == 3
    assert counted == pytest.approx(0.03 - 0.01)  # three billed calls, one of which failed unbilled
