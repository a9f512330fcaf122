"""LiteLLMProvider against a real LiteLLM proxy (see conftest.py for the models)."""

from __future__ import annotations

import logging
import math
from typing import Any

import httpx
import pytest

from muxer_litellm import (
    AuthenticationError,
    ChatMessage,
    ContentPolicyError,
    ContextWindowExceededError,
    LiteLLMProvider,
    ModelNotFoundError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.proxy.versions import parse_version
from tests.fake_upstream import RETRY_AFTER_SECONDS, TINY_CONTEXT_WORDS, FakeUpstream
from tests.integration.conftest import (
    CHEAP_IN,
    CHEAP_OUT,
    EMBED_IN,
    NEWER_REPLIES,
    PASSES_RETRY_AFTER,
    SMART_IN,
    SMART_OUT,
    STREAM_COST,
    TOOL_IN,
    TOOL_OUT,
)
from tests.litellm_proxy import LiteLLMProxy, free_port

pytestmark = pytest.mark.integration

HELLO = [ChatMessage(role="user", content="hello there friend")]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


async def test_chat_reply_and_billed_cost_equal_the_proxy_header(litellm_proxy: LiteLLMProxy) -> None:
    seen: list[httpx.Headers] = []

    async def record(response: httpx.Response) -> None:
        if response.request.url.path == "/v1/chat/completions":
            seen.append(response.headers)

    async with (
        httpx.AsyncClient(event_hooks={"response": [record]}) as client,
        LiteLLMProvider(litellm_proxy.base_url, litellm_proxy.master_key, http_client=client) as provider,
    ):
        response = await provider.chat_completion(HELLO, "cheap-chat", max_tokens=50, temperature=0.2)

    assert response.choices[0].message.content == "echo: hello there friend"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    meta = response.router_metadata
    assert len(seen) == 1
    assert meta.cost_source == "proxy"
    assert meta.estimated_cost == float(seen[0]["x-litellm-response-cost"])
    expected = response.usage.prompt_tokens * CHEAP_IN + response.usage.completion_tokens * CHEAP_OUT
    assert meta.estimated_cost == pytest.approx(expected, rel=1e-9)
    assert meta.call_id == seen[0]["x-litellm-call-id"]
    assert meta.model_id == seen[0]["x-litellm-model-id"]
    assert meta.attempted_retries == 0
    assert meta.attempted_fallbacks == 0
    assert meta.selected_provider == "litellm"
    assert meta.selected_model == "cheap-chat"


async def test_passes_kwargs_through_to_the_upstream(provider: LiteLLMProvider, fake_upstream: FakeUpstream) -> None:
    # (``user`` and ``metadata`` are consumed by the proxy itself; unit tests check we send them.)
    await provider.chat_completion(HELLO, "cheap-chat", seed=7, top_p=0.5, stop=["\n\n"], logit_bias={"50256": -100})
    body = fake_upstream.requests[-1]["body"]
    assert body["seed"] == 7
    assert body["top_p"] == 0.5
    assert body["stop"] == ["\n\n"]
    assert body["logit_bias"] == {"50256": -100}


async def test_tool_call_comes_back_intact(provider: LiteLLMProvider) -> None:
    response = await provider.chat_completion(
        [{"role": "user", "content": "weather in Paris?"}], "tool-chat", tools=[WEATHER_TOOL], tool_choice="auto"
    )
    message = response.choices[0].message
    assert response.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == '{"city": "Paris"}'
    assert call["id"] == "call_1"
    assert response.usage is not None
    expected = response.usage.prompt_tokens * TOOL_IN + response.usage.completion_tokens * TOOL_OUT
    assert response.router_metadata.estimated_cost == pytest.approx(expected, rel=1e-9)

    # The tool result goes back through the proxy as a normal conversation turn.
    follow_up = await provider.chat_completion(
        [
            {"role": "user", "content": "weather in Paris?"},
            ChatMessage(role="assistant", content=None, tool_calls=message.tool_calls),
            {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
        ],
        "cheap-chat",
    )
    assert follow_up.choices[0].message.content == "echo: weather in Paris?"


async def test_stream_yields_chunks_then_usage_and_proxy_cost(
    provider: LiteLLMProvider, proxy_version: tuple[int, int, int]
) -> None:
    messages = [{"role": "user", "content": "stream me please"}]
    chunks: list[dict[str, Any]] = [c async for c in provider.stream_chat_completion(messages, "cheap-chat")]
    text = "".join(
        choice.get("delta", {}).get("content") or "" for chunk in chunks for choice in chunk.get("choices", [])
    )
    assert text == "echo: stream me please"
    final = chunks[-1]
    usage = final["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == 4
    meta = final["router_metadata"]
    # An older proxy's last chunk has usage but no cost: priced from the catalog, and said so.
    assert meta["cost_source"] == ("proxy" if proxy_version >= STREAM_COST else "catalog")
    expected = usage["prompt_tokens"] * CHEAP_IN + usage["completion_tokens"] * CHEAP_OUT
    assert meta["estimated_cost"] == pytest.approx(expected, rel=1e-9)
    assert meta["call_id"]
    assert all("router_metadata" not in c for c in chunks[:-1])


async def test_unpriced_model_is_unknown_never_free(provider: LiteLLMProvider) -> None:
    response = await provider.chat_completion(HELLO, "mystery-chat")
    assert response.choices[0].message.content == "echo: hello there friend"
    assert response.router_metadata.estimated_cost is None
    assert response.router_metadata.cost_source == "unknown"

    chunks = [c async for c in provider.stream_chat_completion(HELLO, "mystery-chat")]
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert chunks[-1]["router_metadata"]["estimated_cost"] is None
    assert chunks[-1]["router_metadata"]["cost_source"] == "unknown"

    card = provider.get_model_info("mystery-chat")
    assert card is not None
    assert card.pricing_source == "unknown"
    assert card.input_cost_per_1k is None
    assert math.isinf(provider.calculate_cost(100, 100, "mystery-chat"))


async def test_custom_pricing_prices_an_unpriced_model(litellm_proxy: LiteLLMProxy) -> None:
    async with LiteLLMProvider(
        litellm_proxy.base_url,
        litellm_proxy.master_key,
        custom_models={"mystery-chat": {"pricing": {"input": 0.002, "output": 0.004}}},
    ) as provider:
        response = await provider.chat_completion(HELLO, "mystery-chat")
    assert response.usage is not None
    assert response.router_metadata.cost_source == "catalog"
    expected = (response.usage.prompt_tokens * 0.002 + response.usage.completion_tokens * 0.004) / 1000
    assert response.router_metadata.estimated_cost == pytest.approx(expected, rel=1e-9)


async def test_discovery_reads_prices_context_windows_and_capabilities(provider: LiteLLMProvider) -> None:
    cards = {c.name: c for c in await provider.refresh_models()}
    cheap, smart, mock, embed = cards["cheap-chat"], cards["smart-chat"], cards["mock-chat"], cards["embed"]

    assert cheap.upstream_model == "openai/fake-chat-cheap"
    assert cheap.input_cost_per_1k == pytest.approx(CHEAP_IN * 1000)
    assert cheap.output_cost_per_1k == pytest.approx(CHEAP_OUT * 1000)
    assert cheap.pricing_source == "proxy"
    assert cheap.context_window == 16000
    assert cheap.max_output_tokens == 4096
    assert cheap.supports_function_calling is True
    assert cheap.model_id

    assert smart.input_cost_per_1k == pytest.approx(SMART_IN * 1000)
    assert smart.output_cost_per_1k == pytest.approx(SMART_OUT * 1000)
    assert smart.context_window == 128000
    assert smart.supports_vision is True
    assert smart.supports_reasoning is True
    assert smart.rate_limits == {"requests_per_minute": 60}
    assert {"general", "tools", "vision", "reasoning"} <= set(smart.task_types)

    # mock-chat knows nothing itself: its price and window come from LiteLLM's local cost map.
    assert mock.upstream_model == "openai/gpt-4o-mini"
    assert mock.pricing_source == "proxy"
    assert mock.input_cost_per_1k is not None
    assert mock.input_cost_per_1k > 0
    assert mock.context_window is not None
    assert mock.context_window > 0

    assert embed.mode == "embedding"
    assert "embed" not in provider.get_supported_models()
    assert {"cheap-chat", "smart-chat", "mystery-chat"} <= set(provider.get_supported_models())

    assert provider.calculate_cost(1000, 2000, "smart-chat") == pytest.approx(1000 * SMART_IN + 2000 * SMART_OUT)
    assert provider.calculate_cost(1000, 2000, "cheap-chat") < provider.calculate_cost(1000, 2000, "smart-chat")

    available = await provider.get_available_models()
    assert {"cheap-chat", "smart-chat", "embed"} <= {m["id"] for m in available}


async def test_rate_limit_carries_retry_after(provider: LiteLLMProvider, proxy_version: tuple[int, int, int]) -> None:
    # An older proxy drops the upstream's wait: None, never a made-up number.
    wait = RETRY_AFTER_SECONDS if proxy_version >= PASSES_RETRY_AFTER else None
    with pytest.raises(RateLimitError) as caught:
        await provider.chat_completion(HELLO, "ratelimited-chat")
    err = caught.value
    assert err.retry_after == wait
    assert err.status_code == 429
    assert err.retryable is True
    assert err.model == "ratelimited-chat"
    assert err.call_id

    # Before the first chunk, a stream fails the same way.
    with pytest.raises(RateLimitError) as streamed:
        async for _ in provider.stream_chat_completion(HELLO, "ratelimited-chat"):
            pass
    assert streamed.value.retry_after == wait


async def test_upstream_500_is_unavailable_and_retryable(provider: LiteLLMProvider) -> None:
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.chat_completion(HELLO, "broken-chat")
    assert caught.value.status_code == 500
    assert caught.value.retryable is True
    assert "upstream exploded" in str(caught.value)


async def test_wrong_key_is_an_authentication_error_and_unhealthy(litellm_proxy: LiteLLMProxy) -> None:
    wrong = "sk-wrong-" + "x" * 12
    async with LiteLLMProvider(litellm_proxy.base_url, wrong) as provider:
        with pytest.raises(AuthenticationError) as caught:
            await provider.chat_completion(HELLO, "cheap-chat")
        assert await provider.health_check() is False
        assert provider.last_health_error is not None
        assert "LITELLM_API_KEY" in provider.last_health_error
    assert caught.value.retryable is False
    assert "LITELLM_API_KEY" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in repr(caught.value)
    assert wrong not in provider.last_health_error


async def test_unknown_model_is_model_not_found(provider: LiteLLMProvider) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        await provider.chat_completion(HELLO, "no-such-model")
    assert caught.value.retryable is False
    assert caught.value.model == "no-such-model"


async def test_context_window_and_content_policy_errors(provider: LiteLLMProvider) -> None:
    too_long = [{"role": "user", "content": "word " * (TINY_CONTEXT_WORDS + 20)}]
    with pytest.raises(ContextWindowExceededError):
        await provider.chat_completion(too_long, "tiny-chat")
    with pytest.raises(ContentPolicyError):
        await provider.chat_completion(HELLO, "policy-chat")


async def test_mid_stream_error_frame_raises_after_first_chunk(provider: LiteLLMProvider) -> None:
    received: list[dict[str, Any]] = []
    with pytest.raises(ProviderUnavailableError) as caught:
        async for chunk in provider.stream_chat_completion(HELLO, "midstream-chat"):
            received.append(chunk)
    assert len(received) == 1
    assert received[0]["choices"][0]["delta"]["content"] == "echo:"
    assert "mid-stream" in str(caught.value)
    assert "upstream died mid-stream" in str(caught.value)
    assert caught.value.call_id


async def test_leaving_a_stream_early_releases_the_connection(litellm_proxy: LiteLLMProxy) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with (
        httpx.AsyncClient(limits=limits, timeout=10) as client,
        LiteLLMProvider(litellm_proxy.base_url, litellm_proxy.master_key, http_client=client) as provider,
    ):
        for _ in range(3):
            stream = provider.stream_chat_completion(HELLO, "mock-chat")
            async for _chunk in stream:
                break
            await stream.aclose()
        # With a single-connection pool, a leaked response would make this wait forever (timeout).
        response = await provider.chat_completion(HELLO, "cheap-chat")
    assert response.choices[0].message.content == "echo: hello there friend"


async def test_embeddings_with_usage_and_cost(provider: LiteLLMProvider) -> None:
    result = await provider.embeddings(["hello world", "x"], "embed")
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == [11.0, 0.5, -0.25]
    assert result.usage is not None
    assert result.usage.prompt_tokens == 3
    assert result.router_metadata.cost_source == "proxy"
    assert result.router_metadata.estimated_cost == pytest.approx(3 * EMBED_IN, rel=1e-9)


async def test_health_check_is_cheap_and_true(provider: LiteLLMProvider, fake_upstream: FakeUpstream) -> None:
    before = len(fake_upstream.requests)
    assert await provider.health_check() is True
    assert provider.last_health_error is None
    assert len(fake_upstream.requests) == before  # no model was called


async def test_unreachable_proxy_is_unavailable_and_unhealthy() -> None:
    async with LiteLLMProvider(f"http://127.0.0.1:{free_port()}", "sk-anything") as provider:
        assert await provider.health_check() is False
        assert provider.last_health_error is not None
        assert "not reachable" in provider.last_health_error
        with pytest.raises(ProviderUnavailableError) as caught:
            await provider.chat_completion(HELLO, "cheap-chat")
    assert caught.value.retryable is True


async def test_deep_model_health_names_unhealthy_models(
    provider: LiteLLMProvider, proxy_version: tuple[int, int, int]
) -> None:
    results = await provider.model_health()
    if proxy_version < NEWER_REPLIES:
        # No model_id in an older proxy's /health: each result names its upstream model only,
        # and no card is marked (an unnamed result is never pinned on the wrong model).
        by_upstream = {r.upstream_model: r for r in results}
        assert all(r.model_name is None and r.model_id is None for r in results)
        assert by_upstream["openai/fake-chat-cheap"].healthy is True
        assert by_upstream["openai/fake-broken"].healthy is False
        assert by_upstream["openai/fake-ratelimit"].healthy is False
        assert all(card.healthy is None for card in provider.model_cards())
        return
    by_name = {r.model_name: r for r in results}
    assert by_name["cheap-chat"].healthy is True
    assert by_name["ratelimited-chat"].healthy is False
    assert by_name["broken-chat"].healthy is False
    error = by_name["broken-chat"].error
    assert error is not None
    assert "\n" not in error
    card = provider.get_model_info("broken-chat")
    assert card is not None
    assert card.healthy is False
    healthy_card = provider.get_model_info("cheap-chat")
    assert healthy_card is not None
    assert healthy_card.healthy is True


async def test_missing_key_says_to_set_it(litellm_proxy: LiteLLMProxy, proxy_version: tuple[int, int, int]) -> None:
    async with LiteLLMProvider(litellm_proxy.base_url, None) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.chat_completion(HELLO, "cheap-chat")
        assert await provider.health_check() is False
    assert caught.value.retryable is False
    if proxy_version >= NEWER_REPLIES:  # a bare 500: we add the hint
        assert isinstance(caught.value, ProviderUnavailableError)
        assert "LITELLM_API_KEY" in str(caught.value)
    else:  # the proxy says so itself
        assert isinstance(caught.value, AuthenticationError)
        assert "No api key passed in" in str(caught.value)


async def test_health_check_reads_the_proxys_version_and_finds_it_tested(
    provider: LiteLLMProvider, proxy_version: tuple[int, int, int], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="muxer_litellm"):
        assert await provider.health_check() is True
    assert provider.proxy_version is not None
    assert parse_version(provider.proxy_version) == proxy_version
    assert [r.getMessage() for r in caplog.records if r.name == "muxer_litellm"] == []
