"""``muxer_litellm.testing``: the in-process FakeProvider that tests, the demo and users share;
and the demo's native provider, a configuration of it."""

from __future__ import annotations

import asyncio
import inspect
import math
from typing import Any

import pytest

from muxer_litellm import (
    BadRequestError,
    ModelNotFoundError,
    ProviderClosedError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm._stream import ChatStream
from muxer_litellm.demo.native import DEMO_NATIVE_MODELS, LocalModel, LocalProvider
from muxer_litellm.host import CatalogProvider, HealthReporter, LLMProvider, TokenCounter
from muxer_litellm.routing import estimate_prompt_tokens
from muxer_litellm.testing import BareFakeProvider, FakeCall, FakeProvider, MidStreamError, model_card

MESSAGES: list[Any] = [{"role": "user", "content": "What is the capital of France?"}]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(
        choice.get("delta", {}).get("content") or "" for chunk in chunks for choice in chunk.get("choices", [])
    )


def test_it_implements_the_host_contract_and_every_routing_seam() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)})
    assert isinstance(fake, LLMProvider)
    assert isinstance(fake, CatalogProvider)
    assert isinstance(fake, TokenCounter)
    assert isinstance(fake, HealthReporter)


def test_the_bare_variant_has_no_catalog_or_counter() -> None:
    bare = BareFakeProvider("b", {"m": (0.001, 0.002)})
    assert not isinstance(bare, FakeProvider)
    assert not isinstance(bare, CatalogProvider)
    assert not isinstance(bare, TokenCounter)
    assert isinstance(bare, HealthReporter)


async def test_the_bare_variant_streams_a_plain_async_generator_of_the_same_chunks() -> None:
    bare = BareFakeProvider("b", {"m": (0.001, 0.002)}, replies={"m": "one two"}, prompt_tokens=3)
    stream = bare.stream_chat_completion(MESSAGES, "m")
    assert not isinstance(stream, ChatStream)
    assert inspect.isasyncgen(stream)
    chunks = [chunk async for chunk in stream]
    assert text_of(chunks) == "one two"
    assert chunks[-1]["usage"]["prompt_tokens"] == 3
    assert chunks[-1]["router_metadata"]["selected_provider"] == "b"
    wrapped = ChatStream.wrap(bare.stream_chat_completion(MESSAGES, "m"))  # what routing does with it
    assert text_of([c async for c in wrapped]) == "one two"
    assert wrapped.metadata is not None
    assert wrapped.metadata.selected_model == "m"


def test_models_come_as_prices_unknown_prices_or_cards() -> None:
    vision = model_card("eyes", 0.002, 0.008, supports_vision=True, context_window=128_000, tier=2)
    fake = FakeProvider("f", {"priced": (0.001, 0.002), "mystery": None, "eyes": vision})
    assert fake.get_supported_models() == ["priced", "mystery", "eyes"]
    cards = {c.name: c for c in fake.model_cards()}
    assert (cards["priced"].input_cost_per_1k, cards["priced"].pricing_source) == (0.001, "custom")
    assert (cards["mystery"].price_known, cards["mystery"].pricing_source) == (False, "unknown")
    assert cards["eyes"] is vision
    assert fake.calculate_cost(1000, 500, "priced") == pytest.approx(0.002)
    assert fake.calculate_cost(1000, 500, "mystery") == math.inf  # unknown: never "cheapest"
    assert fake.calculate_cost(1, 1, "nope") == math.inf
    with pytest.raises(ValueError, match="token counts"):
        fake.calculate_cost(-1, 0, "priced")


def test_non_chat_cards_are_not_listed_for_chat() -> None:
    fake = FakeProvider("f", [model_card("chat", 0.1, 0.2), model_card("embed", 0.1, 0.0, mode="embedding")])
    assert fake.get_supported_models() == ["chat"]
    assert [c.name for c in fake.model_cards()] == ["chat", "embed"]


async def test_a_call_answers_with_usage_and_its_catalog_cost() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)}, replies={"m": "Paris."})
    response = await fake.chat_completion(MESSAGES, "m", max_tokens=50, temperature=0.2, tools=[])
    assert response.choices[0].message.content == "Paris."
    assert response.usage is not None
    prompt, completion = estimate_prompt_tokens(MESSAGES), math.ceil(len("Paris.") / 4)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (prompt, completion)
    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model, meta.cost_source) == ("f", "m", "catalog")
    assert meta.estimated_cost == pytest.approx((prompt * 0.001 + completion * 0.002) / 1000)
    assert meta.total_cost == meta.estimated_cost  # a direct call is the whole request
    assert fake.calls == [FakeCall("m", {"max_tokens": 50, "temperature": 0.2, "tools": []})]
    assert fake.calls[0].model == "m"


async def test_an_unknown_price_is_an_unknown_cost_never_zero() -> None:
    fake = FakeProvider("f", {"m": None}, prompt_tokens=10, completion_tokens=20)
    meta = (await fake.chat_completion(MESSAGES, "m")).router_metadata
    assert (meta.estimated_cost, meta.total_cost, meta.cost_source) == (None, None, "unknown")


async def test_the_script_is_followed_call_by_call_and_its_last_outcome_repeats() -> None:
    error = ProviderUnavailableError("503", 503)
    fake = FakeProvider("f", {"m": (0.001, 0.002)}, script={"m": ["one", error, "three"]})
    assert (await fake.chat_completion(MESSAGES, "m")).choices[0].message.content == "one"
    with pytest.raises(ProviderUnavailableError) as raised:
        await fake.chat_completion(MESSAGES, "m")
    assert raised.value is error
    for _ in range(3):
        assert (await fake.chat_completion(MESSAGES, "m")).choices[0].message.content == "three"
    assert fake.call_count("m") == 5
    assert fake.call_count() == 5


async def test_unknown_models_closed_providers_and_stream_true_are_typed_errors() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)})
    with pytest.raises(ModelNotFoundError, match="f has no model 'x' \\(has: m\\)") as missing:
        await fake.chat_completion(MESSAGES, "x")
    assert (missing.value.status_code, missing.value.model) == (404, "x")
    with pytest.raises(BadRequestError, match="stream_chat_completion"):
        await fake.chat_completion(MESSAGES, "m", stream=True)
    await fake.aclose()
    assert fake.closed is True
    with pytest.raises(ProviderClosedError, match="f was closed"):
        await fake.chat_completion(MESSAGES, "m")


async def test_a_stream_is_a_chat_stream_of_words_then_usage_with_typed_results() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)}, replies={"m": "The capital is Paris."}, prompt_tokens=7)
    stream = fake.stream_chat_completion(MESSAGES, "m")
    assert isinstance(stream, ChatStream)
    chunks = [chunk async for chunk in stream]

    assert text_of(chunks) == "The capital is Paris."
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}
    assert stream.usage is not None
    assert stream.usage.total_tokens == 13
    assert stream.metadata is not None
    assert stream.metadata.model_dump(mode="json") == chunks[-1]["router_metadata"]
    assert stream.cost == pytest.approx((7 * 0.001 + 6 * 0.002) / 1000)
    assert fake.stream_calls == ["m"]
    assert fake.open_streams == 0


async def test_a_stream_without_metadata_still_reports_usage() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)}, stream_metadata=False, prompt_tokens=3, completion_tokens=4)
    stream = fake.stream_chat_completion(MESSAGES, "m")
    chunks = [chunk async for chunk in stream]
    assert all("router_metadata" not in c for c in chunks)
    assert stream.metadata is None
    assert stream.usage is not None
    assert stream.usage.total_tokens == 7


async def test_scripted_stream_errors_come_on_the_first_read_or_mid_stream() -> None:
    dropped = ProviderUnavailableError("dropped", 502)
    fake = FakeProvider(
        "f",
        {"m": (0.001, 0.002)},
        script={"m": [RateLimitError("429", retry_after=3), MidStreamError(dropped, after_chunks=2)]},
        replies={"m": "one two three"},
    )
    stream = fake.stream_chat_completion(MESSAGES, "m")  # opening never raises: reading does
    with pytest.raises(RateLimitError):
        await anext(stream)

    received: list[dict[str, Any]] = []
    with pytest.raises(ProviderUnavailableError) as raised:
        async for chunk in fake.stream_chat_completion(MESSAGES, "m"):
            received.append(chunk)
    assert raised.value is dropped
    assert text_of(received) == "one two"
    assert fake.open_streams == 0


async def test_closing_a_stream_early_is_counted() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)}, replies={"m": "a b c d"})
    async with fake.stream_chat_completion(MESSAGES, "m") as stream:
        await anext(stream)
        assert fake.open_streams == 1
    assert fake.open_streams == 0


async def test_a_hold_keeps_calls_in_flight_until_released() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)})
    release = fake.hold("m")
    calls = [asyncio.ensure_future(fake.chat_completion(MESSAGES, "m")) for _ in range(3)]
    await fake.wait_for_calls(3)
    await asyncio.sleep(0)
    assert not any(c.done() for c in calls)
    release.set()
    responses = await asyncio.gather(*calls)
    assert len(responses) == 3


async def test_latency_per_model_waits_that_long() -> None:
    fake = FakeProvider("f", {"slow": (0.001, 0.002), "fast": (0.001, 0.002)}, latency={"slow": 0.05})
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fake.chat_completion(MESSAGES, "fast")
    fast = loop.time() - started
    started = loop.time()
    await fake.chat_completion(MESSAGES, "slow")
    assert loop.time() - started >= 0.05 > fast


async def test_catalog_seams_count_their_use() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)}, exact_tokens=42)
    assert [c.name for c in await fake.refresh_models(force=True)] == ["m"]
    assert fake.refreshes == 1
    assert await fake.count_tokens(MESSAGES, "m", timeout_seconds=0.5) == 42
    fake.exact_tokens = None
    assert await fake.count_tokens(MESSAGES, "m") == estimate_prompt_tokens(MESSAGES)
    assert fake.token_counts == ["m", "m"]
    fake.set_models({"n": (0.1, 0.2)})
    assert fake.get_supported_models() == ["n"]


async def test_health_check_and_its_reason() -> None:
    fake = FakeProvider("f", {"m": (0.001, 0.002)}, healthy=False, health_error="HTTP 503 from /health")
    assert await fake.health_check() is False
    assert fake.last_health_error == "HTTP 503 from /health"
    fake.healthy = True
    assert await fake.health_check() is True
    assert fake.last_health_error is None
    assert fake.health_checks == 2


# ---------------------------------------------------------------------------- the demo's native provider


async def test_the_demo_native_provider_is_a_bare_fake_named_native_with_canned_replies() -> None:
    native = LocalProvider()
    assert isinstance(native, BareFakeProvider)
    assert native.provider_name == "native"
    assert native.get_supported_models() == list(DEMO_NATIVE_MODELS)
    for name, spec in DEMO_NATIVE_MODELS.items():
        assert native.models[name].upstream == spec.upstream
        response = await native.chat_completion(MESSAGES, name)
        assert response.choices[0].message.content == spec.reply
        assert response.usage is not None
        expected = (
            response.usage.prompt_tokens * spec.input_per_1k + response.usage.completion_tokens * spec.output_per_1k
        ) / 1000
        assert response.router_metadata.estimated_cost == pytest.approx(expected)
        assert response.router_metadata.cost_source == "catalog"


def test_the_demo_native_provider_refuses_a_negative_price_or_an_empty_reply() -> None:
    with pytest.raises(ValueError, match="prices >= 0 and a non-empty reply"):
        LocalProvider({"m": LocalModel("up/m", -0.1, 0.1, "hi")})
    with pytest.raises(ValueError, match="prices >= 0 and a non-empty reply"):
        LocalProvider({"m": LocalModel("up/m", 0.1, 0.1, "")})
