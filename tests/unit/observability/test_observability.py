"""Observability: OpenTelemetry spans (recorded with the SDK's in-memory exporter, via an explicit
tracer, never the global provider) and Prometheus metrics (a fresh registry per test) around chat,
stream and embeddings calls: attributes and metric values for success, errors, unknown cost, streams
that fail or are closed early; content capture only when asked (cut to 4 KB); the API key in no
attribute; telemetry that raises never breaks a call; off by default and free when off; the
``LITELLM_TRACING`` / ``LITELLM_METRICS`` settings; clear errors for a missing extra or a wrong type."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import prometheus_client
import pytest
import respx
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    ChatStream,
    LiteLLMProvider,
    LiteLLMSettings,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.host import MessageInput
from muxer_litellm.observability import CONTENT_LIMIT_BYTES, CallRecord, PrometheusMetrics, observer
from muxer_litellm.proxy.transport import ProxyTransport
from tests.unit.replies import (
    API_KEY,
    BASE_URL,
    chat_body,
    chunk,
    deployment,
    embedding_body,
    error_body,
    final_chunk,
    model_info,
    sse,
)

MODEL = "gpt-test"
EMBED_MODEL = "embed-test"
CALL_ID = "call-obs-1"
MODEL_ID = "dep-obs"
BILLED = 0.00042
HEADERS = {
    "x-litellm-response-cost": str(BILLED),
    "x-litellm-call-id": CALL_ID,
    "x-litellm-model-id": MODEL_ID,
    "x-litellm-attempted-retries": "2",
    "x-litellm-attempted-fallbacks": "1",
}
STREAM_HEADERS = {"content-type": "text/event-stream", "x-litellm-call-id": CALL_ID, "x-litellm-model-id": MODEL_ID}
HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]
NS = "muxer_litellm"


# ---------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> trace.Tracer:
    """An SDK tracer of its own: the global tracer provider can be set only once per process."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider.get_tracer("tests")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def records() -> list[CallRecord]:
    return []


@pytest.fixture
async def observed(
    proxy: respx.MockRouter, tracer: trace.Tracer, registry: CollectorRegistry, records: list[CallRecord]
) -> AsyncIterator[LiteLLMProvider]:
    """Tracing plus two hooks: Prometheus on ``registry`` and a list of the raw records."""
    prometheus = PrometheusMetrics(registry)

    def hooks(record: CallRecord) -> None:
        records.append(record)
        prometheus(record)

    async with LiteLLMProvider(BASE_URL, API_KEY, tracer=tracer, metrics=hooks) as p:
        yield p


@pytest.fixture
async def capturing(proxy: respx.MockRouter, tracer: trace.Tracer) -> AsyncIterator[LiteLLMProvider]:
    async with LiteLLMProvider(BASE_URL, API_KEY, tracer=tracer, capture_content=True) as p:
        yield p


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(f"{NS}_{name}", labels)


def mock_chat(proxy: respx.MockRouter, body: Any = None, *, headers: Mapping[str, str] = HEADERS) -> respx.Route:
    reply = httpx.Response(200, json=chat_body() if body is None else body, headers=dict(headers))
    return proxy.post("/v1/chat/completions").mock(return_value=reply)


def mock_stream(proxy: respx.MockRouter, content: bytes) -> respx.Route:
    reply = httpx.Response(200, content=content, headers=STREAM_HEADERS)
    return proxy.post("/v1/chat/completions").mock(return_value=reply)


def open_stream(provider: LiteLLMProvider, messages: list[MessageInput] = HELLO) -> ChatStream:
    stream = provider.stream_chat_completion(messages, MODEL)
    assert isinstance(stream, ChatStream)
    return stream


def unpriced_catalog(proxy: respx.MockRouter) -> respx.Route:
    """A catalog that knows the model but not its price, so an unbilled call's cost is unknown."""
    body = model_info(deployment(MODEL, model_id=MODEL_ID))
    return proxy.get("/model/info").mock(return_value=httpx.Response(200, json=body))


def all_span_text(span: ReadableSpan) -> str:
    """Every attribute, event attribute and the status description of a span, as one string."""
    parts = [json.dumps(attrs(span), default=str), span.status.description or ""]
    parts += [json.dumps(dict(e.attributes or {}), default=str) for e in span.events]
    return "\n".join(parts)


# ---------------------------------------------------------------------------- chat


async def test_chat_ok_span_and_metrics(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
) -> None:
    mock_chat(proxy, chat_body(prompt_tokens=11, completion_tokens=7, model="openai/gpt-4o-mini"))
    await observed.chat_completion(HELLO, MODEL, max_tokens=64, temperature=0.25)
    span = only_span(exporter)
    assert span.name == "litellm.chat"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs(span) == {
        "gen_ai.system": "litellm",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.temperature": 0.25,
        "gen_ai.response.model": "openai/gpt-4o-mini",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
        "muxer_litellm.cost_usd": BILLED,
        "muxer_litellm.cost_source": "proxy",
        "litellm.call_id": CALL_ID,
        "litellm.model_id": MODEL_ID,
        "litellm.attempted_retries": 2,
        "litellm.attempted_fallbacks": 1,
        "server.address": "proxy.test",
        "server.port": 4000,
    }
    assert sample(registry, "requests_total", model=MODEL, operation="chat", status="ok") == 1
    assert sample(registry, "requests_total", model=MODEL, operation="chat", status="error") is None
    assert sample(registry, "tokens_total", model=MODEL, kind="prompt") == 11
    assert sample(registry, "tokens_total", model=MODEL, kind="completion") == 7
    assert sample(registry, "cost_usd_total", model=MODEL) == pytest.approx(BILLED)
    assert sample(registry, "unknown_cost_total", model=MODEL) is None
    assert sample(registry, "request_duration_seconds_count", model=MODEL, operation="chat") == 1
    assert sample(registry, "errors_total", model=MODEL, error_type="RateLimitError") is None


async def test_metrics_add_up_over_calls(
    proxy: respx.MockRouter, observed: LiteLLMProvider, registry: CollectorRegistry, records: list[CallRecord]
) -> None:
    mock_chat(proxy, chat_body(prompt_tokens=10, completion_tokens=5))
    for _ in range(3):
        await observed.chat_completion(HELLO, MODEL)
    assert sample(registry, "requests_total", model=MODEL, operation="chat", status="ok") == 3
    assert sample(registry, "tokens_total", model=MODEL, kind="prompt") == 30
    assert sample(registry, "tokens_total", model=MODEL, kind="completion") == 15
    assert sample(registry, "cost_usd_total", model=MODEL) == pytest.approx(3 * BILLED)
    total = sample(registry, "request_duration_seconds_sum", model=MODEL, operation="chat")
    assert total == pytest.approx(sum(r.duration_s for r in records))


async def test_chat_record_fields(
    proxy: respx.MockRouter, observed: LiteLLMProvider, records: list[CallRecord]
) -> None:
    mock_chat(proxy, chat_body(prompt_tokens=4, completion_tokens=2))
    await observed.chat_completion(HELLO, MODEL)
    [record] = records
    assert record.duration_s >= 0
    assert record == CallRecord(
        operation="chat",
        model=MODEL,
        status="ok",
        error_type=None,
        prompt_tokens=4,
        completion_tokens=2,
        cost=BILLED,
        cost_source="proxy",
        call_id=CALL_ID,
        model_id=MODEL_ID,
        attempted_retries=2,
        attempted_fallbacks=1,
        duration_s=record.duration_s,
    )


async def test_chat_429_is_an_error_span_and_counted_by_type(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
    records: list[CallRecord],
) -> None:
    reply = httpx.Response(
        429,
        json=error_body("litellm.RateLimitError: slow down", None, "429"),
        headers={"retry-after": "7", "x-litellm-call-id": "call-429"},
    )
    proxy.post("/v1/chat/completions").mock(return_value=reply)
    with pytest.raises(RateLimitError):
        await observed.chat_completion(HELLO, MODEL)
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is not None
    assert span.status.description.startswith("RateLimitError: ")
    assert attrs(span)["error.type"] == "RateLimitError"
    assert attrs(span)["http.response.status_code"] == 429
    assert attrs(span)["litellm.call_id"] == "call-429"
    assert attrs(span)["muxer_litellm.cost_source"] == "unknown"
    assert "muxer_litellm.cost_usd" not in attrs(span)
    [event] = span.events
    assert event.name == "exception"
    assert dict(event.attributes or {})["exception.type"] == "muxer_litellm.errors.RateLimitError"
    assert "slow down" in str(dict(event.attributes or {})["exception.message"])
    assert sample(registry, "errors_total", model=MODEL, error_type="RateLimitError") == 1
    assert sample(registry, "requests_total", model=MODEL, operation="chat", status="error") == 1
    assert sample(registry, "requests_total", model=MODEL, operation="chat", status="ok") is None
    assert sample(registry, "unknown_cost_total", model=MODEL) is None  # a failure has no cost to miss
    assert sample(registry, "request_duration_seconds_count", model=MODEL, operation="chat") == 1
    assert [(r.status, r.error_type, r.cost, r.call_id) for r in records] == [
        ("error", "RateLimitError", None, "call-429")
    ]


async def test_connection_refused_is_recorded_by_class(
    proxy: respx.MockRouter, observed: LiteLLMProvider, registry: CollectorRegistry, exporter: InMemorySpanExporter
) -> None:
    proxy.post("/v1/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ProviderUnavailableError):
        await observed.chat_completion(HELLO, MODEL)
    assert sample(registry, "errors_total", model=MODEL, error_type="ProviderUnavailableError") == 1
    assert attrs(only_span(exporter))["error.type"] == "ProviderUnavailableError"
    assert "http.response.status_code" not in attrs(only_span(exporter))


@pytest.mark.parametrize("priced", [False, True], ids=["unknown", "catalog"])
async def test_unbilled_cost_from_catalog_or_unknown(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
    priced: bool,
) -> None:
    prices: dict[str, Any] = {"input_cost": 1e-06, "output_cost": 2e-06} if priced else {}
    body = model_info(deployment(MODEL, model_id=MODEL_ID, **prices))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=body))
    mock_chat(proxy, chat_body(prompt_tokens=1000, completion_tokens=500), headers={"x-litellm-model-id": MODEL_ID})
    await observed.chat_completion(HELLO, MODEL)
    span_attrs = attrs(only_span(exporter))
    if priced:
        expected = 1000 * 1e-06 + 500 * 2e-06
        assert span_attrs["muxer_litellm.cost_usd"] == pytest.approx(expected)
        assert span_attrs["muxer_litellm.cost_source"] == "catalog"
        assert sample(registry, "cost_usd_total", model=MODEL) == pytest.approx(expected)
        assert sample(registry, "unknown_cost_total", model=MODEL) is None
    else:
        assert "muxer_litellm.cost_usd" not in span_attrs
        assert span_attrs["muxer_litellm.cost_source"] == "unknown"
        assert sample(registry, "cost_usd_total", model=MODEL) is None
        assert sample(registry, "unknown_cost_total", model=MODEL) == 1
    assert sample(registry, "tokens_total", model=MODEL, kind="prompt") == 1000


async def test_span_is_current_while_the_request_is_sent(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter
) -> None:
    """An instrumented HTTP client's spans would nest under ours."""
    seen: list[int] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(trace.get_current_span().get_span_context().span_id)
        return httpx.Response(200, json=chat_body(), headers=HEADERS)

    proxy.post("/v1/chat/completions").mock(side_effect=reply)
    await observed.chat_completion(HELLO, MODEL)
    assert seen == [only_span(exporter).context.span_id]
    assert not trace.get_current_span().get_span_context().is_valid  # detached afterwards


async def test_invalid_input_is_not_a_call(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter, records: list[CallRecord]
) -> None:
    """Rejected before any request: no span, no record (a bad model name would become a label)."""
    with pytest.raises(BadRequestError):
        await observed.chat_completion(HELLO, MODEL, max_tokens=0)
    with pytest.raises(BadRequestError):
        await observed.embeddings("", EMBED_MODEL)
    with pytest.raises(BadRequestError):
        await anext(observed.stream_chat_completion(HELLO, ""))
    assert exporter.get_finished_spans() == ()
    assert records == []


async def test_a_request_that_cannot_be_encoded_still_ends_its_span(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter, records: list[CallRecord]
) -> None:
    with pytest.raises(BadRequestError, match=r"metadata\.when is a object"):
        await observed.chat_completion(HELLO, MODEL, metadata={"when": object()})
    with pytest.raises(BadRequestError, match=r"metadata\.when is a object"):
        await anext(observed.stream_chat_completion(HELLO, MODEL, metadata={"when": object()}))
    assert [s.name for s in exporter.get_finished_spans()] == ["litellm.chat", "litellm.chat.stream"]
    assert [(r.operation, r.error_type) for r in records] == [
        ("chat", "BadRequestError"),
        ("stream", "BadRequestError"),
    ]


# ---------------------------------------------------------------------------- streams


async def test_stream_ok_span_covers_the_whole_stream(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
    records: list[CallRecord],
) -> None:
    billed = 0.00021
    mock_stream(proxy, sse(chunk("Hel"), chunk("lo"), chunk(finish_reason="stop"), final_chunk(12, 3, cost=billed)))
    stream = open_stream(observed)
    await anext(stream)
    assert exporter.get_finished_spans() == ()  # still open while the stream is read
    assert records == []
    rest = [c async for c in stream]
    assert rest[-1]["router_metadata"]["estimated_cost"] == pytest.approx(billed)
    span = only_span(exporter)
    assert span.name == "litellm.chat.stream"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    span_attrs = attrs(span)
    assert span_attrs["gen_ai.operation.name"] == "chat"
    assert span_attrs["gen_ai.response.model"] == "gpt-test"
    assert span_attrs["gen_ai.usage.input_tokens"] == 12
    assert span_attrs["gen_ai.usage.output_tokens"] == 3
    assert span_attrs["muxer_litellm.cost_usd"] == pytest.approx(billed)
    assert span_attrs["muxer_litellm.cost_source"] == "proxy"
    assert span_attrs["muxer_litellm.stream_closed_early"] is False
    assert span_attrs["litellm.call_id"] == CALL_ID
    assert span_attrs["litellm.model_id"] == MODEL_ID
    assert "gen_ai.completion" not in span_attrs
    assert sample(registry, "requests_total", model=MODEL, operation="stream", status="ok") == 1
    assert sample(registry, "tokens_total", model=MODEL, kind="completion") == 3
    assert sample(registry, "cost_usd_total", model=MODEL) == pytest.approx(billed)
    assert sample(registry, "request_duration_seconds_count", model=MODEL, operation="stream") == 1
    assert [(r.operation, r.stream_closed_early) for r in records] == [("stream", False)]


@pytest.mark.parametrize("stop_at_trailer", [False, True], ids=["drained", "closed-at-trailer"])
async def test_stream_without_proxy_usage_records_the_trailer(
    proxy: respx.MockRouter, observed: LiteLLMProvider, records: list[CallRecord], stop_at_trailer: bool
) -> None:
    unpriced_catalog(proxy)
    mock_stream(proxy, sse(chunk("Hi"), chunk(finish_reason="stop")))
    stream = open_stream(observed)
    chunks = []
    async for piece in stream:
        chunks.append(piece)
        if stop_at_trailer and "router_metadata" in piece:
            break
    await stream.aclose()
    assert chunks[-1]["choices"] == []  # the provider's own trailer
    [record] = records
    assert (record.status, record.prompt_tokens, record.cost, record.cost_source) == ("ok", None, None, "unknown")
    assert (record.call_id, record.model_id) == (CALL_ID, MODEL_ID)
    assert record.stream_closed_early is False  # the trailer said all there was to say


async def test_stream_mid_stream_error(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
) -> None:
    frame = {"error": {"message": "litellm.RateLimitError: upstream rate limit", "type": None, "code": "429"}}
    mock_stream(proxy, sse(chunk("Hi"), frame))
    stream = open_stream(observed)
    assert (await anext(stream))["choices"][0]["delta"] == {"content": "Hi"}
    with pytest.raises(RateLimitError):
        await anext(stream)
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == "RateLimitError"
    assert attrs(span)["litellm.call_id"] == CALL_ID
    assert attrs(span)["litellm.model_id"] == MODEL_ID
    assert sample(registry, "errors_total", model=MODEL, error_type="RateLimitError") == 1
    assert sample(registry, "requests_total", model=MODEL, operation="stream", status="error") == 1


async def test_stream_refused_before_the_first_chunk(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter, registry: CollectorRegistry
) -> None:
    reply = httpx.Response(401, json=error_body("Authentication Error, invalid key", "auth_error", "401"))
    proxy.post("/v1/chat/completions").mock(return_value=reply)
    with pytest.raises(AuthenticationError):
        await anext(open_stream(observed))
    assert attrs(only_span(exporter))["error.type"] == "AuthenticationError"
    assert sample(registry, "errors_total", model=MODEL, error_type="AuthenticationError") == 1


async def test_stream_closed_early_is_ok_with_unknown_cost(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
    records: list[CallRecord],
) -> None:
    mock_stream(proxy, sse(chunk("one"), chunk("two"), chunk("three"), final_chunk(5, 3, cost=0.001)))
    stream = open_stream(observed)
    await anext(stream)
    await stream.aclose()
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    span_attrs = attrs(span)
    assert span_attrs["muxer_litellm.stream_closed_early"] is True
    assert span_attrs["muxer_litellm.cost_source"] == "unknown"
    assert "muxer_litellm.cost_usd" not in span_attrs
    assert "gen_ai.usage.output_tokens" not in span_attrs
    assert span_attrs["litellm.call_id"] == CALL_ID  # from the headers, known before any usage
    assert sample(registry, "requests_total", model=MODEL, operation="stream", status="ok") == 1
    assert sample(registry, "unknown_cost_total", model=MODEL) == 1
    assert sample(registry, "cost_usd_total", model=MODEL) is None
    [record] = records
    assert (record.status, record.stream_closed_early, record.cost) == ("ok", True, None)


async def test_stream_closed_after_its_usage_chunk_is_complete(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter, records: list[CallRecord]
) -> None:
    """A consumer that stops at the chunk with router_metadata has everything: not 'early'."""
    mock_stream(proxy, sse(chunk("Hi"), final_chunk(5, 3, cost=0.001)))
    stream = open_stream(observed)
    async for piece in stream:
        if "router_metadata" in piece:
            break
    await stream.aclose()
    assert attrs(only_span(exporter))["muxer_litellm.stream_closed_early"] is False
    [record] = records
    assert (record.stream_closed_early, record.cost, record.completion_tokens) == (False, 0.001, 3)


# ---------------------------------------------------------------------------- embeddings


async def test_embeddings_span_and_metrics(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    registry: CollectorRegistry,
) -> None:
    body = embedding_body([[0.1, 0.2]], prompt_tokens=8, model="openai/text-embedding-3-small")
    headers = {"x-litellm-response-cost": "0.00001", "x-litellm-call-id": "call-emb"}
    proxy.post("/v1/embeddings").mock(return_value=httpx.Response(200, json=body, headers=headers))
    await observed.embeddings("some text", EMBED_MODEL)
    span = only_span(exporter)
    assert span.name == "litellm.embeddings"
    assert span.kind is SpanKind.CLIENT
    span_attrs = attrs(span)
    assert span_attrs["gen_ai.operation.name"] == "embeddings"
    assert span_attrs["gen_ai.request.model"] == EMBED_MODEL
    assert span_attrs["gen_ai.response.model"] == "openai/text-embedding-3-small"
    assert span_attrs["gen_ai.usage.input_tokens"] == 8
    assert "gen_ai.usage.output_tokens" not in span_attrs
    assert span_attrs["muxer_litellm.cost_usd"] == pytest.approx(0.00001)
    assert span_attrs["litellm.call_id"] == "call-emb"
    assert "muxer_litellm.stream_closed_early" not in span_attrs
    assert sample(registry, "requests_total", model=EMBED_MODEL, operation="embeddings", status="ok") == 1
    assert sample(registry, "tokens_total", model=EMBED_MODEL, kind="prompt") == 8
    assert sample(registry, "tokens_total", model=EMBED_MODEL, kind="completion") is None


# ---------------------------------------------------------------------------- content capture


async def test_no_content_by_default(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter
) -> None:
    mock_chat(proxy, chat_body("The answer is 42"))
    await observed.chat_completion([{"role": "user", "content": "what is six times seven"}], MODEL)
    text = all_span_text(only_span(exporter))
    assert "six times seven" not in text
    assert "answer is 42" not in text
    assert "gen_ai.prompt" not in attrs(only_span(exporter))


async def test_capture_content_chat(
    proxy: respx.MockRouter, capturing: LiteLLMProvider, exporter: InMemorySpanExporter
) -> None:
    mock_chat(proxy, chat_body("The answer is 42"))
    messages: list[MessageInput] = [{"role": "user", "content": "what is six times seven"}]
    await capturing.chat_completion(messages, MODEL)
    span_attrs = attrs(only_span(exporter))
    assert json.loads(span_attrs["gen_ai.prompt"]) == messages
    assert json.loads(span_attrs["gen_ai.completion"]) == [{"role": "assistant", "content": "The answer is 42"}]


async def test_capture_content_stream_joins_the_deltas(
    proxy: respx.MockRouter, capturing: LiteLLMProvider, exporter: InMemorySpanExporter
) -> None:
    mock_stream(proxy, sse(chunk("Hel"), chunk("lo, "), chunk("world"), final_chunk(4, 3, cost=0.0001)))
    [_ async for _ in open_stream(capturing)]
    span_attrs = attrs(only_span(exporter))
    assert json.loads(span_attrs["gen_ai.prompt"]) == [{"role": "user", "content": "hello"}]
    assert json.loads(span_attrs["gen_ai.completion"]) == [{"role": "assistant", "content": "Hello, world"}]


async def test_capture_content_embeddings_input(
    proxy: respx.MockRouter, capturing: LiteLLMProvider, exporter: InMemorySpanExporter
) -> None:
    unpriced_catalog(proxy)
    proxy.post("/v1/embeddings").mock(return_value=httpx.Response(200, json=embedding_body([[0.1]])))
    await capturing.embeddings(["first text", "second text"], EMBED_MODEL)
    span_attrs = attrs(only_span(exporter))
    assert json.loads(span_attrs["gen_ai.prompt"]) == ["first text", "second text"]
    assert "gen_ai.completion" not in span_attrs


async def test_captured_content_is_cut_to_4_kb_on_a_character_boundary(
    proxy: respx.MockRouter, capturing: LiteLLMProvider, exporter: InMemorySpanExporter
) -> None:
    long_answer = "é" * 5000  # 2 bytes each in UTF-8
    mock_chat(proxy, chat_body(long_answer))
    await capturing.chat_completion([{"role": "user", "content": "ü" * 3000}], MODEL)
    span_attrs = attrs(only_span(exporter))
    for name in ("gen_ai.prompt", "gen_ai.completion"):
        value = span_attrs[name]
        assert isinstance(value, str)
        assert CONTENT_LIMIT_BYTES - 1 <= len(value.encode("utf-8")) <= CONTENT_LIMIT_BYTES
    assert span_attrs["gen_ai.completion"].startswith('[{"role": "assistant", "content": "éé')


# ---------------------------------------------------------------------------- the key never appears


async def test_key_is_in_no_attribute_even_when_echoed_or_pasted(
    proxy: respx.MockRouter, capturing: LiteLLMProvider, exporter: InMemorySpanExporter
) -> None:
    pasted: list[MessageInput] = [{"role": "user", "content": f"my key is {API_KEY}, is it valid?"}]
    mock_chat(proxy, chat_body(f"Your key {API_KEY} looks fine"))
    await capturing.chat_completion(pasted, MODEL)
    echoed = error_body(f"Authentication Error, Invalid proxy server token passed. Received API Key = {API_KEY}")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(401, json=echoed))
    with pytest.raises(AuthenticationError):
        await capturing.chat_completion(pasted, MODEL)
    proxy.post("/v1/chat/completions").mock(side_effect=httpx.ConnectError(f"refused Bearer {API_KEY}"))
    with pytest.raises(ProviderUnavailableError):
        await anext(open_stream(capturing, pasted))
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert "my key is ***" in attrs(spans[0])["gen_ai.prompt"]
    assert any(e.name == "exception" for e in spans[2].events)
    for span in spans:
        assert API_KEY not in all_span_text(span)


# ---------------------------------------------------------------------------- telemetry failures


async def test_a_raising_metrics_hook_never_breaks_a_call(
    proxy: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[CallRecord] = []

    def broken(record: CallRecord) -> None:
        calls.append(record)
        raise RuntimeError(f"exporter down (key {API_KEY})")

    mock_chat(proxy)
    mock_stream_route = httpx.Response(
        200, content=sse(chunk("x"), final_chunk(1, 1, cost=0.1)), headers=STREAM_HEADERS
    )
    async with LiteLLMProvider(BASE_URL, API_KEY, metrics=broken) as provider:
        with caplog.at_level(logging.DEBUG, logger="muxer_litellm"):
            first = await provider.chat_completion(HELLO, MODEL)
            second = await provider.chat_completion(HELLO, MODEL)
            proxy.post("/v1/chat/completions").mock(return_value=mock_stream_route)
            chunks = [c async for c in open_stream(provider)]
    assert first.choices[0].message.content == "Hello!"
    assert second.router_metadata.call_id == CALL_ID
    assert chunks[-1]["router_metadata"]["estimated_cost"] == 0.1
    assert len(calls) == 3
    hook_logs = [r for r in caplog.records if "metrics hook" in r.getMessage()]
    assert [r.levelno for r in hook_logs] == [logging.WARNING, logging.DEBUG, logging.DEBUG]  # warned once
    assert "RuntimeError" in hook_logs[0].getMessage()
    assert all(API_KEY not in r.getMessage() for r in hook_logs)


async def test_a_raising_tracer_never_breaks_a_call(proxy: respx.MockRouter, registry: CollectorRegistry) -> None:
    class BrokenTracer:
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("tracer exploded")

    mock_chat(proxy)
    tracer: Any = BrokenTracer()
    async with LiteLLMProvider(BASE_URL, API_KEY, tracer=tracer, metrics=PrometheusMetrics(registry)) as provider:
        response = await provider.chat_completion(HELLO, MODEL)
    assert response.router_metadata.estimated_cost == BILLED
    assert sample(registry, "requests_total", model=MODEL, operation="chat", status="ok") == 1  # metrics still work


# ---------------------------------------------------------------------------- off by default, free when off


async def test_off_by_default_builds_no_record_and_no_span(
    proxy: respx.MockRouter, provider: LiteLLMProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("observability code ran with tracing and metrics off")

    monkeypatch.setattr(observer, "CallRecord", forbidden)
    monkeypatch.setattr(observer.Observer, "start", forbidden)
    monkeypatch.setattr(observer.Observer, "traced", forbidden)
    monkeypatch.setattr(observer.CallObservation, "__init__", forbidden)
    mock_chat(proxy)
    proxy.post("/v1/embeddings").mock(return_value=httpx.Response(200, json=embedding_body([[0.5]]), headers=HEADERS))
    assert (await provider.chat_completion(HELLO, MODEL)).router_metadata.estimated_cost == BILLED
    assert (await provider.embeddings("x", EMBED_MODEL)).data[0].embedding == [0.5]
    mock_stream(proxy, sse(chunk("a"), final_chunk(1, 1, cost=0.1)))
    assert len([c async for c in open_stream(provider)]) == 2
    stream = open_stream(provider)
    await anext(stream)
    await stream.aclose()


def test_off_imports_neither_opentelemetry_nor_prometheus() -> None:
    """In a fresh interpreter: import the package and make calls of each kind, telemetry off."""
    script = textwrap.dedent(
        """
        import asyncio, json, sys
        import httpx
        from muxer_litellm import LiteLLMProvider

        CHAT = {"id": "c", "created": 1, "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                "total_tokens": 2}, "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}
        STREAM = b'data: {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}\\n\\ndata: [DONE]\\n\\n'
        EMB = {"model": "e", "data": [{"index": 0, "embedding": [0.1]}]}

        def handler(request):
            cost = {"x-litellm-response-cost": "0.1"}
            if request.method == "GET":  # /model/info, to price the unbilled stream
                return httpx.Response(200, json={"data": []})
            if request.url.path == "/v1/embeddings":
                return httpx.Response(200, json=EMB, headers=cost)
            if json.loads(request.content).get("stream"):
                return httpx.Response(200, content=STREAM, headers={"content-type": "text/event-stream"})
            return httpx.Response(200, json=CHAT, headers=cost)

        async def main():
            client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
            async with LiteLLMProvider("http://proxy.test", "sk-x", http_client=client) as p:
                await p.chat_completion([{"role": "user", "content": "q"}], "m")
                [c async for c in p.stream_chat_completion([{"role": "user", "content": "q"}], "m")]
                await p.embeddings("q", "e")
            await client.aclose()

        asyncio.run(main())
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("opentelemetry", "prometheus_client"))
        print(json.dumps(loaded))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# ---------------------------------------------------------------------------- settings wiring


def test_settings_default_off_and_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = LiteLLMSettings()
    assert (settings.tracing, settings.metrics) == (False, False)
    monkeypatch.setenv("LITELLM_TRACING", "true")
    monkeypatch.setenv("LITELLM_METRICS", "1")
    settings = LiteLLMSettings()
    assert (settings.tracing, settings.metrics) == (True, True)


def test_bad_settings_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_TRACING", "sometimes")
    with pytest.raises(ValidationError) as caught:
        LiteLLMSettings()
    assert [e["loc"] for e in caught.value.errors()] == [("tracing",)]


async def test_from_settings_wires_the_global_tracer_and_shared_metrics(
    proxy: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    tracer: trace.Tracer,
    exporter: InMemorySpanExporter,
) -> None:
    asked: list[tuple[Any, ...]] = []

    def get_tracer(*args: Any, **kwargs: Any) -> trace.Tracer:
        asked.append(args)
        return tracer

    monkeypatch.setattr(trace, "get_tracer", get_tracer)  # stands in for the global tracer provider
    monkeypatch.setenv("LITELLM_BASE_URL", BASE_URL)
    monkeypatch.setenv("LITELLM_TRACING", "true")
    monkeypatch.setenv("LITELLM_METRICS", "true")
    model = "settings-wiring-model"  # a label no other test uses on the global registry
    mock_chat(proxy)
    global_registry = prometheus_client.REGISTRY
    before = global_registry.get_sample_value(
        f"{NS}_requests_total", {"model": model, "operation": "chat", "status": "ok"}
    )
    async with LiteLLMProvider.from_settings() as first, LiteLLMProvider.from_settings() as second:
        await first.chat_completion(HELLO, model)
        await second.chat_completion(HELLO, model)
    after = global_registry.get_sample_value(
        f"{NS}_requests_total", {"model": model, "operation": "chat", "status": "ok"}
    )
    assert (after or 0) - (before or 0) == 2  # two providers share one set of metrics, no duplicate error
    assert [args[0] for args in asked] == ["muxer_litellm", "muxer_litellm"]
    assert [s.name for s in exporter.get_finished_spans()] == ["litellm.chat", "litellm.chat"]
    assert PrometheusMetrics.default() is PrometheusMetrics.default()


async def test_from_settings_off_and_overrides_win(
    proxy: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, registry: CollectorRegistry
) -> None:
    monkeypatch.setenv("LITELLM_BASE_URL", BASE_URL)
    mock_chat(proxy)
    async with LiteLLMProvider.from_settings() as plain:
        assert plain._observer is None
    monkeypatch.setenv("LITELLM_METRICS", "true")
    mine = PrometheusMetrics(registry)
    async with LiteLLMProvider.from_settings(metrics=mine) as provider:
        await provider.chat_completion(HELLO, MODEL)
    assert sample(registry, "requests_total", model=MODEL, operation="chat", status="ok") == 1


# ---------------------------------------------------------------------------- missing extras, wrong types


def test_prometheus_missing_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"pip install 'muxer-litellm\[prometheus\]'"):
        PrometheusMetrics(CollectorRegistry())


def test_opentelemetry_missing_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    with pytest.raises(ImportError, match=r"pip install 'muxer-litellm\[otel\]'"):
        LiteLLMProvider(BASE_URL, tracer=True)


def test_second_metrics_on_one_registry_is_a_clear_error(registry: CollectorRegistry) -> None:
    PrometheusMetrics(registry)
    with pytest.raises(ValueError, match=r"namespace 'muxer_litellm'.*one PrometheusMetrics per registry"):
        PrometheusMetrics(registry)
    other = PrometheusMetrics(registry, namespace="gateway")  # nothing half-registered blocks another namespace
    other(
        CallRecord("chat", MODEL, "ok", None, 1, 2, 0.5, "proxy", None, None, None, None, 0.2),
    )
    assert (
        registry.get_sample_value("gateway_requests_total", {"model": MODEL, "operation": "chat", "status": "ok"}) == 1
    )
    assert (
        registry.get_sample_value(
            "gateway_request_duration_seconds_bucket", {"model": MODEL, "operation": "chat", "le": "0.25"}
        )
        == 1
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tracer": "yes"}, "tracer must be an opentelemetry.trace.Tracer"),
        ({"metrics": 42}, "metrics must be a callable"),
    ],
    ids=["tracer", "metrics"],
)
def test_wrong_types_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        LiteLLMProvider(BASE_URL, **kwargs)


def test_tracer_false_means_off() -> None:
    assert observer.Observer.create(False, None, base_url=BASE_URL) is None
    assert observer.Observer.create(None, None, base_url=BASE_URL) is None


@pytest.fixture(autouse=True)
def _no_global_span_leak() -> Iterator[None]:
    yield
    assert not trace.get_current_span().get_span_context().is_valid


# ---------------------------------------------------------------------------- edge cases


def record_for(model: str, *, status: str = "ok", error_type: str | None = None) -> CallRecord:
    return CallRecord(
        operation="chat",
        model=model,
        status=status,  # type: ignore[arg-type]
        error_type=error_type,
        prompt_tokens=1,
        completion_tokens=1,
        cost=None,
        cost_source="unknown",
        call_id=None,
        model_id=None,
        attempted_retries=None,
        attempted_fallbacks=None,
        duration_s=0.1,
    )


def test_model_labels_are_bounded_and_unknown_models_share_other(registry: CollectorRegistry) -> None:
    metrics = PrometheusMetrics(registry, max_models=2)
    for name in ("a", "b", "c"):
        metrics(record_for(name))
    metrics(record_for("typo", status="error", error_type="ModelNotFoundError"))
    metrics(record_for("a"))
    assert sample(registry, "requests_total", model="a", operation="chat", status="ok") == 2
    assert sample(registry, "requests_total", model="b", operation="chat", status="ok") == 1
    assert sample(registry, "requests_total", model="c", operation="chat", status="ok") is None
    assert sample(registry, "requests_total", model="other", operation="chat", status="ok") == 1
    assert sample(registry, "errors_total", model="other", error_type="ModelNotFoundError") == 1
    assert sample(registry, "errors_total", model="typo", error_type="ModelNotFoundError") is None


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_max_models_must_be_a_positive_integer(registry: CollectorRegistry, bad: Any) -> None:
    with pytest.raises(ValueError, match="max_models"):
        PrometheusMetrics(registry, max_models=bad)


async def test_stream_span_ends_even_if_closing_the_response_fails(
    proxy: respx.MockRouter,
    observed: LiteLLMProvider,
    exporter: InMemorySpanExporter,
    records: list[CallRecord],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mock_stream(proxy, sse(chunk("Hi"), chunk(finish_reason="stop"), final_chunk(3, 1, cost=0.0001)))

    exchange = ProxyTransport._exchange

    async def exchange_with_broken_close(transport: ProxyTransport, request: httpx.Request) -> httpx.Response:
        response = await exchange(transport, request)

        async def broken_aclose() -> None:
            raise RuntimeError("socket close failed")

        response.aclose = broken_aclose  # type: ignore[method-assign]
        return response

    monkeypatch.setattr(ProxyTransport, "_exchange", exchange_with_broken_close)
    with pytest.raises(RuntimeError, match="socket close failed"):
        _ = [c async for c in open_stream(observed)]
    span = only_span(exporter)
    assert attrs(span)["muxer_litellm.cost_usd"] == pytest.approx(0.0001)
    assert [(r.operation, r.status) for r in records] == [("stream", "ok")]


async def test_a_stream_never_iterated_opens_no_span(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter, records: list[CallRecord]
) -> None:
    route = mock_stream(proxy, sse(chunk("Hi"), final_chunk(3, 1)))
    stream = open_stream(observed)
    await stream.aclose()
    assert exporter.get_finished_spans() == ()
    assert records == []
    assert not route.called


async def test_a_cancelled_chat_call_ends_its_span_with_the_cancellation(
    proxy: respx.MockRouter, observed: LiteLLMProvider, exporter: InMemorySpanExporter, records: list[CallRecord]
) -> None:
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    proxy.post("/v1/chat/completions").mock(side_effect=hang)
    task = asyncio.create_task(observed.chat_completion(HELLO, MODEL))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert [(r.status, r.error_type) for r in records] == [("error", "CancelledError")]
