"""Invariance: does content that says nothing about the need change the decision?

Each prompt is classified bare and in each of ``WRAPPINGS`` (a generic role prompt, a
company's product assistant prompt, a polite opener, a thank-you, a sign-off, a small-talk turn
first, and all of them at once). The flip rate is the share of wrapped variants whose predicted
need differs from the bare prompt's; over- and under-routing are then counted on the wrapped
variants, beside the bare figures.

These wrappings are written for measuring only: ``eval/augment.py`` wraps the training
prompts in *other* templates, so a low flip rate here means the classifier generalised,
not that it memorised the wrappers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .dataset import Item

Messages = list[dict[str, Any]]


def _last_user(messages: Messages) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "user")


def _edit_last_user(messages: Messages, edit: Callable[[str], str]) -> Messages:
    out = [dict(m) for m in messages]
    i = _last_user(out)
    out[i]["content"] = edit(out[i]["content"])
    return out


def _with_system(text: str) -> Callable[[Messages], Messages]:
    def wrap(messages: Messages) -> Messages:
        if any(m["role"] in ("system", "developer") for m in messages):
            return messages
        return [{"role": "system", "content": text}, *messages]

    return wrap


def _prefix(text: str) -> Callable[[Messages], Messages]:
    return lambda messages: _edit_last_user(messages, lambda c: f"{text}{c}")


def _suffix(text: str) -> Callable[[Messages], Messages]:
    return lambda messages: _edit_last_user(messages, lambda c: f"{c}{text}")


def _turn_first(user: str, assistant: str) -> Callable[[Messages], Messages]:
    def wrap(messages: Messages) -> Messages:
        at = next((i for i, m in enumerate(messages) if m["role"] not in ("system", "developer")), len(messages))
        small_talk = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return [*messages[:at], *small_talk, *messages[at:]]

    return wrap


def _all(*wraps: Callable[[Messages], Messages]) -> Callable[[Messages], Messages]:
    def wrap(messages: Messages) -> Messages:
        for w in wraps:
            messages = w(messages)
        return messages

    return wrap


WRAPPINGS: tuple[tuple[str, Callable[[Messages], Messages]], ...] = (
    ("generic system prompt", _with_system("You are a helpful assistant.")),
    (
        "product assistant",
        _with_system("You are Orla, the help-centre assistant of Quillory, a team-planning tool. Be warm and brief."),
    ),
    ("polite opener", _prefix("Hi! Could you please help me with something? ")),
    ("thank-you", _suffix(" Thank you so much!")),
    ("sign-off", _suffix("\n\nCheers,\nSam")),
    ("greeting turn first", _turn_first("Hey, good morning!", "Good morning! What can I help you with today?")),
    (
        "all of them",
        _all(
            _with_system("You are a helpful, harmless and honest AI assistant."),
            _prefix("Hello again :) Sorry to bother you. "),
            _suffix(" Many thanks, have a lovely day!"),
            _turn_first("hi", "Hello! How can I help?"),
        ),
    ),
)


def wrapped(items: Sequence[Item]) -> list[tuple[str, Item]]:
    """Every item in every wrapping: ``(wrapping name, wrapped item)``."""
    return [
        (name, replace(item, id=f"{item.id}~{name}", messages=wrap(item.messages)))
        for item in items
        for name, wrap in WRAPPINGS
    ]


@dataclass(frozen=True)
class Flip:
    wrapping: str
    item: Item
    bare: str
    now: str
