"""The opt-in semantic classifier (``routing/classify/semantic.py``): embeddings through a respx-mocked
``/v1/embeddings``, nearest exemplars, blending with the default profile, the cost and attempt
it adds to a routed request, and the fallbacks (timeout, proxy error, malformed reply)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider
from muxer_litellm.routing import HeuristicRouter, PromptProfile, classify_prompt
from muxer_litellm.routing.classify.semantic import DEFAULT_EXEMPLARS, SemanticClassifier, blend
from muxer_litellm.testing import FakeProvider
from tests.unit.replies import embedding_body, error_body
from tests.unit.routing.helpers import user

EXEMPLARS = {
    "simple": ("chat about the weather", "recommend a film"),
    "code": ("fix my python bug", "write a dockerfile"),
    "reasoning": ("solve this puzzle", "how many ways to arrange"),
}
# Each exemplar's direction: simple on x, code on y, reasoning on z.
DIRECTIONS = {"simple": [1.0, 0.0, 0.0], "code": [0.0, 1.0, 0.0], "reasoning": [0.0, 0.0, 1.0]}
EMBED_COST = 0.000002


def vector_for(text: str, prompt_vector: list[float]) -> list[float]:
    for cls, texts in EXEMPLARS.items():
        if text in texts:
            return DIRECTIONS[cls]
    return prompt_vector


def mock_embeddings(proxy: respx.MockRouter, prompt_vector: list[float], *, cost: float = EMBED_COST) -> respx.Route:
    def reply(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        body = embedding_body([vector_for(t, prompt_vector) for t in texts])
        return httpx.Response(200, json=body, headers={"x-litellm-response-cost": str(cost)})

    return proxy.post("/v1/embeddings").mock(side_effect=reply)


def unsure_simple(text: str = "Three boxes are all labelled wrong; which fruit do you pick?") -> PromptProfile:
    base = classify_prompt(user(text))
    return replace(
        base,
        classes=frozenset({"simple"}),
        signals=(),
        primary="simple",
        confidence=0.55,
        runner_up="reasoning",
        runner_up_score=0.3,
        scores=(("simple", 0.55), ("code", 0.1), ("reasoning", 0.3), ("json", 0.05)),
    )


async def test_nearest_exemplars_add_reasoning_and_the_call_is_a_costed_attempt(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_embeddings(proxy, [0.05, 0.1, 1.0])
    semantic = SemanticClassifier(provider, "embed", exemplars=EXEMPLARS, weight=0.6)
    prompt = "Three boxes are all labelled wrong; which fruit do you pick?"
    refined, attempts = await semantic.refine(user(prompt), unsure_simple(prompt))
    assert "reasoning" in refined.classes
    assert "simple" not in refined.classes
    assert refined.primary == "reasoning"
    assert any(s.startswith("semantic reasoning ") for s in refined.signals)
    assert refined.confidence == pytest.approx(dict(refined.scores)["reasoning"])
    (attempt,) = attempts
    assert (attempt.provider, attempt.model, attempt.outcome) == ("litellm", "embed", "classified")
    assert attempt.cost == pytest.approx(2 * EMBED_COST)  # the exemplars once, then the prompt
    assert route.call_count == 2
    # The exemplars are embedded once: the next request pays for its own prompt only.
    _, again = await semantic.refine(user(prompt), unsure_simple(prompt))
    assert again[0].cost == pytest.approx(EMBED_COST)
    assert route.call_count == 3
    assert json.loads(route.calls[-1].request.content) == {"model": "embed", "input": [prompt]}


async def test_a_prompt_near_simple_exemplars_stays_simple(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_embeddings(proxy, [1.0, 0.05, 0.05])
    refined, attempts = await SemanticClassifier(provider, "embed", exemplars=EXEMPLARS).refine(
        user("what a day"), unsure_simple("what a day")
    )
    assert refined.classes == frozenset({"simple"})
    assert refined.primary == "simple"
    assert refined.confidence > 0.55  # more sure than the default was
    assert attempts[0].outcome == "classified"


async def test_a_sure_profile_is_not_sent(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_embeddings(proxy, [0.0, 0.0, 1.0])
    semantic = SemanticClassifier(provider, "embed", exemplars=EXEMPLARS)
    sure = classify_prompt(user("Traceback (most recent call last):\n  File 'x'"))
    assert await semantic.refine(user("x"), sure) == (sure, ())
    long = classify_prompt(user("hello"), long_context_tokens=1)
    assert await semantic.refine(user("hello"), long) == (long, ())
    assert route.call_count == 0


async def test_timeout_keeps_the_default_profile(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json=embedding_body([[0.0, 0.0, 1.0]]))

    proxy.post("/v1/embeddings").mock(side_effect=slow)
    semantic = SemanticClassifier(provider, "embed", exemplars=EXEMPLARS, timeout=0.05)
    default = unsure_simple()
    refined, (attempt,) = await semantic.refine(user("x"), default)
    assert refined is default
    assert (attempt.outcome, attempt.error, attempt.cost) == ("failed", "TimeoutError", None)
    assert "took longer than 0.05s; kept the default classification" in (attempt.detail or "")


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(500, json=error_body("upstream down", "internal_server_error")),
        # one vector for six exemplars
        httpx.Response(200, json=embedding_body([[1.0, 0.0]]), headers={"x-litellm-response-cost": "0.000001"}),
        httpx.Response(200, json={"unexpected": True}),
    ],
)
async def test_proxy_errors_and_malformed_replies_keep_the_default_profile(
    proxy: respx.MockRouter, provider: LiteLLMProvider, reply: httpx.Response
) -> None:
    proxy.post("/v1/embeddings").mock(return_value=reply)
    default = unsure_simple()
    refined, (attempt,) = await SemanticClassifier(provider, "embed", exemplars=EXEMPLARS).refine(user("x"), default)
    assert refined is default
    assert attempt.outcome == "failed"
    assert attempt.cost is None


async def test_through_the_router_the_embedding_opens_the_attempts_and_counts_in_total_cost(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_embeddings(proxy, [0.05, 0.1, 1.0])
    chat = FakeProvider("chat", {"cheap": (0.0005, 0.0015), "strong": (0.01, 0.03)})
    router = HeuristicRouter(semantic=SemanticClassifier(provider, "embed", exemplars=EXEMPLARS, weight=0.9))
    prompt = "Three boxes are all labelled wrong; which fruit do you pick?"
    router.classify = lambda messages, prompt_tokens=None, **request: unsure_simple(prompt)  # type: ignore[method-assign]
    router.planner.classify = lambda messages, prompt_tokens, request: unsure_simple(prompt)  # type: ignore[method-assign]
    response = await router.route_request(user(prompt), {"chat": chat}, strategy="heuristic")
    meta = response.router_metadata
    assert meta.selected_model == "strong"  # reasoning needs tier 2: the semantic call changed the pick
    assert [(a.provider, a.outcome) for a in meta.attempts] == [("litellm", "classified"), ("chat", "ok")]
    answered = meta.attempts[1].cost
    assert answered is not None
    assert meta.total_cost == pytest.approx(2 * EMBED_COST + answered)
    assert "semantic reasoning" in meta.routing_reason


async def test_through_the_router_a_failed_embedding_costs_nothing_and_routes_by_default(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    proxy.post("/v1/embeddings").mock(return_value=httpx.Response(503, json=error_body("busy")))
    chat = FakeProvider("chat", {"cheap": (0.0005, 0.0015), "strong": (0.01, 0.03)})
    router = HeuristicRouter(
        RoutingConfigWithoutUnsure(), semantic=SemanticClassifier(provider, "embed", exemplars=EXEMPLARS)
    )
    router.classify = lambda messages, prompt_tokens=None, **request: unsure_simple()  # type: ignore[method-assign]
    router.planner.classify = lambda messages, prompt_tokens, request: unsure_simple()  # type: ignore[method-assign]
    response = await router.route_request(user("x"), {"chat": chat}, strategy="heuristic")
    meta = response.router_metadata
    assert meta.selected_model == "cheap"
    assert [a.outcome for a in meta.attempts] == ["failed", "ok"]
    assert meta.total_cost == pytest.approx(meta.attempts[1].cost)


def RoutingConfigWithoutUnsure() -> Any:  # noqa: N802 - reads like the config it builds
    from muxer_litellm.routing import RoutingConfig

    return RoutingConfig(unsure_confidence=0)


def test_blend_keeps_rule_classes_and_structural_needs() -> None:
    ruled = classify_prompt(user("Is 221 prime?"))
    refined = blend(ruled, {"simple": 1.0, "code": 0.0, "reasoning": 0.0, "json": 0.0}, 0.9)
    assert "reasoning" in refined.classes
    assert refined.primary == "reasoning"
    assert refined.confidence == ruled.confidence


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exemplars": {"poetry": ("a sonnet",)}}, "exemplar classes must be among"),
        ({"exemplars": {"simple": ()}}, "at least one prompt"),
        ({"timeout": 0}, "timeout"),
        ({"weight": 1.5}, "weight"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SemanticClassifier(object(), "embed", **kwargs)  # type: ignore[arg-type]


def test_default_exemplars_cover_every_scored_class() -> None:
    assert set(DEFAULT_EXEMPLARS) == {"simple", "code", "reasoning", "json"}
    assert all(len(texts) >= 4 for texts in DEFAULT_EXEMPLARS.values())
