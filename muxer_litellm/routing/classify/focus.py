"""Which text the classifier reads: bounded parts of the conversation, so a long prompt costs
no more to classify than a short one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .messages import content_parts, text_of

__all__ = ["FOCUS_HEAD", "SCAN_CHARS", "current_request", "focus_parts", "focus_text", "joined"]

#: Only this much of the conversation's text is scanned by the rules (about 1,000 tokens), so
#: routing a 500-page prompt costs the same as a 2-page one. The end (the current turn, where the
#: question usually is) is kept.
SCAN_CHARS = 4_000

#: What the learned scorer reads (``focus_text``): the start of the system prompt, the end of
#: the previous user turn, and the last user turn, cut to its head and tail when long.
FOCUS_SYSTEM = 150
FOCUS_PREVIOUS = 150
FOCUS_HEAD = 250
FOCUS_TAIL = 150


def focus_parts(messages: Sequence[Mapping[str, Any]]) -> tuple[str, str, str]:
    """``(system, previous, last)``: the start of the first system/developer prompt, the end
    of the previous user turn, and the last user turn (its head and tail when long)."""
    system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
    users = [m for m in messages if m.get("role") == "user"]
    previous = text_of(users[-2])[-FOCUS_PREVIOUS:] if len(users) > 1 else ""
    last = text_of(users[-1]) if users else ""
    if len(last) > FOCUS_HEAD + FOCUS_TAIL:
        last = f"{last[:FOCUS_HEAD]}\n{last[-FOCUS_TAIL:]}"
    return (text_of(system)[:FOCUS_SYSTEM] if system is not None else ""), previous, last


def focus_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The part of a conversation that says what is asked (see ``FOCUS_*``), what the learned
    scorer reads: bounded, so a long prompt costs no more than a short one."""
    return "\n".join(part for part in focus_parts(messages) if part)


def joined(dicts: Sequence[Mapping[str, Any]]) -> str:
    """The messages' text parts, one per line, cut to the last ``SCAN_CHARS`` characters."""
    return "\n".join(t for d in dicts for k, t in content_parts(d.get("content")) if k == "text")[-SCAN_CHARS:]


def current_request(scanned_dicts: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]] | None:
    """The system/developer prompts and the last user turn, when earlier user turns exist
    (else None: the whole scanned text is the current request)."""
    users = [i for i, d in enumerate(scanned_dicts) if d.get("role") == "user"]
    if len(users) < 2:
        return None
    return [d for i, d in enumerate(scanned_dicts) if d.get("role") != "user" or i == users[-1]]
