"""Odd values from the proxy or the caller never escape as a raw exception, a secret or an
unprintable message: each case here once raised something other than a ProviderError."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from muxer_litellm import BadRequestError, LiteLLMProvider, ProviderError, RateLimitError
from muxer_litellm.host import MessageInput
from tests.unit.replies import API_KEY, chunk, deployment, model_info, sse

MODEL = "gpt-test"
HELLO: list[MessageInput] = [{"role": "user", "content": "hi"}]
DEEP = b"[" * 100_000 + b"]" * 100_000
STREAM = {"content-type": "text/event-stream"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://proxy.test:abc"])
def test_a_base_url_with_an_invalid_port_is_refused_at_once(url: str) -> None:
    with pytest.raises(ValueError, match="invalid port"):
        LiteLLMProvider(url, API_KEY)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -1, "completion_tokens": 1},
        {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": -3},
        {"prompt_tokens": 10**400, "completion_tokens": 1},
        {"prompt_tokens": True, "completion_tokens": 1},
    ],
    ids=["negative", "negative-total", "huge", "bool"],
)
async def test_a_stream_usage_we_cannot_bill_on_leaves_the_cost_unknown(
    proxy: respx.MockRouter, provider: LiteLLMProvider, usage: dict[str, object]
) -> None:
    body = sse(chunk("Hi"), {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": usage})
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, content=body, headers=STREAM))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=model_info()))
    stream = provider.stream_chat_completion(HELLO, MODEL)
    chunks = [c async for c in stream]
    assert chunks[-1]["router_metadata"]["cost_source"] == "unknown"
    assert stream.cost is None
    if usage.get("total_tokens") != -3:
        assert stream.usage is None


def test_huge_token_counts_are_a_value_error(provider: LiteLLMProvider) -> None:
    provider.add_custom_model(MODEL, pricing={"input": 0.001, "output": 0.002})
    with pytest.raises(ValueError, match="input_tokens"):
        provider.calculate_cost(10**400, 0, MODEL)


#: A sound deployment; each case below spoils one field of it.
SOUND = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "max_input_tokens": 128_000}


@pytest.mark.parametrize(
    ("info", "pricing_source", "context_window", "input_cost_per_1k"),
    [
        ({"pricing_overrides": [{"a": 1}]}, "proxy", 128_000, 0.001),  # the override is ignored
        ({"max_input_tokens": 10**400}, "proxy", None, 0.001),  # the window is unknown
        ({"input_cost_per_token": 10**400}, "unknown", 128_000, None),  # the price is unknown
    ],
    ids=["unhashable-override", "huge-window", "huge-price"],
)
async def test_odd_model_info_values_are_unknown_not_a_crash(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    info: dict[str, object],
    pricing_source: str,
    context_window: int | None,
    input_cost_per_1k: float | None,
) -> None:
    reply = model_info(deployment(MODEL, **{**SOUND, **info}))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=reply))
    [card] = await provider.refresh_models()
    assert card.name == MODEL
    assert card.pricing_source == pricing_source
    assert card.context_window == context_window
    assert card.input_cost_per_1k == (None if input_cost_per_1k is None else pytest.approx(input_cost_per_1k))


@pytest.mark.parametrize("status", [200, 500])
async def test_json_nested_deeper_than_python_parses_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, status: int
) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(status, content=DEEP))
    with pytest.raises(ProviderError):
        await provider.chat_completion(HELLO, MODEL)


async def test_a_stream_frame_nested_too_deep_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    body = b"data: " + DEEP + b"\n\n"
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, content=body, headers=STREAM))
    with pytest.raises(ProviderError, match="not JSON"):
        async for _ in provider.stream_chat_completion(HELLO, MODEL):
            pass


async def test_an_absurd_retry_after_date_is_ignored(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    reply = httpx.Response(
        429,
        json={"error": {"message": "slow"}},
        headers={"retry-after": "Mon, 01 Jan 2020 99999999999999999999:00:00 GMT"},
    )
    proxy.post("/v1/chat/completions").mock(return_value=reply)
    with pytest.raises(RateLimitError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert caught.value.retry_after is None


@pytest.mark.parametrize("frame", [f"invalid key {API_KEY}", f'["{API_KEY}"]'], ids=["not-json", "not-an-object"])
async def test_a_key_echoed_in_a_broken_stream_frame_is_redacted(
    proxy: respx.MockRouter, provider: LiteLLMProvider, frame: str
) -> None:
    body = f"data: {frame}\n\n".encode()
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, content=body, headers=STREAM))
    with pytest.raises(ProviderError) as caught:
        async for _ in provider.stream_chat_completion(HELLO, MODEL):
            pass
    assert API_KEY not in str(caught.value)
    assert "***" in str(caught.value)


async def test_a_field_name_with_a_lone_surrogate_is_named_printably(provider: LiteLLMProvider) -> None:
    with pytest.raises(BadRequestError) as caught:
        await provider.chat_completion([{"role": "user", "content": "x", "\ud800": 1}], MODEL)  # type: ignore[dict-item]
    message = str(caught.value)
    message.encode("utf-8")  # printable: no lone surrogate in the message itself
    assert "\\ud800" in message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"pricing": None}, "pricing"), ({"pricing": [1, 2]}, "pricing"), ({"metadata": [1]}, "metadata")],
)
def test_add_custom_model_names_a_bad_argument(
    provider: LiteLLMProvider, kwargs: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {"pricing": {"input": 0.001, "output": 0.002}, **kwargs}
    with pytest.raises(ValueError, match=field):
        provider.add_custom_model("cm", **args)  # type: ignore[arg-type]


async def test_closing_a_stream_another_task_is_reading_says_so_and_keeps_it_open(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    release = asyncio.Event()

    async def slow_body():  # type: ignore[no-untyped-def]
        yield sse(chunk("Hi"), done=False)
        await release.wait()
        yield sse(chunk(" there"))

    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, content=slow_body(), headers=STREAM))
    stream = provider.stream_chat_completion(HELLO, MODEL)
    await anext(stream)
    reader = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match="being read by another task"):
        await stream.aclose()
    assert stream.closed is False
    release.set()
    assert (await reader)["choices"][0]["delta"]["content"] == " there"
    await stream.aclose()
    assert stream.closed is True
