"""``LiteLLMProvider.stream_chat_completion``: the streaming payload and headers, chunks yielded in
order and unchanged, the final usage chunk with ``router_metadata`` (or one trailer chunk when the
proxy sent no usage), SSE framing quirks, error frames inside a 200 stream, broken frames, early exit
and transport errors closing the HTTP response, no buffering, and input validation."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    ChatStream,
    ContextWindowExceededError,
    LiteLLMProvider,
    ModelNotFoundError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.host import MessageInput
from tests.unit.replies import API_KEY, chunk, deployment, error_body, final_chunk, model_info, sse, usage

MODEL = "gpt-test"
CALL_ID = "call-stream-1"
MODEL_ID = "dep-stream"
STREAM_HEADERS = {"content-type": "text/event-stream", "x-litellm-call-id": CALL_ID, "x-litellm-model-id": MODEL_ID}
HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]

# Per-token catalog prices (as /model/info reports them) and the same per 1K tokens.
IN_PER_TOKEN, IN_PER_1K = 1e-06, 0.001
OUT_PER_TOKEN, OUT_PER_1K = 2e-06, 0.002


def catalog_cost(prompt: int, completion: int) -> float:
    return (prompt * IN_PER_1K + completion * OUT_PER_1K) / 1000


@pytest.fixture(autouse=True)
def catalog(proxy: respx.MockRouter) -> respx.Route:
    """The proxy's /model/info, read when a stream's cost is not billed by the proxy."""
    entry = deployment(MODEL, model_id=MODEL_ID, input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN)
    return proxy.get("/model/info").mock(return_value=httpx.Response(200, json=model_info(entry)))


def mock_stream(
    proxy: respx.MockRouter, content: bytes, headers: dict[str, str] | None = None, status: int = 200
) -> respx.Route:
    reply = httpx.Response(status, content=content, headers=STREAM_HEADERS if headers is None else headers)
    return proxy.post("/v1/chat/completions").mock(return_value=reply)


async def collect(provider: LiteLLMProvider, **kwargs: Any) -> list[dict[str, Any]]:
    return [c async for c in provider.stream_chat_completion(HELLO, MODEL, **kwargs)]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"].get("content") or "" for ch in chunks for c in ch["choices"])


def without_metadata(chunk_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in chunk_dict.items() if k != "router_metadata"}


class FrameStream(httpx.AsyncByteStream):
    """A response body sent one frame at a time that records being closed.

    ``gate``: wait for it before sending the second frame. ``fail_at``: raise
    httpx.ReadError instead of sending that frame.
    """

    def __init__(self, frames: list[bytes], *, gate: asyncio.Event | None = None, fail_at: int | None = None) -> None:
        self.frames = frames
        self.gate = gate
        self.fail_at = fail_at
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, frame in enumerate(self.frames):
            if index == self.fail_at:
                raise httpx.ReadError("connection reset by peer")
            if index == 1 and self.gate is not None:
                await self.gate.wait()
            self.sent += 1
            yield frame

    async def aclose(self) -> None:
        self.closed = True


def frames(*items: dict[str, Any] | str, done: bool = True) -> list[bytes]:
    out = [sse(item, done=False) for item in items]
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def open_stream(provider: LiteLLMProvider) -> ChatStream:
    """The stream as the ChatStream it is (typed AsyncIterator by the host contract)."""
    stream = provider.stream_chat_completion(HELLO, MODEL)
    assert isinstance(stream, ChatStream)
    return stream


def mock_frame_stream(proxy: respx.MockRouter, body: FrameStream) -> respx.Route:
    return proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, stream=body, headers=STREAM_HEADERS)
    )


# ---------------------------------------------------------------------------- request


async def test_payload_asks_for_a_stream_with_usage(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_stream(proxy, sse(chunk("hi"), final_chunk(3, 1, cost=0.0001)))
    await collect(provider, max_tokens=32, temperature=0.5, seed=7)
    request = route.calls.last.request
    assert request.url.path == "/v1/chat/completions"
    assert json.loads(request.content) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 32,
        "temperature": 0.5,
        "seed": 7,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["user-agent"].startswith("muxer-litellm/")


async def test_callers_stream_options_are_kept_but_include_usage_is_forced(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_stream(proxy, sse(final_chunk(3, 1, cost=0.0001)))
    await collect(provider, stream_options={"include_usage": False, "continuous_usage_stats": True})
    sent = json.loads(route.calls.last.request.content)
    assert sent["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert sent["stream"] is True


# ---------------------------------------------------------------------------- chunks and usage


async def test_chunks_are_yielded_in_order_and_unchanged(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    content = [chunk("Hel"), chunk("lo, "), chunk("world"), chunk(finish_reason="stop")]
    mock_stream(proxy, sse(*content, final_chunk(4, 3, cost=0.0002)))
    chunks = await collect(provider)
    assert chunks[: len(content)] == content
    assert text_of(chunks) == "Hello, world"
    assert all("router_metadata" not in c for c in chunks[: len(content)])


async def test_proxy_final_usage_chunk_is_last_and_carries_metadata(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    billed = 0.00021
    last = final_chunk(12, 3, cost=billed)
    mock_stream(proxy, sse(chunk("Hi"), chunk(finish_reason="stop"), last))
    chunks = await collect(provider)
    assert len(chunks) == 3  # no extra trailer
    assert without_metadata(chunks[-1]) == last
    meta = chunks[-1]["router_metadata"]
    assert isinstance(meta, dict)
    assert meta["cost_source"] == "proxy"
    assert meta["estimated_cost"] == pytest.approx(billed)
    assert meta["call_id"] == CALL_ID
    assert meta["model_id"] == MODEL_ID
    assert meta["selected_model"] == MODEL
    assert meta["selected_provider"] == "litellm"


async def test_final_usage_without_proxy_cost_is_priced_from_the_catalog(
    proxy: respx.MockRouter, provider: LiteLLMProvider, catalog: respx.Route
) -> None:
    prompt, completion = 1200, 300
    mock_stream(proxy, sse(chunk("Hi"), final_chunk(prompt, completion)))
    chunks = await collect(provider)
    meta = chunks[-1]["router_metadata"]
    assert meta["cost_source"] == "catalog"
    assert meta["estimated_cost"] == pytest.approx(catalog_cost(prompt, completion))
    assert catalog.called


async def test_usage_inside_a_content_chunk_counts(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    last = chunk("Hi!", finish_reason="stop", usage=usage(9, 2, cost=0.00005))
    mock_stream(proxy, sse(chunk("Oh, "), last))
    chunks = await collect(provider)
    assert len(chunks) == 2
    assert without_metadata(chunks[-1]) == last
    assert text_of(chunks) == "Oh, Hi!"
    assert chunks[-1]["router_metadata"]["estimated_cost"] == pytest.approx(0.00005)
    assert chunks[-1]["router_metadata"]["cost_source"] == "proxy"


async def test_usage_repeated_on_several_chunks_the_last_counts(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_stream(
        proxy,
        sse(
            chunk("a", usage=usage(10, 1)),
            chunk("b", usage=usage(10, 2)),
            chunk(finish_reason="stop", usage=usage(10, 40)),
        ),
    )
    chunks = await collect(provider)
    assert len(chunks) == 3
    assert chunks[-1]["usage"] == usage(10, 40)
    meta = chunks[-1]["router_metadata"]
    assert meta["cost_source"] == "catalog"
    assert meta["estimated_cost"] == pytest.approx(catalog_cost(10, 40))


async def test_no_usage_at_all_adds_one_trailer_with_unknown_cost(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    content = [chunk("Hi"), chunk(finish_reason="stop")]
    mock_stream(proxy, sse(*content))
    chunks = await collect(provider)
    assert chunks[:2] == content
    assert len(chunks) == 3
    trailer = chunks[-1]
    assert trailer["usage"] is None
    assert trailer["choices"] == []
    assert trailer["id"] == "chatcmpl-stream"
    assert trailer["object"] == "chat.completion.chunk"
    assert trailer["model"] == "gpt-test"
    meta = trailer["router_metadata"]
    assert meta["estimated_cost"] is None
    assert meta["cost_source"] == "unknown"
    assert meta["call_id"] == CALL_ID


async def test_stream_without_done_still_ends_cleanly(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    content = [chunk("Hi"), chunk(finish_reason="stop")]
    last = final_chunk(5, 2, cost=0.00003)
    mock_stream(proxy, sse(*content, last, done=False))
    chunks = await collect(provider)
    assert chunks[:2] == content
    assert without_metadata(chunks[-1]) == last
    assert len(chunks) == 3


async def test_sse_comments_event_lines_crlf_and_blank_data_are_ignored(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    first, last = chunk("Hi"), final_chunk(5, 1, cost=0.00001)
    body = (
        ": keep-alive comment\r\n\r\n"
        f"event: message\r\ndata: {json.dumps(first)}\r\n\r\n"
        "data: \r\n\r\n"
        "event: ping\r\n\r\n"
        f"data: {json.dumps(last)}\r\n\r\n"
        "data: [DONE]\r\n\r\n"
    ).encode()
    mock_stream(proxy, body)
    chunks = await collect(provider)
    assert len(chunks) == 2
    assert chunks[0] == first
    assert without_metadata(chunks[1]) == last


# ---------------------------------------------------------------------------- errors


def mid_stream_error(message: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": None, "code": code}}


@pytest.mark.parametrize(
    ("frame", "error_class", "status", "retryable"),
    [
        (mid_stream_error("boom", "500"), ProviderUnavailableError, 500, True),
        (mid_stream_error("boom: upstream rate limit", "429"), RateLimitError, 429, True),
        (
            mid_stream_error("litellm.ContextWindowExceededError: boom, prompt is too long", "400"),
            ContextWindowExceededError,
            400,
            False,
        ),
        (mid_stream_error("boom", None), ProviderUnavailableError, 500, True),
    ],
    ids=["500", "429", "context-window", "no-code"],
)
async def test_error_frame_after_a_good_chunk_raises_typed_error(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    frame: dict[str, Any],
    error_class: type[ProviderError],
    status: int,
    retryable: bool,
) -> None:
    good = chunk("partial ")
    mock_stream(proxy, sse(good, frame, done=False))
    received: list[dict[str, Any]] = []
    with pytest.raises(error_class) as caught:
        async for item in provider.stream_chat_completion(HELLO, MODEL):
            received.append(item)
    assert received == [good]
    error = caught.value
    assert type(error) is error_class
    assert "mid-stream" in str(error)
    assert "boom" in str(error)
    assert error.call_id == CALL_ID
    assert error.model == MODEL
    assert error.status_code == status
    assert error.retryable is retryable


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [("not-json", "not-json"), ("[1, 2]", "[1, 2]"), ('"just a string"', "just a string")],
    ids=["not-json", "json-list", "json-string"],
)
async def test_frame_that_is_not_a_json_object_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, raw: str, quoted: str
) -> None:
    mock_stream(proxy, sse(chunk("ok"), raw))
    received: list[dict[str, Any]] = []
    with pytest.raises(ProviderError) as caught:
        async for item in provider.stream_chat_completion(HELLO, MODEL):
            received.append(item)
    assert type(caught.value) is ProviderError
    assert quoted in str(caught.value)
    assert "stream frame" in str(caught.value)
    assert caught.value.call_id == CALL_ID
    assert received == [chunk("ok")]


async def test_json_reply_to_a_stream_request_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    body = json.dumps({"id": "chatcmpl-x", "object": "chat.completion", "choices": []}).encode()
    mock_stream(proxy, body, headers={"content-type": "application/json", "x-litellm-call-id": CALL_ID})
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    assert type(caught.value) is ProviderError
    assert "without an event stream" in str(caught.value)
    assert "application/json" in str(caught.value)
    assert caught.value.status_code == 200
    assert caught.value.call_id == CALL_ID


@pytest.mark.parametrize(
    ("status", "body", "headers", "error_class", "retry_after"),
    [
        (
            429,
            error_body("litellm.RateLimitError: slow down", None, "429"),
            {"llm_provider-retry-after": "7"},
            RateLimitError,
            7.0,
        ),
        (401, error_body("Authentication Error, invalid key", "auth_error", "401"), {}, AuthenticationError, None),
        (
            400,
            error_body("Invalid model name passed in model=nope", "invalid_request_error", "400"),
            {},
            ModelNotFoundError,
            None,
        ),
        (503, error_body("upstream down", None, "503"), {}, ProviderUnavailableError, None),
    ],
    ids=["429", "401", "unknown-model", "503"],
)
async def test_http_error_before_streaming_is_typed(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    error_class: type[ProviderError],
    retry_after: float | None,
) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(status, json=body, headers={"x-litellm-call-id": CALL_ID, **headers})
    )
    with pytest.raises(error_class) as caught:
        await collect(provider)
    error = caught.value
    assert type(error) is error_class
    assert error.status_code == status
    assert error.call_id == CALL_ID
    assert error.model == MODEL
    assert body["error"]["message"] in str(error)
    if isinstance(error, RateLimitError):
        assert error.retry_after == retry_after


# ---------------------------------------------------------------------------- connection handling


async def test_breaking_out_of_the_loop_closes_the_response(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    body = FrameStream(frames(chunk("one"), chunk("two"), chunk("three"), final_chunk(3, 3, cost=0.001)))
    mock_frame_stream(proxy, body)
    received: list[dict[str, Any]] = []
    async with contextlib.aclosing(open_stream(provider)) as stream:
        async for item in stream:
            received.append(item)
            break
    assert received == [chunk("one")]
    assert body.closed is True
    assert body.sent < len(body.frames)


async def test_aclose_after_the_first_chunk_closes_the_response(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    body = FrameStream(frames(chunk("one"), chunk("two"), final_chunk(3, 2, cost=0.001)))
    mock_frame_stream(proxy, body)
    stream = open_stream(provider)
    first = await anext(stream)
    assert first == chunk("one")
    assert body.closed is False
    await stream.aclose()
    assert body.closed is True
    assert body.sent < len(body.frames)


async def test_read_error_midway_is_unavailable_and_closes_the_response(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    body = FrameStream(frames(chunk("one"), chunk("two")), fail_at=1)
    mock_frame_stream(proxy, body)
    received: list[dict[str, Any]] = []
    with pytest.raises(ProviderUnavailableError) as caught:
        async for item in provider.stream_chat_completion(HELLO, MODEL):
            received.append(item)
    assert received == [chunk("one")]
    assert "ReadError" in str(caught.value)
    assert "connection reset by peer" in str(caught.value)
    assert caught.value.retryable is True
    assert caught.value.model == MODEL
    assert body.closed is True


async def test_chunks_are_not_buffered(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    gate = asyncio.Event()
    body = FrameStream(frames(chunk("first"), chunk("second"), final_chunk(2, 2, cost=0.001)), gate=gate)
    mock_frame_stream(proxy, body)
    stream = open_stream(provider)
    try:
        # The second frame is held back until the gate opens: a buffering provider never returns here.
        async with asyncio.timeout(5):
            first = await anext(stream)
        assert first == chunk("first")
        assert not gate.is_set()
        assert body.sent == 1
        gate.set()
        rest = [item async for item in stream]
    finally:
        await stream.aclose()
    assert rest[0] == chunk("second")
    assert rest[-1]["router_metadata"]["estimated_cost"] == pytest.approx(0.001)
    assert body.sent == len(body.frames)


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "options", ["include_usage", ["include_usage"], 1, []], ids=["str", "list", "int", "empty-list"]
)
async def test_stream_options_must_be_a_dict(proxy: respx.MockRouter, provider: LiteLLMProvider, options: Any) -> None:
    route = mock_stream(proxy, sse(chunk("x")))
    with pytest.raises(BadRequestError) as caught:
        await collect(provider, stream_options=options)
    assert "stream_options" in str(caught.value)
    assert "dict" in str(caught.value)
    assert not route.called


@pytest.mark.parametrize(
    ("messages", "model", "kwargs", "fragments"),
    [
        ([], MODEL, {}, ["messages", "non-empty"]),
        ("hello", MODEL, {}, ["messages", "non-empty"]),
        ([{"role": "robot", "content": "x"}], MODEL, {}, ["messages[0]", "role"]),
        ([{"role": "user", "content": "a"}, {"content": "b"}], MODEL, {}, ["messages[1]", "role"]),
        ([{"role": "user", "content": "a"}, 7], MODEL, {}, ["messages[1]", "int"]),
        (HELLO, "", {}, ["model"]),
        (HELLO, "  ", {}, ["model"]),
        (HELLO, None, {}, ["model", "None"]),
        (HELLO, MODEL, {"max_tokens": 0}, ["max_tokens"]),
        (HELLO, MODEL, {"max_tokens": True}, ["max_tokens"]),
        (HELLO, MODEL, {"temperature": -0.1}, ["temperature"]),
        (HELLO, MODEL, {"temperature": "hot"}, ["temperature"]),
        (HELLO, MODEL, {"stream": True}, ["stream", "kwargs"]),
    ],
    ids=[
        "messages-empty",
        "messages-str",
        "message-bad-role",
        "message-missing-role",
        "message-int",
        "model-empty",
        "model-blank",
        "model-none",
        "max_tokens-0",
        "max_tokens-bool",
        "temperature-negative",
        "temperature-str",
        "kwargs-stream",
    ],
)
async def test_invalid_input_is_a_bad_request_without_http(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    messages: Any,
    model: Any,
    kwargs: dict[str, Any],
    fragments: list[str],
) -> None:
    route = mock_stream(proxy, sse(chunk("x")))
    with pytest.raises(BadRequestError) as caught:
        async for _ in provider.stream_chat_completion(messages, model, **kwargs):
            pass
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert caught.value.retryable is False
    assert not route.called


# ---------------------------------------------------------------------------- ChatStream state


async def test_ended_only_when_the_proxy_finished(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_stream(proxy, sse(chunk("Hi"), final_chunk(2, 1, cost=0.0001)))
    stream = open_stream(provider)
    first = await anext(stream)
    assert first == chunk("Hi")
    assert (stream.ended, stream.closed) == (False, False)
    rest = [c async for c in stream]
    assert len(rest) == 1
    assert (stream.ended, stream.closed) == (True, False)
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_closed_early_is_not_ended_and_stays_stopped(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    body = FrameStream(frames(chunk("one"), chunk("two"), final_chunk(3, 2, cost=0.001)))
    mock_frame_stream(proxy, body)
    stream = open_stream(provider)
    await anext(stream)
    await stream.aclose()
    assert (stream.ended, stream.closed) == (False, True)
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    assert stream.usage is None
    assert stream.cost is None


async def test_a_failed_stream_is_not_ended(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_stream(proxy, sse(chunk("a"), mid_stream_error("boom", "500"), done=False))
    stream = open_stream(provider)
    with pytest.raises(ProviderUnavailableError):
        async for _ in stream:
            pass
    assert stream.ended is False
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_host_stream_wrapped_is_still_parsed_and_ended() -> None:
    async def host_chunks() -> AsyncIterator[dict[str, Any]]:
        yield chunk("x")
        yield {
            **final_chunk(2, 1),
            "router_metadata": {
                "selected_provider": "native",
                "selected_model": "m",
                "routing_reason": "r",
                "response_time_ms": 1.0,
                "estimated_cost": 0.5,
            },
        }

    stream = ChatStream.wrap(host_chunks())
    assert [c["object"] async for c in stream] == ["chat.completion.chunk"] * 2
    assert stream.ended is True
    assert stream.usage is not None
    assert stream.usage.total_tokens == 3
    assert stream.cost == 0.5
