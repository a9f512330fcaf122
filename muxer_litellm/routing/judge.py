"""Opt-in cascade scorer: a cheap judge model says whether an answer is adequate (FrugalGPT).

The default check (``quality.default_quality_check``) catches empty, refused, cut-off and
too-short answers, not wrong ones. ``JudgeScorer`` runs it first (a failing answer needs no
judge), then asks a cheap model through the proxy to grade the answer against the question
and returns its score. Use it as a cascade's ``quality_check``::

    router = HeuristicRouter(quality_check=JudgeScorer(provider, "cheap-chat"))

The judge's call is reported in the verdict (provider, model, cost, duration), which the
router records as a ``judged`` attempt and counts in ``total_cost``. On a timeout, a provider
error or an unreadable grade the default check's verdict is returned (and the failed call is
recorded as a ``failed`` attempt, which costs nothing).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import replace

from ..errors import ProviderError
from ..host import ChatCompletionResponse, LLMProvider, MessageInput
from .classify import classify_prompt, content_parts, message_dict
from .quality import QualityVerdict, answer_text, default_quality_check

__all__ = ["JUDGE_PROMPT", "JudgeScorer"]

JUDGE_PROMPT = (
    "You check answers written by another assistant. Given a request and an answer, decide whether the "
    "answer is correct, complete and does what was asked. Reply with JSON only: "
    '{"adequate": true or false, "score": a number from 0 to 1, "reason": "a few words"}.'
)
QUESTION_CHARS = 3000
ANSWER_CHARS = 4000
_OBJECT = re.compile(r"\{[^{}]*\}")


def _request_text(messages: Sequence[MessageInput]) -> str:
    """The system prompt and the last user turn, bounded (the judge needs what was asked)."""
    parts: list[str] = []
    dicts = [message_dict(m) for m in messages]
    for d in dicts:
        if d.get("role") in ("system", "developer"):
            parts.append("System: " + "".join(t for k, t in content_parts(d.get("content")) if k == "text"))
    last = next((d for d in reversed(dicts) if d.get("role") == "user"), None)
    if last is not None:
        parts.append("User: " + "".join(t for k, t in content_parts(last.get("content")) if k == "text"))
    text = "\n".join(parts)
    return (
        text if len(text) <= QUESTION_CHARS else text[: QUESTION_CHARS // 2] + "\n...\n" + text[-QUESTION_CHARS // 2 :]
    )


def parse_grade(text: str) -> tuple[float, str]:
    """``(score, reason)`` from the judge's reply: the last JSON object in it that has a
    ``score`` (clipped to [0, 1]) or an ``adequate`` flag; else a bare "yes"/"no". Raises
    ValueError when there is no grade."""
    for match in reversed(_OBJECT.findall(text)):
        try:
            data = json.loads(match)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        reason = str(data.get("reason") or "")[:200]
        score = data.get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score):
            return min(1.0, max(0.0, float(score))), reason
        adequate = data.get("adequate")
        if isinstance(adequate, bool):
            return (1.0 if adequate else 0.0), reason
    word = text.strip().lower().rstrip(".!")
    if word in ("yes", "adequate", "true"):
        return 1.0, ""
    if word in ("no", "inadequate", "false"):
        return 0.0, ""
    raise ValueError(f"no grade in the judge's reply {text[:80]!r}")


class JudgeScorer:
    """``provider``: the provider that serves ``model`` (the LiteLLM proxy, or any host
    provider); ``timeout``: seconds the judge may take before the default check decides."""

    def __init__(
        self,
        provider: LLMProvider,
        model: str,
        *,
        timeout: float = 5.0,
        max_tokens: int = 80,
        provider_name: str | None = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"judge model must be a non-empty string, got {model!r}")
        if not timeout > 0 or max_tokens < 1:
            raise ValueError("timeout must be > 0 and max_tokens >= 1")
        self.provider = provider
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.provider_name = provider_name or str(getattr(provider, "provider_name", "") or "judge")

    def judge_messages(self, messages: Sequence[MessageInput], answer: str) -> list[MessageInput]:
        if len(answer) > ANSWER_CHARS:
            answer = answer[: ANSWER_CHARS // 2] + "\n...\n" + answer[-ANSWER_CHARS // 2 :]
        return [
            {"role": "system", "content": JUDGE_PROMPT},
            {"role": "user", "content": f"Request:\n{_request_text(messages)}\n\nAnswer:\n{answer}"},
        ]

    async def __call__(self, messages: Sequence[MessageInput], response: ChatCompletionResponse) -> QualityVerdict:
        base = default_quality_check(messages, response, classify_prompt(messages))
        choice = response.choices[0] if response.choices else None
        if base.score < 1.0 or (choice is not None and choice.message.tool_calls):
            return base  # already failing (or a tool call, which the host runs): no judge needed
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                graded = await self.provider.chat_completion(
                    self.judge_messages(messages, answer_text(response)),
                    self.model,
                    max_tokens=self.max_tokens,
                    temperature=0,
                )
        except (TimeoutError, ProviderError, ValueError) as exc:
            why = f"took longer than {self.timeout:g}s" if isinstance(exc, TimeoutError) else str(exc)[:160]
            return replace(
                base,
                reason=f"{base.reason} (judge {self.model} unavailable: {why})",
                provider=self.provider_name,
                model=self.model,
                error=type(exc).__name__,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        try:
            score, reason = parse_grade(answer_text(graded))
        except ValueError as exc:
            # The judge answered (and was billed) but gave no grade we can read: keep the default
            # check's verdict, and still count the call.
            return replace(
                base,
                reason=f"{base.reason} (judge {self.model} gave no readable grade: {str(exc)[:160]})",
                cost=graded.router_metadata.estimated_cost,
                provider=self.provider_name,
                model=self.model,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        return QualityVerdict(
            score,
            f"judge {self.model}: {reason or ('adequate' if score >= 0.5 else 'inadequate')}",
            cost=graded.router_metadata.estimated_cost,
            provider=self.provider_name,
            model=self.model,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
