"""``HeuristicRouter.route_stream``: fallback before the first chunk only, the routing fields on
the metadata chunk (or a trailer), closing the provider's stream, and the error policy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
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
from muxer_litellm._stream import ChatStream
from muxer_litellm.host import MessageInput, RouterMetadata
from muxer_litellm.routing import RoutingConfig
from muxer_litellm.testing import BareFakeProvider, MidStreamError
from tests.unit.routing.helpers import (
    CHEAP,
    COMPLETION_TOKENS,
    MESSAGES,
    MID,
    PROMPT_TOKENS,
    Clock,
    answered_cost,
    attempt_rows,
    bare,
    combo,
    drain,
    make_router,
    order,
    two_providers,
)


def no_metadata(name: str = "native-a") -> BareFakeProvider:
    """A host provider whose stream (a plain async generator) sends usage but no router_metadata."""
    return bare(name, {"m1": CHEAP}, replies={"m1": "Paris is the capital"}, stream_metadata=False)


def content(chunks: Sequence[dict[str, Any]]) -> list[str]:
    """The content pieces, in order (finish and usage chunks carry none)."""
    pieces = (choice.get("delta", {}).get("content") for c in chunks for choice in c.get("choices", []))
    return [p for p in pieces if p is not None]


async def test_stream_falls_back_when_the_first_target_fails_before_the_first_chunk() -> None:
    a, b, providers = two_providers(
        a_script={"m1": [RateLimitError("429", retry_after=3)]}, b_script={"m3": ["Paris it is"]}
    )
    router = make_router(combo("a/m1", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, providers, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    assert content(chunks) == ["Paris", " it", " is"]
    metas = [c["router_metadata"] for c in chunks if "router_metadata" in c]
    assert len(metas) == 1
    meta = metas[0]
    assert meta["selected_provider"] == "b"
    assert meta["selected_model"] == "m3"
    assert meta["routing_strategy"] == "c"
    assert "after 1 failed attempt(s)" in meta["routing_reason"]
    assert attempt_rows(meta["attempts"]) == [("a", "m1", "failed", "RateLimitError"), ("b", "m3", "ok", None)]
    assert (meta["attempts"][0]["retry_after"], meta["attempts"][0]["retry_after_source"]) == (3, "proxy")
    stream_cost = answered_cost(MID)
    assert meta["attempts"][1]["cost"] == pytest.approx(stream_cost)
    assert meta["estimated_cost"] == pytest.approx(stream_cost)
    assert meta["total_cost"] == pytest.approx(stream_cost)
    # the 429 cooled a/m1 down for the next request
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]


async def test_stream_error_after_the_first_chunk_propagates_and_no_other_target_is_called() -> None:
    dropped = ProviderUnavailableError("upstream dropped the stream", 502)
    a = bare("native-a", {"m1": CHEAP}, script={"m1": [MidStreamError(dropped, after_chunks=1)]})
    b = bare("native-b", {"m3": MID})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=1))

    received: list[dict[str, Any]] = []
    with pytest.raises(ProviderUnavailableError):
        async for chunk in router.route_stream(MESSAGES, {"a": a, "b": b}, "c"):
            received.append(chunk)

    assert content(received) == ["answer"]
    assert b.stream_calls == []
    assert b.calls == []
    assert router.state.breaker_state("a/m1") == "open"  # the state still learned from it
    assert a.open_streams == 0


async def test_stream_without_router_metadata_gets_a_trailer_chunk_with_the_routing_fields() -> None:
    a = no_metadata()
    router = make_router(combo("a/m1", name="solo"))

    chunks = await drain(router.route_stream(MESSAGES, {"a": a}, "solo"))

    assert content(chunks) == ["Paris", " is", " the", " capital"]
    trailer = chunks[-1]
    assert trailer["choices"] == []
    assert trailer["model"] == "m1"
    meta = trailer["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"], meta["routing_strategy"]) == ("a", "m1", "solo")
    # Priced like a chat call: the last chunk's usage times the provider's calculate_cost.
    priced = a.calculate_cost(PROMPT_TOKENS, COMPLETION_TOKENS, "m1")
    assert meta["estimated_cost"] == pytest.approx(priced)
    assert attempt_rows(meta["attempts"]) == [("a", "m1", "ok", None)]
    assert meta["attempts"][0]["cost"] == pytest.approx(priced)
    assert meta["total_cost"] == pytest.approx(priced)
    assert all("router_metadata" not in c for c in chunks[:-1])
    assert a.open_streams == 0
    RouterMetadata.model_validate(meta)  # the trailer's metadata is a valid host RouterMetadata
    assert meta["cost_source"] == "catalog"


async def test_stream_closes_the_underlying_generator_when_the_consumer_stops_early() -> None:
    a = no_metadata()
    router = make_router(combo("a/m1"))

    async with contextlib.aclosing(router.route_stream(MESSAGES, {"a": a}, "c")) as stream:
        first = await anext(stream)
        assert content([first]) == ["Paris"]
        assert a.open_streams == 1

    assert a.stream_calls == ["m1"]
    assert a.open_streams == 0


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


class EagerStream(BareFakeProvider):
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
    b = bare("native-b", {"m3": MID})
    router = make_router(combo("a/m1", "b/m3"))

    chunks = await drain(router.route_stream(MESSAGES, {"a": a, "b": b}, "c"))

    assert a.stream_calls == ["m1"]
    assert b.stream_calls == ["m3"]
    meta = next(c["router_metadata"] for c in chunks if "router_metadata" in c)
    assert attempt_rows(meta["attempts"]) == [
        ("a", "m1", "failed", "ProviderUnavailableError"),
        ("b", "m3", "ok", None),
    ]


# ---------------------------------------------------------------------------- the ChatStream route_stream returns


async def test_route_stream_is_a_chat_stream_with_typed_metadata_carrying_the_routing_fields() -> None:
    a, _, providers = two_providers(a_script={"m1": [ProviderUnavailableError("503", 503)]})
    router = make_router(combo("a/m1", "b/m3"))

    stream = router.route_stream(MESSAGES, providers, "c")
    assert isinstance(stream, ChatStream)
    assert stream.metadata is None  # nothing is planned or called before the first read
    assert a.stream_calls == []
    async with stream:
        chunks = [chunk async for chunk in stream]

    meta = stream.metadata
    assert meta is not None
    assert (meta.selected_provider, meta.selected_model, meta.routing_strategy) == ("b", "m3", "c")
    assert [(x.provider, x.model, x.outcome) for x in meta.attempts] == [("a", "m1", "failed"), ("b", "m3", "ok")]
    assert meta.estimated_cost == pytest.approx(answered_cost(MID))
    assert meta.total_cost == pytest.approx(answered_cost(MID))
    assert stream.cost == pytest.approx(answered_cost(MID))
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert stream.ended is True
    # the chunk dict carries the same fields, for hosts that only iterate
    [carried] = [c["router_metadata"] for c in chunks if "router_metadata" in c]
    assert RouterMetadata.model_validate(carried) == meta


async def test_route_stream_trailer_metadata_is_typed_too() -> None:
    a = no_metadata()
    router = make_router(combo("a/m1", name="solo"))

    stream = router.route_stream(MESSAGES, {"a": a}, "solo")
    chunks = await drain(stream)

    assert stream.metadata is not None
    assert stream.metadata == RouterMetadata.model_validate(chunks[-1]["router_metadata"])
    assert (stream.metadata.selected_model, stream.metadata.cost_source) == ("m1", "catalog")
    assert stream.cost == pytest.approx(a.calculate_cost(PROMPT_TOKENS, COMPLETION_TOKENS, "m1"))
    assert stream.usage is not None  # parsed from the provider's plain chunks
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)


async def test_closing_the_route_stream_early_closes_the_providers_stream_at_once() -> None:
    a = bare("native-a", {"m1": CHEAP}, replies={"m1": "one two three four five"})
    router = make_router(combo("a/m1"))

    async with router.route_stream(MESSAGES, {"a": a}, "c") as stream:
        first = await anext(stream)
        assert content([first]) == ["one"]
        assert a.open_streams == 1

    assert stream.closed is True
    assert a.open_streams == 0
    assert stream.metadata is None  # it never reached the metadata chunk
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_cancelled_stream_read_frees_a_half_open_trial_gate() -> None:
    clock = Clock()
    a = bare("native-a", {"m1": CHEAP}, script={"m1": [ProviderUnavailableError("503", 503)]})
    b = bare("native-b", {"m3": MID})
    router = make_router(combo("a/m1", "b/m3", breaker_threshold=1, breaker_cooldown=5), clock)
    await drain(router.route_stream(MESSAGES, {"a": a, "b": b}, "c"))
    assert router.state.breaker_state("a/m1") == "open"

    clock.now = 5.0
    a.script["m1"] = ["back"]
    held = a.hold("m1")  # the trial's first chunk never comes
    stream = router.route_stream(MESSAGES, {"a": a, "b": b}, "c")
    reader = asyncio.ensure_future(anext(stream))
    await a.wait_for_calls(2)
    assert router.state.status("a/m1", "a") is not None  # the trial is in flight
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await stream.aclose()

    assert a.open_streams == 0
    assert router.state.status("a/m1", "a") is None  # the gate is free for the next trial
    held.set()
    chunks = await drain(router.route_stream(MESSAGES, {"a": a, "b": b}, "c"))
    assert chunks[-1]["router_metadata"]["selected_model"] == "m1"
    assert router.state.breaker_state("a/m1") == "closed"
