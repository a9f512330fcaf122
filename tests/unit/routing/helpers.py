"""What the routing unit tests share. The providers are ``muxer_litellm.testing``'s fake:
``bare()`` a bare host provider (prices from ``calculate_cost`` only), ``catalog()`` one with
a catalog like ``LiteLLMProvider``. Both answer with ``PROMPT_TOKENS`` prompt and
``COMPLETION_TOKENS`` completion tokens (streams too), so costs are easy to derive.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest

from muxer_litellm.errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    ModelNotFoundError,
    NotAProxyError,
    ProviderClosedError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.host import LLMProvider, MessageInput, ModelCard
from muxer_litellm.routing import HeuristicRouter, RoutePlan, RoutingConfig, estimate_prompt_tokens
from muxer_litellm.testing import BareFakeProvider, FakeProvider, ModelSpec, Outcome, model_card

PROMPT_TOKENS, COMPLETION_TOKENS = 10, 20  # what bare() and catalog() providers report
SIMPLE_OUTPUT = 256  # expected_output_tokens["simple"], a plan's output estimate for a simple prompt

# Per-1K prices (input, output).
CHEAP = (0.0005, 0.0015)
MID = (0.003, 0.004)
EXPENSIVE = (0.01, 0.03)

QUESTION = "What is the capital of France?"

# What each error class means for a route (policy.py), by what the router does next.
NEXT_ERRORS = [
    pytest.param(RateLimitError("slow down"), id="rate-limit"),
    pytest.param(ProviderTimeoutError("timed out"), id="timeout"),
    pytest.param(ProviderUnavailableError("bad gateway", 502), id="unavailable-5xx"),
    pytest.param(ProviderError("flaky upstream", 500, retryable=True), id="retryable-provider-error"),
    pytest.param(ModelNotFoundError("no such model", 404), id="model-not-found"),
    pytest.param(ContextWindowExceededError("too long", 400), id="context-window"),
    pytest.param(ContentPolicyError("flagged", 400), id="content-policy"),
]
SKIP_PROVIDER_ERRORS = [
    pytest.param(AuthenticationError("bad key", 401), id="auth"),
    pytest.param(BudgetExceededError("key budget spent", 400), id="budget"),
    pytest.param(NotAProxyError("http://x answers HTML, not a LiteLLM proxy", 404), id="not-a-proxy"),
    pytest.param(ProviderClosedError("the provider was closed"), id="closed"),
    # Not about the request, nor one model: a malformed reply, a keyless 500.
    pytest.param(ProviderError("teapot", 418), id="plain-provider-error"),
    pytest.param(ProviderError("refused", 500, retryable=False), id="non-retryable-provider-error"),
]
STOP_ERRORS = [
    pytest.param(BadRequestError("bad request", 400), id="bad-request"),
    pytest.param(BadRequestError("bad but retryable?", 400, retryable=True), id="bad-request-marked-retryable"),
]


class Clock:
    """A fake monotonic clock: ``clock.now += 7`` moves time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


MESSAGES = user(QUESTION)


def card(name: str, inp: float | None, out: float | None, **fields: Any) -> ModelCard:
    """A chat card priced per 1K tokens (None = unknown), as the proxy's catalog gives it."""
    fields.setdefault("pricing_source", "proxy" if inp is not None and out is not None else "unknown")
    return model_card(name, inp, out, **fields)


def bare(
    name: str, prices: Mapping[str, ModelSpec], *, script: Mapping[str, Sequence[Outcome]] | None = None, **kw: Any
) -> BareFakeProvider:
    """A host provider without a catalog: ``prices`` is ``{model: (in, out) per 1K | None}``."""
    kw.setdefault("prompt_tokens", PROMPT_TOKENS)
    kw.setdefault("completion_tokens", COMPLETION_TOKENS)
    return BareFakeProvider(name, prices, script=script, **kw)


def catalog(
    name: str, cards: Sequence[ModelCard], *, script: Mapping[str, Sequence[Outcome]] | None = None, **kw: Any
) -> FakeProvider:
    """A provider with a catalog (``model_cards()``, ``refresh_models()``, ``count_tokens()``)."""
    kw.setdefault("prompt_tokens", PROMPT_TOKENS)
    kw.setdefault("completion_tokens", COMPLETION_TOKENS)
    return FakeProvider(name, cards, script=script, **kw)


def called(provider: FakeProvider) -> list[str]:
    """Models of its chat calls, in order."""
    return [call.model for call in provider.calls]


def order(plan: RoutePlan) -> list[str]:
    return [t.key for t in plan.candidates]


def answered_cost(price: tuple[float, float]) -> float:
    """What an answer from a bare()/catalog() provider at ``price`` costs."""
    return (PROMPT_TOKENS * price[0] + COMPLETION_TOKENS * price[1]) / 1000


def planned_cost(price: tuple[float, float], messages: Sequence[MessageInput] = MESSAGES) -> float:
    """A plan's estimate for a simple prompt without ``max_tokens`` at ``price``."""
    return (estimate_prompt_tokens(messages) * price[0] + SIMPLE_OUTPUT * price[1]) / 1000


def combo(
    *targets: str | Mapping[str, Any], strategy: str = "priority", name: str = "c", **fields: Any
) -> RoutingConfig:
    return RoutingConfig(combos={name: {"targets": list(targets), "strategy": strategy}}, **fields)


def make_router(config: RoutingConfig, clock: Clock | None = None, seed: int | None = None) -> HeuristicRouter:
    rng = random.Random(seed) if seed is not None else None
    return HeuristicRouter(config, clock=clock or Clock(), rng=rng)


def two_providers(
    a_script: Mapping[str, Sequence[Outcome]] | None = None,
    b_script: Mapping[str, Sequence[Outcome]] | None = None,
) -> tuple[BareFakeProvider, BareFakeProvider, dict[str, LLMProvider]]:
    """``a`` offers m1 (cheap) and m2 (mid); ``b`` offers m3 (mid) and m4 (expensive)."""
    a = bare("native-a", {"m1": CHEAP, "m2": MID}, script=a_script)
    b = bare("native-b", {"m3": MID, "m4": EXPENSIVE}, script=b_script)
    return a, b, {"a": a, "b": b}


async def drain(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


def attempt_rows(attempts: Sequence[Any]) -> list[tuple[str, str, str, str | None]]:
    rows = []
    for a in attempts:
        d = a if isinstance(a, dict) else a.model_dump()
        rows.append((d["provider"], d["model"], d["outcome"], d["error"]))
    return rows


# --------------------------------------------------------------------------- the prompt-size estimate, written out


def compact_json(value: Any) -> str:
    """The JSON the estimate counts: compact, non-ASCII kept as characters (not \\u escapes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def expected_text_tokens(text: str) -> int:
    """The documented rule, written out independently: ceil(ascii_chars / 3) + non_ascii_chars."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return math.ceil(ascii_chars / 3) + (len(text) - ascii_chars)


def message_tokens(text: str, images: int = 0) -> int:
    """One message's share of the documented formula; ``text`` is the message's pooled text."""
    return 4 + expected_text_tokens(text) + 765 * images
