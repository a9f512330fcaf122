"""What the learned scorer should not read: text that says nothing about the need.

A generic role prompt ("You are a helpful assistant."), a greeting turn before the request,
a polite opener ("Hi! Could you please help me with something?") or thanks and a sign-off
say nothing about what a prompt needs, yet a scorer learned from a few hundred prompts gives
their words weight. The scorer itself decides what to leave out, so no word list is kept:

- the system prompt and the previous user turn are read only when, on their own, they point
  at a need: some class other than simple reaches the scorer's own ``threshold``, the
  probability at which it would add that class to a request. "You are a senior Python
  reviewer" and "Answer in JSON" count, "You are a helpful assistant." does not;
- up to ``EDGE_SENTENCES`` short sentences (``EDGE_WORDS`` words, no numbers) at the start and
  end of the last user turn are dropped when, on their own, no need reaches that threshold,
  as long as what stays keeps more words than all that is dropped. A sentence that points at
  a need is never dropped; a simple request may be, which leaves it simple.
"""

from __future__ import annotations

import re

from .learned import LearnedModel

__all__ = ["EDGE_SENTENCES", "EDGE_WORDS", "needful_context", "request_core"]

EDGE_WORDS = 8
EDGE_SENTENCES = 2
#: How far into each end of the turn an edge sentence is looked for (bounded work).
_EDGE_CHARS = 160
_END = re.compile(r"[.!?\u3002\uff01\uff1f]+(?:\s+|$)|\n+")
_INNER_END = re.compile(r"(?:[.!?\u3002\uff01\uff1f]+\s*|\n+)(?=\S)")
_DIGIT = re.compile(r"\d")


def needful_context(model: LearnedModel, lower: str) -> str:
    """``lower`` (a system prompt or earlier turn, lowercased) when it points at a need, else ""."""
    return lower if lower.strip() and model.need_alone(lower) >= model.threshold else ""


def _droppable(model: LearnedModel, sentence: str, dropped: int, total: int) -> bool:
    """Short, no numbers, pointing at no need alone, and what stays of the turn keeps more
    words than all that is dropped (so a request is not dropped for its pleasantries)."""
    words = len(sentence.split())
    return (
        0 < words <= EDGE_WORDS
        and total - dropped - words > dropped + words
        and not _DIGIT.search(sentence)
        and model.need_alone(sentence) < model.threshold
    )


def request_core(model: LearnedModel, lower: str) -> str:
    """The last user turn (lowercased) without the short sentences at its edges that point at
    no need (see the module docstring)."""
    if _INNER_END.search(lower) is None:
        return lower  # one sentence: nothing at its edges to drop
    total = len(lower.split())
    dropped = 0
    for _ in range(EDGE_SENTENCES):
        end = _END.search(lower, 0, _EDGE_CHARS)
        if end is None or not _droppable(model, lower[: end.end()], dropped, total):
            break
        dropped += len(lower[: end.end()].split())
        lower = lower[end.end() :]
    for _ in range(EDGE_SENTENCES):
        body = lower.rstrip()
        ends = [m.end() for m in _END.finditer(body, max(0, len(body) - _EDGE_CHARS)) if m.end() < len(body)]
        if not ends or not _droppable(model, body[ends[-1] :], dropped, total):
            break
        dropped += len(body[ends[-1] :].split())
        lower = body[: ends[-1]]
    return lower
