"""``HeuristicRouter.route_stream``: fallback before the first chunk only, the routing fields on
the metadata chunk (or a trailer), closing the provider's stream, and the error policy."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    FallbackExhaustedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.host import LLMProvider, MessageInput, RouterMetadata
from muxer_litellm.routing import HeuristicRouter, RoutePlan, RoutingConfig
from tests.unit.routing.helpers import FakeProvider, Outcome, user

QUESTION = "What is the capital of France?"
MESSAGES = user(QUESTION)
STREAM_PROMPT, STREAM_COMPLETION = 10, 5  # what FakeProvider's stream usage reports

CHEAP = (0.0005, 0.0015)
MID = (0.003, 0.004)
EXPENSIVE = (0.01, 0.03)


# ---------------------------------------------------------------------------- helpers


class Clock:
    """A fake monotonic clock: ``clock.now += 7`` moves time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def combo(
    *targets: str | Mapping[str, Any], strategy: str = "priority", name: str = "c", **fields: Any
) -> RoutingConfig:
    return RoutingConfig(combos={name: {"targets": list(targets), "strategy": strategy}}, **fields)


def make_router(config: RoutingConfig, clock: Clock | None = None, seed: int | None = None) -> HeuristicRouter:
    rng = random.Random(seed) if seed is not None else None
    return HeuristicRouter(config, clock=clock or Clock(), rng=rng)


def order(plan: RoutePlan) -> list[str]:
    return [t.key for t in plan.targets]


def two_providers(
    a_script: Mapping[str, Sequence[Outcome]] | None = None,
    b_script: Mapping[str, Sequence[Outcome]] | None = None,
) -> tuple[FakeProvider, FakeProvider, dict[str, LLMProvider]]:
    """``a`` offers m1 (cheap) and m2 (mid); ``b`` offers m3 (mid) and m4 (expensive)."""
    a = FakeProvider("native-a", {"m1": CHEAP, "m2": MID}, script=a_script)
    b = FakeProvider("native-b", {"m3": MID, "m4": EXPENSIVE}, script=b_script)
    return a, b, {"a": a, "b": b}


async def drain(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


def attempt_rows(attempts: Sequence[Any]) -> list[tuple[str, str, str, str | None]]:
    rows = []
    for a in attempts:
        d = a if isinstance(a, dict) else a.model_dump()
        rows.append((d["provider"], d["model"], d["outcome"], d["error"]))
    return rows


# ---------------------------------------------------------------------------- route_stream


class HalfStream(FakeProvider):
    """Streams one content chunk, then fails: too late for a fallback."""

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        self.stream_calls.append(model)
        yield {"object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": {"content": "Pa"}}]}
        raise ProviderUnavailableError("upstream dropped the stream", 502)


class BareStream(FakeProvider):
    """Streams content chunks with no router_metadata (a host provider may), and records closing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened = 0
        self.finished = 0  # generators that ran their finally (closed or exhausted)

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        self.stream_calls.append(model)
        self.opened += 1
        try:
            for word in ("Paris", "is", "the", "capital"):
                yield {
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": word}}],
                }
        finally:
            self.finished += 1


def content(chunks: Sequence[dict[str, Any]]) -> list[str]:
    return [c["choices"][0]["delta"]["content"] for c in chunks if c.get("choices")]


async def test_stream_falls_back_when_the_first_target_fails_before_the_first_chunk() -> None:
    a, b, providers = two_providers(
        a_script={"m1": [RateLimitError("429", retry_after=3)]}, b_script={"m3": ["Paris it is"]}
    )
    router = make_router(combo("a/m1", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, providers, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    assert content(chunks) == ["Paris", "it", "is"]
    metas = [c["router_metadata"] for c in chunks if "router_metadata" in c]
    assert len(metas) == 1
    meta = metas[0]
    assert meta["selected_provider"] == "b"
    assert meta["selected_model"] == "m3"
    assert meta["routing_strategy"] == "c"
    assert "after 1 failed attempt(s)" in meta["routing_reason"]
    assert attempt_rows(meta["attempts"]) == [("a", "m1", "failed", "RateLimitError"), ("b", "m3", "ok", None)]
    stream_cost = (STREAM_PROMPT * MID[0] + STREAM_COMPLETION * MID[1]) / 1000
    assert meta["attempts"][1]["cost"] == pytest.approx(stream_cost)
    assert meta["estimated_cost"] == pytest.approx(stream_cost)
    assert meta["total_cost"] == pytest.approx(stream_cost)
    # the 429 cooled a/m1 down for the next request
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]


async def test_stream_error_after_the_first_chunk_propagates_and_no_other_target_is_called() -> None:
    a = HalfStream("native-a", {"m1": CHEAP})
    b = FakeProvider("native-b", {"m3": MID})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=1))

    received: list[dict[str, Any]] = []
    with pytest.raises(ProviderUnavailableError):
        async for chunk in router.route_stream(MESSAGES, {"a": a, "b": b}, "c"):
            received.append(chunk)

    assert content(received) == ["Pa"]
    assert b.stream_calls == []
    assert b.calls == []
    assert router.state.breaker_state("a/m1") == "open"  # the state still learned from it


async def test_stream_without_router_metadata_gets_a_trailer_chunk_with_the_routing_fields() -> None:
    a = BareStream("native-a", {"m1": CHEAP})
    router = make_router(combo("a/m1", name="solo"))

    chunks = await drain(router.route_stream(MESSAGES, {"a": a}, "solo"))

    assert content(chunks) == ["Paris", "is", "the", "capital"]
    trailer = chunks[-1]
    assert trailer["choices"] == []
    assert trailer["model"] == "m1"
    meta = trailer["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"], meta["routing_strategy"]) == ("a", "m1", "solo")
    assert meta["estimated_cost"] is None
    assert attempt_rows(meta["attempts"]) == [("a", "m1", "ok", None)]
    assert all("router_metadata" not in c for c in chunks[:-1])
    assert a.finished == 1
    RouterMetadata.model_validate(meta)  # the trailer's metadata is a valid host RouterMetadata
    assert meta["cost_source"] == "unknown"


async def test_stream_closes_the_underlying_generator_when_the_consumer_stops_early() -> None:
    a = BareStream("native-a", {"m1": CHEAP})
    router = make_router(combo("a/m1"))

    async with contextlib.aclosing(router.route_stream(MESSAGES, {"a": a}, "c")) as stream:
        first = await anext(stream)
        assert content([first]) == ["Paris"]
        assert a.finished == 0

    assert a.opened == 1
    assert a.finished == 1


async def test_stream_through_a_cascade_is_a_bad_request() -> None:
    a, b, providers = two_providers()
    router = make_router(RoutingConfig())
    with pytest.raises(BadRequestError, match="cascade"):
        await drain(router.route_stream(MESSAGES, providers, "cascade"))
    assert a.stream_calls == b.stream_calls == []


async def test_stream_with_every_target_failing_before_output_raises_fallback_exhausted() -> None:
    _, _, providers = two_providers(
        a_script={"m1": [ProviderUnavailableError("503", 503)]}, b_script={"m3": [ProviderTimeoutError("slow")]}
    )
    router = make_router(combo("a/m1", "b/m3"))
    with pytest.raises(FallbackExhaustedError) as info:
        await drain(router.route_stream(MESSAGES, providers, "c"))
    assert [d["error"] for d in info.value.attempts] == ["ProviderUnavailableError", "ProviderTimeoutError"]
    assert info.value.retryable is True


async def test_stream_stops_on_a_bad_request_before_the_first_chunk() -> None:
    _a, b, providers = two_providers(a_script={"m1": [BadRequestError("bad", 400)]})
    router = make_router(combo("a/m1", "b/m3"))
    with pytest.raises(BadRequestError):
        await drain(router.route_stream(MESSAGES, providers, "c"))
    assert b.stream_calls == []


class EagerStream(FakeProvider):
    """A host provider whose ``stream_chat_completion`` is a plain ``def`` (as the ABC declares it)
    that checks before returning a generator, so it can raise when called, before any chunk."""

    def stream_chat_completion(  # type: ignore[override]
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        self.stream_calls.append(model)
        raise ProviderUnavailableError("connection refused", 503)


async def test_stream_skips_the_rest_of_a_provider_that_refused_our_key() -> None:
    a, b, providers = two_providers(a_script={"m1": [AuthenticationError("bad key", 401)]})
    router = make_router(combo("a/m1", "a/m2", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, providers, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    meta = next(c["router_metadata"] for c in chunks if "router_metadata" in c)
    assert attempt_rows(meta["attempts"]) == [
        ("a", "m1", "failed", "AuthenticationError"),
        ("a", "m2", "skipped", None),
        ("b", "m3", "ok", None),
    ]


async def test_stream_falls_back_when_opening_the_stream_raises_before_any_chunk() -> None:
    a = EagerStream("native-a", {"m1": CHEAP})
    b = FakeProvider("native-b", {"m3": MID})
    router = make_router(combo("a/m1", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, {"a": a, "b": b}, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    meta = next(c["router_metadata"] for c in chunks if "router_metadata" in c)
    assert attempt_rows(meta["attempts"]) == [
        ("a", "m1", "failed", "ProviderUnavailableError"),
        ("b", "m3", "ok", None),
    ]
