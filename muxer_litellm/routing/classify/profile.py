"""What the classifier decides about a request: ``PromptProfile``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PROMPT_CLASSES", "RULE_CONFIDENCE", "PromptClass", "PromptProfile"]

PromptClass = Literal["code", "reasoning", "long_context", "vision", "tools", "json", "simple"]
PROMPT_CLASSES: tuple[PromptClass, ...] = ("code", "reasoning", "long_context", "vision", "tools", "json", "simple")

#: The least confidence a class has when a rule fired for it.
RULE_CONFIDENCE = 0.9


@dataclass(frozen=True, slots=True)
class PromptProfile:
    """What a request needs. ``classes`` is never empty: "simple" when no rule fired."""

    prompt_tokens: int
    classes: frozenset[PromptClass]
    signals: tuple[str, ...]
    needs_tools: bool
    needs_vision: bool
    json_requested: bool
    needs_json_schema: bool
    #: The one need the prompt stands for (long_context, then code/reasoning, vision, tools,
    #: json, simple) and how sure the classifier is of it, in [0, 1]: the learned scorer's
    #: probability, at least ``RULE_CONFIDENCE`` when a rule fired, 1 for structural needs.
    primary: PromptClass = "simple"
    confidence: float = 1.0
    #: The likeliest other class by the learned scorer and its probability (None without it).
    runner_up: PromptClass | None = None
    runner_up_score: float = 0.0
    #: The learned scorer's probabilities, ``(class, p)`` for simple, code, reasoning, json.
    scores: tuple[tuple[str, float], ...] = ()

    @property
    def is_simple(self) -> bool:
        return "simple" in self.classes

    def describe(self) -> str:
        """E.g. ``code+reasoning (code block; math words 'prove')``."""
        names = "+".join(c for c in PROMPT_CLASSES if c in self.classes)
        return f"{names} ({'; '.join(self.signals)})" if self.signals else names
