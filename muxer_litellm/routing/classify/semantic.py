"""Opt-in semantic classification: compare the prompt's embedding with labelled exemplars.

For operators who accept a small extra cost per request: ``SemanticClassifier`` embeds the
prompt's focus text (``focus.focus_text``) through the proxy's own ``/v1/embeddings``
(``LiteLLMProvider.embeddings``), scores each class by its nearest exemplars (mean cosine of
the ``k`` closest), blends that with the default classifier's scores and re-decides the
profile. The exemplars are embedded once, on first use. Pass it to
``HeuristicRouter(semantic=...)``: the embedding call is recorded as a ``classified``
attempt and counts in ``total_cost``.

It never makes routing worse than the default: it is skipped when the default classifier is
sure (a rule fired, or confidence >= ``skip_above``) or the need is structural (long
context, images, tools), and on a timeout or any provider error the default profile is kept
(the attempt says why).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ...errors import ProviderError
from ...host import EmbeddingResponse, MessageInput, RouteAttempt
from .classifier import LEARNED_THRESHOLD
from .focus import focus_text
from .learned import MODEL_CLASSES, ModelClass
from .messages import message_dict
from .profile import PromptClass, PromptProfile

__all__ = ["DEFAULT_EXEMPLARS", "Embedder", "ProfileRefiner", "SemanticClassifier"]


class Embedder(Protocol):
    """What the classifier needs from a provider (``LiteLLMProvider`` has it)."""

    async def embeddings(self, input: list[str], model: str, **kwargs: Any) -> EmbeddingResponse: ...


class ProfileRefiner(Protocol):
    """What ``HeuristicRouter(semantic=...)`` calls while planning: a refined profile and the
    calls it made (recorded first in the request's attempts)."""

    async def refine(
        self, messages: Sequence[MessageInput], profile: PromptProfile
    ) -> tuple[PromptProfile, tuple[RouteAttempt, ...]]: ...


#: A few prompts per need. Operators should pass their own traffic's exemplars.
DEFAULT_EXEMPLARS: Mapping[str, tuple[str, ...]] = {
    "simple": (
        "What is the capital of Italy?",
        "Write a short birthday message for my aunt.",
        "Recommend a good book for a long train ride.",
        "Translate 'good morning' into Spanish.",
        "How do I get a coffee stain out of a shirt?",
        "Give me three ideas for a weekend trip near Paris.",
        "Summarise this paragraph in one sentence.",
        "Tell me a fun fact about dolphins.",
    ),
    "code": (
        "Write a Python function that removes duplicates from a list.",
        "Why does my JavaScript fetch call fail with a CORS error?",
        "Write a Dockerfile for a Node.js web server.",
        "How do I undo the last git commit but keep my changes?",
        "Fix this SQL query that returns duplicate rows.",
        "My React component re-renders forever, what is wrong?",
        "Write a bash script that backs up a folder every night.",
        "How do I group rows by two columns in pandas?",
    ),
    "reasoning": (
        "Is 391 a prime number?",
        "A train leaves at 9:00 at 80 km/h and another at 10:00 at 120 km/h. When does the second catch up?",
        "What is the probability of rolling two sixes with three dice?",
        "Three friends own a cat, a dog and a fish; Ana hates fur and Ben's pet cannot swim. Who owns what?",
        "How many ways can five people stand in a line?",
        "If I invest $2,000 at 5% compounded yearly, how much do I have after 8 years?",
        "Plan five meetings into two free afternoons so that no one has two in a row.",
        "Prove that the sum of two even numbers is even.",
    ),
    "json": (
        "Return the answer as a JSON object with keys name and age.",
        "List three fruits and their colours in JSON format.",
        "Extract the date and total from this receipt as JSON.",
        "Respond only with JSON.",
    ),
}


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _vectors(response: EmbeddingResponse, expected: int) -> list[list[float]]:
    data = sorted(response.data, key=lambda d: d.index)
    vectors = [d.embedding for d in data]
    if len(vectors) != expected or not all(isinstance(v, list) and v for v in vectors):
        raise ValueError(f"expected {expected} float embeddings, got {len(vectors)}")
    width = len(vectors[0])
    if any(len(v) != width for v in vectors):
        raise ValueError("embeddings of different lengths")
    return [[float(x) for x in v] for v in vectors]


@dataclass
class SemanticClassifier:
    """``provider``: anything with ``embeddings()`` (a ``LiteLLMProvider``); ``model``: an
    embedding model the proxy serves. ``weight``: the semantic scores' share when blended with
    the default classifier's (1 = semantic only). ``timeout`` (seconds) bounds each request's
    embedding calls, the first request's included (it also embeds the exemplars)."""

    provider: Embedder
    model: str
    exemplars: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_EXEMPLARS))
    timeout: float = 2.0
    k: int = 3
    weight: float = 0.5
    temperature: float = 0.05
    skip_above: float = 0.9
    provider_name: str | None = None
    _bank: list[tuple[str, list[float]]] | None = field(default=None, init=False, repr=False)
    #: What embedding the exemplars cost that no request has counted yet (None: unknown). It
    #: goes on the next successful classification, so a failed first request does not lose it.
    _bank_cost: float | None = field(default=0.0, init=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.exemplars) - set(MODEL_CLASSES))
        if unknown:
            raise ValueError(f"exemplar classes must be among {', '.join(MODEL_CLASSES)}, got {', '.join(unknown)}")
        if not any(self.exemplars.values()):
            raise ValueError("exemplars must hold at least one prompt")
        if not (self.timeout > 0 and self.k >= 1 and 0 <= self.weight <= 1 and self.temperature > 0):
            raise ValueError("timeout and temperature must be > 0, k >= 1 and weight within [0, 1]")

    @property
    def name(self) -> str:
        return self.provider_name or str(getattr(self.provider, "provider_name", "") or "embeddings")

    def should_run(self, profile: PromptProfile) -> bool:
        """Skip prompts the default classifier is sure of (a rule fired, or its confidence is
        at least ``skip_above``) and structural needs: no call, no cost."""
        return profile.primary not in ("long_context", "vision", "tools") and profile.confidence < self.skip_above

    async def _exemplar_bank(self) -> list[tuple[str, list[float]]]:
        """The exemplars' vectors, embedded once; their cost waits in ``_bank_cost``."""
        async with self._lock:
            if self._bank is not None:
                return self._bank
            pairs = [(cls, text) for cls, texts in self.exemplars.items() for text in texts]
            response = await self.provider.embeddings([text for _, text in pairs], self.model)
            vectors = _vectors(response, len(pairs))
            self._bank = [(cls, v) for (cls, _), v in zip(pairs, vectors, strict=True)]
            self._bank_cost = response.router_metadata.estimated_cost
            return self._bank

    def scores(self, vector: Sequence[float], bank: Sequence[tuple[str, list[float]]]) -> dict[str, float]:
        """Per class: the mean cosine of its ``k`` nearest exemplars, softmaxed."""
        sims: dict[str, list[float]] = {}
        for cls, v in bank:
            sims.setdefault(cls, []).append(_cosine(vector, v))
        means = {cls: sum(sorted(s, reverse=True)[: self.k]) / min(self.k, len(s)) for cls, s in sims.items()}
        top = max(means.values())
        exps = {cls: math.exp((m - top) / self.temperature) for cls, m in means.items()}
        total = sum(exps.values())
        return {cls: exps.get(cls, 0.0) / total for cls in MODEL_CLASSES}

    async def refine(
        self, messages: Sequence[MessageInput], profile: PromptProfile
    ) -> tuple[PromptProfile, tuple[RouteAttempt, ...]]:
        if not self.should_run(profile):
            return profile, ()
        text = focus_text([message_dict(m) for m in messages]).strip()
        if not text:
            return profile, ()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                bank = await self._exemplar_bank()
                response = await self.provider.embeddings([text], self.model)
            vector = _vectors(response, 1)[0]
            semantic = self.scores(vector, bank)
        except (TimeoutError, ProviderError, ValueError) as exc:
            why = f"took longer than {self.timeout:g}s" if isinstance(exc, TimeoutError) else str(exc)[:200]
            attempt = RouteAttempt(
                provider=self.name,
                model=self.model,
                outcome="failed",
                error=type(exc).__name__,
                detail=f"semantic classifier: {why}; kept the default classification",
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            return profile, (attempt,)
        # This request counts the exemplars' embedding if no earlier one could (no await between).
        bank_cost, self._bank_cost = self._bank_cost, 0.0
        cost = response.router_metadata.estimated_cost
        cost = None if cost is None or bank_cost is None else cost + bank_cost
        refined = blend(profile, semantic, self.weight)
        best = max(semantic, key=semantic.__getitem__)
        attempt = RouteAttempt(
            provider=self.name,
            model=self.model,
            outcome="classified",
            cost=cost,
            detail=f"semantic classifier: nearest {best} {semantic[best]:.2f}; now {refined.describe()}",
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        return refined, (attempt,)


def blend(profile: PromptProfile, semantic: Mapping[str, float], weight: float) -> PromptProfile:
    """The profile re-decided on the blend of its scores and ``semantic``'s: code or reasoning
    is added when its blended probability reaches ``LEARNED_THRESHOLD`` (classes found by
    rules, vision, tools, long context and JSON requests are kept)."""
    base = dict(profile.scores) or {c: (1.0 if c == "simple" else 0.0) for c in MODEL_CLASSES}
    mixed: dict[str, float] = {
        c: (1 - weight) * base.get(c, 0.0) + weight * semantic.get(c, 0.0) for c in MODEL_CLASSES
    }
    classes: set[PromptClass] = set(profile.classes)
    signals = list(profile.signals)
    added: list[ModelClass] = []
    if not classes & {"code", "reasoning"}:
        learnable: tuple[ModelClass, ...] = ("code", "reasoning")
        for cls in learnable:
            if mixed[cls] >= LEARNED_THRESHOLD:
                classes.add(cls)
                signals.append(f"semantic {cls} {mixed[cls]:.2f}")
                added.append(cls)
    if added:
        classes.discard("simple")
        primary: PromptClass = max(added, key=mixed.__getitem__)
        confidence = mixed[primary]
    elif profile.primary == "simple":
        primary, confidence = "simple", mixed["simple"]
    elif profile.primary == "json":
        primary, confidence = "json", max(mixed["json"], profile.confidence)
    else:  # found by the default classifier: kept as it was
        primary, confidence = profile.primary, profile.confidence
    other = max((c for c in MODEL_CLASSES if c != primary), key=mixed.__getitem__)
    return replace(
        profile,
        classes=frozenset(classes),
        signals=tuple(signals),
        primary=primary,
        confidence=confidence,
        runner_up=other,
        runner_up_score=mixed[other],
        scores=tuple((c, mixed[c]) for c in MODEL_CLASSES),
    )
