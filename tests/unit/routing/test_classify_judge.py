"""The opt-in cascade judge (``routing.judge.JudgeScorer``): a cheap model grades the answer
through a respx-mocked ``/v1/chat/completions``; its call is a ``judged`` attempt whose cost
counts in ``total_cost``; timeouts and errors fall back to the default quality check."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider
from muxer_litellm.routing import HeuristicRouter
from muxer_litellm.routing.judge import JUDGE_PROMPT, JudgeScorer, parse_grade
from muxer_litellm.testing import FakeProvider
from tests.unit.replies import chat_body, error_body
from tests.unit.routing.helpers import user

JUDGE_COST = 0.000003
CHEAP = (0.0005, 0.0015)
STRONG = (0.01, 0.03)
QUESTION = "Is 221 a prime number? Explain briefly."


def mock_judge(proxy: respx.MockRouter, reply: str, *, cost: float = JUDGE_COST) -> respx.Route:
    return proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=chat_body(reply), headers={"x-litellm-response-cost": str(cost)})
    )


def answer(text: str, **kwargs: Any) -> Any:
    return FakeProvider("p", {"cheap": CHEAP}).response("cheap", text, **kwargs)


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"adequate": true, "score": 0.9, "reason": "correct"}', 0.9),
        ('Sure: {"adequate": false, "reason": "221 = 13 x 17"}', 0.0),
        ('{"adequate": true}', 1.0),
        ('{"score": 7}', 1.0),  # clipped
        ('{"score": -1, "adequate": true}', 0.0),
        ('echo {"score": 0.2} and later {"score": 0.8, "reason": "ok"}', 0.8),  # the last grade
        ("yes", 1.0),
        ("No.", 0.0),
    ],
)
def test_parse_grade(reply: str, score: float) -> None:
    assert parse_grade(reply)[0] == score


@pytest.mark.parametrize("reply", ["", "maybe", '{"verdict": "fine"}', '{"score": "high"}', "{not json}"])
def test_parse_grade_without_a_grade_raises(reply: str) -> None:
    with pytest.raises(ValueError, match="no grade"):
        parse_grade(reply)


async def test_the_judge_grades_and_reports_its_call(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_judge(proxy, '{"adequate": false, "score": 0.1, "reason": "221 = 13 x 17"}')
    judge = JudgeScorer(provider, "judge-mini", timeout=2)
    verdict = await judge(user(QUESTION), answer("Yes, 221 is prime because it is odd and not divisible by 3."))
    assert verdict.score == 0.1
    assert verdict.reason == "judge judge-mini: 221 = 13 x 17"
    assert (verdict.provider, verdict.model, verdict.cost, verdict.error) == ("litellm", "judge-mini", JUDGE_COST, None)
    sent = json.loads(route.calls[0].request.content)
    assert sent["model"] == "judge-mini"
    assert sent["temperature"] == 0
    assert sent["messages"][0] == {"role": "system", "content": JUDGE_PROMPT}
    assert QUESTION in sent["messages"][1]["content"]
    assert "221 is prime because" in sent["messages"][1]["content"]


async def test_an_answer_failing_the_default_check_is_not_judged(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_judge(proxy, '{"score": 1}')
    judge = JudgeScorer(provider, "judge-mini")
    for bad in (answer(""), answer("I'm sorry, but I can't help with that."), answer("Cut", finish_reason="length")):
        verdict = await judge(user(QUESTION), bad)
        assert verdict.score < 0.5
        assert verdict.model is None  # no judge call to record
    assert route.call_count == 0


async def test_a_slow_judge_falls_back_to_the_default_check(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json=chat_body('{"score": 0}'))

    proxy.post("/v1/chat/completions").mock(side_effect=slow)
    verdict = await JudgeScorer(provider, "judge-mini", timeout=0.05)(user(QUESTION), answer("No: 221 = 13 x 17."))
    assert verdict.score == 1.0  # the default check's verdict
    assert verdict.error == "TimeoutError"
    assert "judge judge-mini unavailable: took longer than 0.05s" in verdict.reason


async def test_a_failing_judge_falls_back_at_no_cost(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(500, json=error_body("boom", "internal_server_error"))
    )
    verdict = await JudgeScorer(provider, "judge-mini")(user(QUESTION), answer("No: 221 = 13 x 17."))
    assert verdict.score == 1.0
    assert verdict.error is not None
    assert verdict.cost is None


async def test_an_unreadable_judge_falls_back_but_its_call_is_counted(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    reply = httpx.Response(200, json=chat_body("I think it is fine"), headers={"x-litellm-response-cost": "0.000001"})
    proxy.post("/v1/chat/completions").mock(return_value=reply)
    verdict = await JudgeScorer(provider, "judge-mini")(user(QUESTION), answer("No: 221 = 13 x 17."))
    assert verdict.score == 1.0  # the default check's verdict
    assert verdict.error is None  # the judge answered and billed; only its grade is unreadable
    assert verdict.cost == pytest.approx(0.000001)
    assert "gave no readable grade" in verdict.reason


async def test_in_a_cascade_the_judge_escalates_and_every_call_is_counted(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    """FrugalGPT: the cheap answer passes the default check but the judge rejects it."""
    grades = iter(['{"score": 0.1, "reason": "wrong"}', '{"score": 0.95, "reason": "right"}'])
    proxy.post("/v1/chat/completions").mock(
        side_effect=lambda request: httpx.Response(
            200, json=chat_body(next(grades)), headers={"x-litellm-response-cost": str(JUDGE_COST)}
        )
    )
    chat = FakeProvider(
        "chat",
        {"cheap": CHEAP, "strong": STRONG},
        script={"cheap": ["Yes, 221 is a prime number."], "strong": ["No: 221 = 13 x 17."]},
    )
    router = HeuristicRouter(quality_check=JudgeScorer(provider, "judge-mini"))
    response = await router.route_request(user(QUESTION), {"chat": chat}, strategy="cascade")
    meta = response.router_metadata
    assert meta.selected_model == "strong"
    assert [(a.model, a.outcome) for a in meta.attempts] == [
        ("cheap", "escalated"),
        ("judge-mini", "judged"),
        ("strong", "accepted"),
        ("judge-mini", "judged"),
    ]
    assert meta.attempts[0].quality_score == 0.1
    answers = sum(a.cost or 0.0 for a in meta.attempts if a.model != "judge-mini")
    assert meta.total_cost == pytest.approx(answers + 2 * JUDGE_COST)


async def test_in_a_cascade_a_timed_out_judge_is_a_free_failed_attempt(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json=chat_body('{"score": 0}'))

    proxy.post("/v1/chat/completions").mock(side_effect=slow)
    chat = FakeProvider("chat", {"cheap": CHEAP, "strong": STRONG}, script={"cheap": ["No: 221 = 13 x 17."]})
    router = HeuristicRouter(quality_check=JudgeScorer(provider, "judge-mini", timeout=0.05))
    response = await router.route_request(user(QUESTION), {"chat": chat}, strategy="cascade")
    meta = response.router_metadata
    assert meta.selected_model == "cheap"  # accepted on the default check
    assert [(a.model, a.outcome, a.error) for a in meta.attempts] == [
        ("cheap", "accepted", None),
        ("judge-mini", "failed", "TimeoutError"),
    ]
    assert meta.total_cost == pytest.approx(meta.attempts[0].cost)


@pytest.mark.parametrize(("kwargs", "message"), [({"timeout": 0}, "timeout"), ({"max_tokens": 0}, "max_tokens")])
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JudgeScorer(FakeProvider("p", {}), "judge", **kwargs)
    with pytest.raises(ValueError, match="non-empty"):
        JudgeScorer(FakeProvider("p", {}), " ")
