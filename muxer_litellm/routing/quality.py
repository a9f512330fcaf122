"""The cascade's default answer check: cheap, transparent rules, no model call.

A cascade accepts a cheap model's answer when its score reaches the threshold (0.5 by
default) and escalates otherwise. Scores, first rule that matches wins:

- 0.0 ``empty answer``: no text and no tool calls.
- 0.0 ``invalid JSON``: JSON was asked for (``response_format`` or the prompt) and the
  answer, with one surrounding code fence removed, does not parse.
- 0.1 ``refusal``: the answer opens like a refusal: an apology then "I" refusing ("I'm
  sorry, but I can't", "Unfortunately, I am unable"), "I cannot help/assist/comply",
  "I'm unable to", "As an AI", "I apologize, but I cannot", "I'm afraid I can't". A hedge
  that goes on to answer in the same sentence ("Unfortunately, I can't give an exact figure,
  but roughly ...") is not a refusal.
- 0.2 ``cut off``: ``finish_reason == "length"``.
- 0.3 ``too short``: fewer words than a tenth of the question's words (at most 30 needed),
  e.g. a 4-word reply to a 200-word coding question. Valid JSON, when JSON was asked for,
  is never too short.
- 1.0 otherwise (tool calls always pass: the host runs the tool, not the user).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..host import ChatCompletionResponse, MessageInput
from .classify import PromptProfile, content_parts, message_dict

__all__ = ["QualityScorer", "QualityVerdict", "answer_text", "default_quality_check"]

_APOS = "['\u2019]"
_REFUSAL = re.compile(
    rf"^\s*(?:"
    # "I'm sorry, (but) I can't ...", "Unfortunately, I am unable to ...": an apology, then "I" refusing.
    rf"(?:i{_APOS}?m sorry|i am sorry|sorry|unfortunately|i apologi[sz]e|i{_APOS}?m afraid|i am afraid)"
    rf"\s*[,\u2014\u2013-]?\s*(?:but\s+)?"
    rf"i(?:{_APOS}?m| am)?\s+(?:can(?:no|{_APOS})?t|cannot|unable|won{_APOS}?t|not able|not allowed)\b"
    rf"|i (?:can(?:no|{_APOS})?t|cannot|am unable to|am not able to|won{_APOS}?t) "
    rf"(?:help|assist|comply|fulfil|do that|provide that|answer that)"
    rf"|as an ai\b"
    rf"|i{_APOS}?m (?:unable|not able) to"
    rf")",
    re.IGNORECASE,
)
# "Unfortunately, I can't give an exact figure, but roughly 8 billion": a hedge that answers.
_ANSWERS_ANYWAY = re.compile(r"[^.!?\n]*?,\s*but\b\s*\S")
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*)\n\s*```\s*$", re.DOTALL)
_WORD = re.compile(r"\S+")
MAX_WORDS_REQUIRED = 30


@dataclass(frozen=True, slots=True)
class QualityVerdict:
    """A score in [0, 1] and why. A check that called a model (``judge.JudgeScorer``) says
    which and what it cost, so the router can count it in the request's attempts and cost."""

    score: float
    reason: str
    cost: float | None = None
    provider: str | None = None
    model: str | None = None
    duration_ms: float | None = None
    error: str | None = None  # the model call failed (error class name); the score is the fallback's


#: A caller's own check: ``await scorer(messages, response)`` -> score in [0, 1] or a verdict.
QualityScorer = Callable[[Sequence[MessageInput], ChatCompletionResponse], Awaitable[float | QualityVerdict]]


def answer_text(response: ChatCompletionResponse) -> str:
    if not response.choices:
        return ""
    content = response.choices[0].message.content
    return "".join(t for kind, t in content_parts(content) if kind == "text")


def _question_words(messages: Sequence[MessageInput]) -> int:
    for message in reversed(messages):
        data = message_dict(message)
        if data.get("role") == "user":
            return sum(len(_WORD.findall(t)) for kind, t in content_parts(data.get("content")) if kind == "text")
    return 0


def _is_json(text: str) -> bool:
    fenced = _FENCE.match(text)
    try:
        json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return False
    return True


def default_quality_check(
    messages: Sequence[MessageInput], response: ChatCompletionResponse, profile: PromptProfile
) -> QualityVerdict:
    """Score one answer by the module's rules."""
    choice = response.choices[0] if response.choices else None
    text = answer_text(response).strip()
    if choice is not None and choice.message.tool_calls:
        return QualityVerdict(1.0, "tool call")
    if not text:
        return QualityVerdict(0.0, "empty answer")
    if profile.json_requested and not _is_json(text):
        return QualityVerdict(0.0, "invalid JSON (JSON was asked for)")
    refusal = _REFUSAL.match(text)
    if refusal is not None and not _ANSWERS_ANYWAY.match(text, refusal.end()):
        return QualityVerdict(0.1, "refusal-like answer")
    if choice is not None and choice.finish_reason == "length":
        return QualityVerdict(0.2, "cut off (finish_reason=length)")
    if profile.json_requested:
        return QualityVerdict(1.0, "valid JSON")
    needed = min(MAX_WORDS_REQUIRED, _question_words(messages) // 10)
    words = len(_WORD.findall(text))
    if words < needed:
        return QualityVerdict(0.3, f"too short: {words} words for a question that needs about {needed}")
    return QualityVerdict(1.0, "passed the default checks")
