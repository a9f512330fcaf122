"""Reading chat messages: the dict form of a message, its content parts, its text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...host import ChatMessage, MessageInput

__all__ = ["SCANNED_ROLES", "content_parts", "message_dict", "text_of"]

#: The request's own words; assistant turns are the model's, tool results are data.
SCANNED_ROLES = frozenset({"user", "system", "developer"})
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_TEXT_PARTS = frozenset({"text", "input_text"})


def message_dict(message: MessageInput) -> Mapping[str, Any]:
    if isinstance(message, ChatMessage):
        return message.model_dump(exclude_none=True)
    if isinstance(message, Mapping):
        return message
    raise TypeError(f"messages must be ChatMessage or dict, got {type(message).__name__}")


def content_parts(content: Any) -> Iterable[tuple[str, str]]:
    """(kind, text) for each piece of content: kind is "text", "image" or "other"."""
    if isinstance(content, str):
        yield "text", content
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
                yield "text", part["text"]
            elif kind in _IMAGE_PARTS:
                yield "image", ""
            else:
                yield "other", ""


def text_of(message: Mapping[str, Any]) -> str:
    """A message's text parts, one per line."""
    return "\n".join(t for kind, t in content_parts(message.get("content")) if kind == "text")
