"""Cost reporting: ``router_metadata.estimated_cost`` / ``cost_source`` on chat, embeddings and streams
(proxy header, else catalog price x usage, else unknown - never a silent 0.0), the other RouterMetadata
fields read from the proxy's headers, and ``muxer_litellm.proxy.cost.parse_cost`` / ``resolve_cost``."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider, ModelCard, RouterMetadata
from muxer_litellm.host import MessageInput
from muxer_litellm.proxy.cost import parse_cost, resolve_cost
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

HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]

# Per-token prices as /model/info reports them, and the same prices per 1K tokens.
IN_PER_TOKEN, IN_PER_1K = 5e-07, 0.0005
OUT_PER_TOKEN, OUT_PER_1K = 1.5e-06, 0.0015
EMBED_IN_PER_TOKEN, EMBED_IN_PER_1K = 1e-07, 0.0001
CHEAP_IN_PER_TOKEN, CHEAP_IN_PER_1K = 1e-07, 0.0001
CHEAP_OUT_PER_TOKEN, CHEAP_OUT_PER_1K = 2e-07, 0.0002
DEAR_IN_PER_TOKEN, DEAR_IN_PER_1K = 3e-06, 0.003
DEAR_OUT_PER_TOKEN, DEAR_OUT_PER_1K = 6e-06, 0.006
CUSTOM_IN_1K, CUSTOM_OUT_1K = 0.002, 0.004

PROMPT, COMPLETION = 1200, 300

CATALOG = model_info(
    deployment("priced", model_id="dep-priced", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN),
    deployment("unpriced", model_id="dep-unpriced", input_cost=None, output_cost=None),
    deployment("embed", model_id="dep-embed", input_cost=EMBED_IN_PER_TOKEN, output_cost=0, mode="embedding"),
    deployment("embed-unpriced", model_id="dep-embed-unpriced", mode="embedding"),
    deployment("pool", model_id="dep-cheap", input_cost=CHEAP_IN_PER_TOKEN, output_cost=CHEAP_OUT_PER_TOKEN),
    deployment("pool", model_id="dep-dear", input_cost=DEAR_IN_PER_TOKEN, output_cost=DEAR_OUT_PER_TOKEN),
)


def price(prompt: int, completion: int, in_1k: float, out_1k: float) -> float:
    return (prompt * in_1k + completion * out_1k) / 1000


def mock_catalog(proxy: respx.MockRouter, payload: dict[str, Any] = CATALOG) -> respx.Route:
    return proxy.get("/model/info").mock(return_value=httpx.Response(200, json=payload))


def mock_chat(
    proxy: respx.MockRouter,
    headers: dict[str, str] | None = None,
    *,
    prompt_tokens: int = PROMPT,
    completion_tokens: int = COMPLETION,
    usage: bool = True,
) -> respx.Route:
    body = chat_body(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, usage=usage)
    return proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=body, headers=headers))


async def chat_meta(provider: LiteLLMProvider, model: str) -> RouterMetadata:
    response = await provider.chat_completion(HELLO, model)
    return response.router_metadata


def mock_embeddings(proxy: respx.MockRouter, headers: dict[str, str] | None = None, prompt_tokens: int = 8) -> None:
    body = embedding_body([[0.1, 0.2, 0.3]], prompt_tokens=prompt_tokens, model="embed")
    proxy.post("/v1/embeddings").mock(return_value=httpx.Response(200, json=body, headers=headers))


async def stream_chunks(
    proxy: respx.MockRouter, provider: LiteLLMProvider, model: str, *frames: dict[str, Any] | str
) -> list[dict[str, Any]]:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(*frames),
            headers={"content-type": "text/event-stream", "x-litellm-call-id": "call-stream"},
        )
    )
    return [c async for c in provider.stream_chat_completion(HELLO, model)]


# ---------------------------------------------------------------------------------------- chat


async def test_billed_cost_header_wins_without_reading_the_catalog(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    info = mock_catalog(proxy)
    mock_chat(proxy, {"x-litellm-response-cost": "0.00042"})
    meta = await chat_meta(provider, "priced")
    assert meta.estimated_cost == 0.00042
    assert meta.cost_source == "proxy"
    assert info.call_count == 0


async def test_without_cost_header_the_catalog_prices_the_usage(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    info = mock_catalog(proxy)
    mock_chat(proxy)
    meta = await chat_meta(provider, "priced")
    assert meta.estimated_cost == pytest.approx(price(PROMPT, COMPLETION, IN_PER_1K, OUT_PER_1K), rel=1e-12)
    assert meta.cost_source == "catalog"
    assert info.call_count == 1


@pytest.mark.parametrize("header", ["0", "0.0", "-1", "nan", "abc", "inf", ""], ids=repr)
async def test_zero_or_unusable_cost_header_falls_back_to_the_catalog(
    proxy: respx.MockRouter, provider: LiteLLMProvider, header: str
) -> None:
    mock_catalog(proxy)
    mock_chat(proxy, {"x-litellm-response-cost": header})
    meta = await chat_meta(provider, "priced")
    assert meta.estimated_cost == pytest.approx(price(PROMPT, COMPLETION, IN_PER_1K, OUT_PER_1K), rel=1e-12)
    assert meta.cost_source == "catalog"


@pytest.mark.parametrize("header", [None, "0"], ids=["absent", "zero"])
async def test_unpriced_model_has_unknown_cost_never_zero(
    proxy: respx.MockRouter, provider: LiteLLMProvider, header: str | None
) -> None:
    mock_catalog(proxy)
    mock_chat(proxy, None if header is None else {"x-litellm-response-cost": header})
    meta = await chat_meta(provider, "unpriced")
    assert meta.estimated_cost is None
    assert meta.cost_source == "unknown"


async def test_model_missing_from_the_catalog_has_unknown_cost(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_catalog(proxy)
    mock_chat(proxy)
    meta = await chat_meta(provider, "not-in-catalog")
    assert meta.estimated_cost is None
    assert meta.cost_source == "unknown"


async def test_reply_without_usage_or_header_has_unknown_cost(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_catalog(proxy)
    mock_chat(proxy, usage=False)
    response = await provider.chat_completion(HELLO, "priced")
    assert response.usage is None
    assert response.router_metadata.estimated_cost is None
    assert response.router_metadata.cost_source == "unknown"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"error": {"message": "db down", "type": None, "code": "500"}}),
        (400, error_body("Authentication Error, No connected db.", "no_db_connection", "400")),
    ],
    ids=["500", "auth"],
)
async def test_failing_catalog_leaves_the_call_working_with_unknown_cost_and_a_warning(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: dict[str, Any],
) -> None:
    info = proxy.get("/model/info").mock(return_value=httpx.Response(status, json=body))
    mock_chat(proxy)
    with caplog.at_level(logging.WARNING, logger="muxer_litellm"):
        response = await provider.chat_completion(HELLO, "priced")
    assert response.choices[0].message.content == "Hello!"
    assert response.router_metadata.estimated_cost is None
    assert response.router_metadata.cost_source == "unknown"
    assert info.call_count == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "muxer_litellm"]
    assert len(warnings) == 1
    assert "could not refresh the LiteLLM model catalog" in warnings[0].getMessage()
    assert API_KEY not in caplog.text


async def test_custom_price_is_reported_as_catalog_cost(proxy: respx.MockRouter) -> None:
    mock_catalog(proxy)
    mock_chat(proxy)
    custom = {
        "priced": {"pricing": {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K}},
        "unpriced": {"pricing": {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K}},
    }
    async with LiteLLMProvider(BASE_URL, API_KEY, custom_models=custom) as provider:
        overridden = await chat_meta(provider, "priced")
        priced_by_operator = await chat_meta(provider, "unpriced")
    expected = price(PROMPT, COMPLETION, CUSTOM_IN_1K, CUSTOM_OUT_1K)
    for meta in (overridden, priced_by_operator):
        assert meta.cost_source == "catalog"
        assert meta.estimated_cost == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("model_id", "in_1k", "out_1k"),
    [
        ("dep-cheap", CHEAP_IN_PER_1K, CHEAP_OUT_PER_1K),
        ("dep-dear", DEAR_IN_PER_1K, DEAR_OUT_PER_1K),
        (None, DEAR_IN_PER_1K, DEAR_OUT_PER_1K),
        ("dep-gone", DEAR_IN_PER_1K, DEAR_OUT_PER_1K),
    ],
    ids=["cheap-deployment", "dear-deployment", "no-model-id-merged", "unknown-model-id-merged"],
)
async def test_named_deployment_is_priced_at_its_own_price(
    proxy: respx.MockRouter, provider: LiteLLMProvider, model_id: str | None, in_1k: float, out_1k: float
) -> None:
    mock_catalog(proxy)
    mock_chat(proxy, None if model_id is None else {"x-litellm-model-id": model_id})
    meta = await chat_meta(provider, "pool")
    assert meta.cost_source == "catalog"
    assert meta.estimated_cost == pytest.approx(price(PROMPT, COMPLETION, in_1k, out_1k), rel=1e-12)
    assert meta.model_id == model_id


async def test_custom_price_for_the_name_wins_over_the_named_deployment(proxy: respx.MockRouter) -> None:
    mock_catalog(proxy)
    mock_chat(proxy, {"x-litellm-model-id": "dep-cheap"})
    custom = {"pool": {"pricing": {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K}}}
    async with LiteLLMProvider(BASE_URL, API_KEY, custom_models=custom) as provider:
        meta = await chat_meta(provider, "pool")
    assert meta.cost_source == "catalog"
    assert meta.estimated_cost == pytest.approx(price(PROMPT, COMPLETION, CUSTOM_IN_1K, CUSTOM_OUT_1K), rel=1e-12)


async def test_catalog_is_fetched_once_across_calls_within_ttl(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    info = mock_catalog(proxy)
    chat = mock_chat(proxy)
    costs = [(await chat_meta(provider, model)).estimated_cost for model in ("priced", "priced", "pool")]
    assert info.call_count == 1
    assert chat.call_count == 3
    assert costs[0] == costs[1] == pytest.approx(price(PROMPT, COMPLETION, IN_PER_1K, OUT_PER_1K), rel=1e-12)
    assert costs[2] == pytest.approx(price(PROMPT, COMPLETION, DEAR_IN_PER_1K, DEAR_OUT_PER_1K), rel=1e-12)


# ---------------------------------------------------------------------------------------- metadata fields


async def test_router_metadata_reads_the_proxy_headers(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_chat(
        proxy,
        {
            "x-litellm-response-cost": "0.001",
            "x-litellm-call-id": "call-123",
            "x-litellm-model-id": "dep-priced",
            "x-litellm-attempted-retries": "2",
            "x-litellm-attempted-fallbacks": "1",
        },
    )
    meta = await chat_meta(provider, "priced")
    assert meta.selected_provider == "litellm"
    assert meta.selected_model == "priced"
    assert meta.call_id == "call-123"
    assert meta.model_id == "dep-priced"
    assert meta.attempted_retries == 2
    assert meta.attempted_fallbacks == 1
    assert meta.response_time_ms >= 0
    assert meta.estimated_cost == 0.001


async def test_router_metadata_fields_are_none_when_headers_are_absent(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_chat(proxy, {"x-litellm-response-cost": "0.001"})
    meta = await chat_meta(provider, "priced")
    assert meta.call_id is None
    assert meta.model_id is None
    assert meta.attempted_retries is None
    assert meta.attempted_fallbacks is None
    assert meta.response_time_ms >= 0


@pytest.mark.parametrize("garbage", ["abc", "", "nan", "inf", "1e999", "-1"], ids=repr)
async def test_garbage_attempt_counts_read_as_none(
    proxy: respx.MockRouter, provider: LiteLLMProvider, garbage: str
) -> None:
    mock_chat(
        proxy,
        {
            "x-litellm-response-cost": "0.001",
            "x-litellm-attempted-retries": garbage,
            "x-litellm-attempted-fallbacks": garbage,
        },
    )
    meta = await chat_meta(provider, "priced")
    assert meta.attempted_retries is None
    assert meta.attempted_fallbacks is None
    assert meta.estimated_cost == 0.001


# ---------------------------------------------------------------------------------------- embeddings


async def test_embedding_cost_from_the_header(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    info = mock_catalog(proxy)
    mock_embeddings(proxy, {"x-litellm-response-cost": "0.0000008", "x-litellm-call-id": "call-emb"})
    response = await provider.embeddings("hello", "embed")
    assert response.router_metadata.estimated_cost == 0.0000008
    assert response.router_metadata.cost_source == "proxy"
    assert response.router_metadata.call_id == "call-emb"
    assert info.call_count == 0


async def test_embedding_cost_from_the_catalog_prices_prompt_tokens(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_catalog(proxy)
    mock_embeddings(proxy, prompt_tokens=800)
    response = await provider.embeddings(["a", "b"], "embed")
    assert response.usage is not None
    assert response.usage.prompt_tokens == 800
    assert response.router_metadata.cost_source == "catalog"
    assert response.router_metadata.estimated_cost == pytest.approx(800 * EMBED_IN_PER_1K / 1000, rel=1e-12)


async def test_unpriced_embedding_has_unknown_cost(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_catalog(proxy)
    mock_embeddings(proxy)
    response = await provider.embeddings("hello", "embed-unpriced")
    assert response.router_metadata.estimated_cost is None
    assert response.router_metadata.cost_source == "unknown"


# ---------------------------------------------------------------------------------------- streams


async def test_stream_cost_from_usage_cost_is_proxy(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    info = mock_catalog(proxy)
    chunks = await stream_chunks(
        proxy, provider, "priced", chunk("Hel"), chunk("lo", finish_reason="stop"), final_chunk(12, 4, 0.00021)
    )
    assert len(chunks) == 3
    meta = chunks[-1]["router_metadata"]
    assert meta["estimated_cost"] == 0.00021
    assert meta["cost_source"] == "proxy"
    assert meta["call_id"] == "call-stream"
    assert meta["selected_model"] == "priced"
    assert chunks[-1]["usage"]["total_tokens"] == 16
    assert all("router_metadata" not in c for c in chunks[:-1])
    assert info.call_count == 0


@pytest.mark.parametrize("cost", [None, 0.0], ids=["no-cost", "zero-cost"])
async def test_stream_usage_without_a_billed_cost_is_priced_from_the_catalog(
    proxy: respx.MockRouter, provider: LiteLLMProvider, cost: float | None
) -> None:
    info = mock_catalog(proxy)
    chunks = await stream_chunks(
        proxy, provider, "priced", chunk("Hi", finish_reason="stop"), final_chunk(40, 10, cost)
    )
    meta = chunks[-1]["router_metadata"]
    assert meta["cost_source"] == "catalog"
    assert meta["estimated_cost"] == pytest.approx(price(40, 10, IN_PER_1K, OUT_PER_1K), rel=1e-12)
    assert info.call_count == 1


async def test_unpriced_stream_has_unknown_cost(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_catalog(proxy)
    chunks = await stream_chunks(proxy, provider, "unpriced", chunk("Hi", finish_reason="stop"), final_chunk(40, 10))
    meta = chunks[-1]["router_metadata"]
    assert meta["estimated_cost"] is None
    assert meta["cost_source"] == "unknown"
    assert chunks[-1]["usage"] == {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50}


# ------------------------------------------------------------------------- a direct call's total


DIRECT = "direct call to the LiteLLM proxy"


@pytest.mark.parametrize(
    ("model", "header", "expected"),
    [
        ("priced", {"x-litellm-response-cost": "0.00042"}, 0.00042),
        ("priced", None, price(PROMPT, COMPLETION, IN_PER_1K, OUT_PER_1K)),
        ("unpriced", None, None),
    ],
    ids=["billed", "catalog", "unknown"],
)
async def test_a_direct_chat_call_totals_its_own_cost(
    proxy: respx.MockRouter, provider: LiteLLMProvider, model: str, header: dict[str, str] | None, expected: Any
) -> None:
    mock_catalog(proxy)
    mock_chat(proxy, header)
    meta = await chat_meta(provider, model)
    assert meta.total_cost == meta.estimated_cost
    assert meta.total_cost == (pytest.approx(expected, rel=1e-12) if expected is not None else None)
    assert meta.routing_reason == DIRECT
    assert (meta.routing_strategy, meta.attempts) == (None, [])


@pytest.mark.parametrize(
    ("model", "cost", "expected"),
    [("priced", 0.00021, 0.00021), ("priced", None, price(40, 10, IN_PER_1K, OUT_PER_1K)), ("unpriced", None, None)],
    ids=["billed", "catalog", "unknown"],
)
async def test_a_direct_stream_totals_its_own_cost(
    proxy: respx.MockRouter, provider: LiteLLMProvider, model: str, cost: float | None, expected: Any
) -> None:
    mock_catalog(proxy)
    chunks = await stream_chunks(proxy, provider, model, chunk("Hi", finish_reason="stop"), final_chunk(40, 10, cost))
    meta = chunks[-1]["router_metadata"]
    assert meta["total_cost"] == meta["estimated_cost"]
    assert meta["total_cost"] == (pytest.approx(expected, rel=1e-12) if expected is not None else None)
    assert meta["routing_reason"] == DIRECT


async def test_a_direct_embedding_call_totals_its_own_cost(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_catalog(proxy)
    mock_embeddings(proxy, {"x-litellm-response-cost": "0.0000008"})
    response = await provider.embeddings("hello", "embed")
    assert response.router_metadata.total_cost == response.router_metadata.estimated_cost == 0.0000008


# ---------------------------------------------------------------------------------------- cost.py


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.00042", 0.00042),
        (" 0.1 ", 0.1),
        ("0", 0.0),
        (0.5, 0.5),
        (3, 3.0),
        (None, None),
        (True, None),
        (False, None),
        ("-1", None),
        (-0.01, None),
        ("nan", None),
        ("inf", None),
        (float("inf"), None),
        ("abc", None),
        ("", None),
        ([0.1], None),
    ],
    ids=repr,
)
def test_parse_cost_accepts_only_finite_non_negative_amounts(value: Any, expected: float | None) -> None:
    assert parse_cost(value) == expected


PRICED_CARD = ModelCard(name="m", input_cost_per_1k=IN_PER_1K, output_cost_per_1k=OUT_PER_1K, pricing_source="proxy")
UNPRICED_CARD = ModelCard(name="m")
CATALOG_COST = price(1000, 2000, IN_PER_1K, OUT_PER_1K)


@pytest.mark.parametrize(
    ("proxy_cost", "prompt", "completion", "card", "expected"),
    [
        (0.001, 1000, 2000, PRICED_CARD, (0.001, "proxy")),
        (0.001, None, None, None, (0.001, "proxy")),
        (None, 1000, 2000, PRICED_CARD, (CATALOG_COST, "catalog")),
        (0.0, 1000, 2000, PRICED_CARD, (CATALOG_COST, "catalog")),
        (None, 0, 0, PRICED_CARD, (0.0, "catalog")),
        (None, None, 2000, PRICED_CARD, (None, "unknown")),
        (None, 1000, None, PRICED_CARD, (None, "unknown")),
        (None, 1000, 2000, None, (None, "unknown")),
        (None, 1000, 2000, UNPRICED_CARD, (None, "unknown")),
        (0.0, 1000, 2000, None, (None, "unknown")),
        (0.0, 1000, 2000, UNPRICED_CARD, (None, "unknown")),
    ],
    ids=[
        "proxy-wins",
        "proxy-without-usage",
        "catalog",
        "zero-proxy-cost-uses-catalog",
        "zero-tokens-priced",
        "no-prompt-tokens",
        "no-completion-tokens",
        "no-card",
        "unpriced-card",
        "zero-proxy-cost-no-card",
        "zero-proxy-cost-unpriced",
    ],
)
def test_resolve_cost_order_is_proxy_then_catalog_then_unknown(
    proxy_cost: float | None,
    prompt: int | None,
    completion: int | None,
    card: ModelCard | None,
    expected: tuple[float | None, str],
) -> None:
    cost, source = resolve_cost(proxy_cost, prompt, completion, card)
    assert source == expected[1]
    if expected[0] is None:
        assert cost is None
    else:
        assert cost == pytest.approx(expected[0], rel=1e-12, abs=0)
