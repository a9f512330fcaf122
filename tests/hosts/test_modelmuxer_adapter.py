"""``LiteLLMAdapter`` against ModelMuxer's real adapter contract, the proxy mocked with respx:
what is sent, what ModelMuxer gets back, and which ModelMuxer error each failure becomes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import BaseModel

import muxer_litellm
from muxer_litellm import LiteLLMProvider
from tests.hosts.conftest import ModelMuxer
from tests.unit.replies import API_KEY, BASE_URL, chat_body, chunk, deployment, error_body, final_chunk, model_info, sse


@pytest.fixture
def proxy() -> Any:
    with respx.mock(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True, using="httpx") as router:
        router.get("/model/info").respond(json=model_info())  # pricing a call without a cost header reads it
        yield router


@pytest.fixture
async def adapter(modelmuxer: ModelMuxer, proxy: respx.MockRouter) -> AsyncIterator[Any]:
    a = modelmuxer.hosts.LiteLLMAdapter(LiteLLMProvider(BASE_URL, API_KEY))
    yield a
    await a.aclose()


def sent(proxy: respx.MockRouter) -> dict[str, Any]:
    posts = [c.request for c in proxy.calls if c.request.method == "POST"]
    body: dict[str, Any] = json.loads(posts[-1].content)
    return body


def host_message(mm: ModelMuxer, **fields: Any) -> Any:
    return mm.module("app.models").ChatMessage(**fields)


def test_it_is_a_modelmuxer_adapter(modelmuxer: ModelMuxer, adapter: Any) -> None:
    base = modelmuxer.module("app.providers.base")
    assert isinstance(adapter, base.LLMProviderAdapter)
    assert adapter.supports_streaming()
    with pytest.raises(TypeError, match="not both"):
        modelmuxer.hosts.LiteLLMAdapter(LiteLLMProvider(BASE_URL), base_url=BASE_URL)


async def test_invoke_takes_modelmuxer_messages_and_returns_a_provider_response(
    modelmuxer: ModelMuxer, adapter: Any, proxy: respx.MockRouter
) -> None:
    tool_call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    proxy.post("/v1/chat/completions").respond(
        json=chat_body("Paris.", prompt_tokens=12, completion_tokens=3),
        headers={"x-litellm-response-cost": "0.00042", "x-litellm-call-id": "call-abc", "x-litellm-model-id": "dep-1"},
    )

    class Custom(BaseModel):  # any pydantic model with the chat fields
        role: str
        content: str

    messages = [
        host_message(modelmuxer, role="system", content="Be brief."),
        host_message(modelmuxer, role="assistant", content=None, tool_calls=[tool_call]),
        host_message(modelmuxer, role="tool", content="42", tool_call_id="call_1", name="f"),
        Custom(role="user", content="Capital of France?"),
        {"role": "user", "content": "Answer in one word."},
    ]
    response = await adapter.invoke("cheap", messages, temperature=0.2, max_tokens=50)
    assert isinstance(response, modelmuxer.module("app.providers.base").ProviderResponse)
    assert (response.output_text, response.tokens_in, response.tokens_out) == ("Paris.", 12, 3)
    assert response.finish_reason == "stop"
    assert response.tool_calls is None
    assert response.error is None
    assert response.latency_ms >= 0
    assert response.raw["cost"] == pytest.approx(0.00042)
    assert (response.raw["cost_source"], response.raw["call_id"], response.raw["model_id"]) == (
        "proxy",
        "call-abc",
        "dep-1",
    )
    assert response.raw["usage"].total_tokens == 15
    body = sent(proxy)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "tool_calls": [tool_call]},
        {"role": "tool", "content": "42", "tool_call_id": "call_1", "name": "f"},
        {"role": "user", "content": "Capital of France?"},
        {"role": "user", "content": "Answer in one word."},
    ]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("cheap", 0.2, 50)


async def test_only_parameters_the_proxy_understands_are_forwarded(adapter: Any, proxy: respx.MockRouter) -> None:
    proxy.post("/v1/chat/completions").respond(json=chat_body("ok"))
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    # What ModelMuxer's chat route passes: every non-None field of its request model.
    await adapter.invoke(
        "cheap",
        [{"role": "user", "content": "hi"}],
        temperature=0.7,
        top_p=0.5,
        n=1,
        stop=["zzz"],
        user="u-1",
        tools=tools,
        tool_choice="auto",
        region="eu",
        max_budget=0.5,
        session_id="s-1",
        cascade_config={"cascade_type": "balanced"},
        enable_analytics=True,
        routing_preference="cost",
        logit_bias=None,
    )
    body = sent(proxy)
    assert {k: body[k] for k in ("top_p", "stop", "user", "tools", "tool_choice")} == {
        "top_p": 0.5,
        "stop": ["zzz"],
        "user": "u-1",
        "tools": tools,
        "tool_choice": "auto",
    }
    for dropped in ("n", "region", "max_budget", "session_id", "cascade_config", "enable_analytics", "logit_bias"):
        assert dropped not in body
    assert "routing_preference" not in body


async def test_tool_calls_and_content_parts(adapter: Any, proxy: respx.MockRouter) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
    proxy.post("/v1/chat/completions").respond(json=chat_body(None, tool_calls=[call], finish_reason="tool_calls"))
    response = await adapter.invoke("cheap", [{"role": "user", "content": "weather?"}])
    assert (response.output_text, response.tool_calls, response.finish_reason) == ("", [call], "tool_calls")

    parts = [
        {"type": "text", "text": "a"},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "b"},
    ]
    proxy.post("/v1/chat/completions").respond(
        json=chat_body(None)
        | {"choices": [{"index": 0, "message": {"role": "assistant", "content": parts}, "finish_reason": "stop"}]}
    )
    assert (await adapter.invoke("cheap", [{"role": "user", "content": "x"}])).output_text == "ab"


async def test_no_usage_means_zero_tokens_and_says_so(adapter: Any, proxy: respx.MockRouter) -> None:
    proxy.post("/v1/chat/completions").respond(json=chat_body("ok", usage=False))
    response = await adapter.invoke("cheap", [{"role": "user", "content": "hi"}])
    assert (response.tokens_in, response.tokens_out) == (0, 0)
    assert response.raw["usage"] is None
    assert response.raw["cost"] is None
    assert response.raw["cost_source"] == "unknown"


@pytest.mark.parametrize(
    ("status", "body", "headers", "host_class", "host_status"),
    [
        (
            429,
            error_body("slow down", "rate_limit_error", "429"),
            {"llm_provider-retry-after": "7"},
            "RateLimitError",
            429,
        ),
        (400, error_body("No connected db.", "no_db_connection", "400"), {}, "AuthenticationError", 401),
        (401, error_body("Authentication Error", "auth_error", "401"), {}, "AuthenticationError", 401),
        (404, error_body("model not found", "not_found", "404"), {}, "ModelNotFoundError", 404),
        (500, error_body("upstream exploded", "server_error", "500"), {}, "ProviderError", 500),
        (400, error_body("bad thing", "invalid_request_error", "400"), {}, "ProviderError", 400),
    ],
)
async def test_errors_are_modelmuxer_errors(
    modelmuxer: ModelMuxer,
    adapter: Any,
    proxy: respx.MockRouter,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    host_class: str,
    host_status: int,
) -> None:
    base = modelmuxer.module("app.providers.base")
    proxy.post("/v1/chat/completions").respond(status, json=body, headers={"x-litellm-call-id": "call-9", **headers})
    with pytest.raises(base.ProviderError) as info:
        await adapter.invoke("cheap", [{"role": "user", "content": "hi"}])
    error = info.value
    assert type(error) is getattr(base, host_class)
    assert error.status_code == host_status
    assert error.provider == "litellm"
    assert error.call_id == "call-9"
    assert isinstance(error.__cause__, muxer_litellm.ProviderError)
    assert error.retryable == error.__cause__.retryable
    if host_class == "RateLimitError":
        assert error.retry_after == 7
        assert "retry after 7s" in str(error)
        assert isinstance(error.__cause__, muxer_litellm.RateLimitError)


async def test_bad_input_is_a_modelmuxer_error_naming_it(modelmuxer: ModelMuxer, adapter: Any) -> None:
    base = modelmuxer.module("app.providers.base")
    with pytest.raises(base.ProviderError, match=r"messages\[1\] must be a ChatMessage, a pydantic model or a mapping"):
        await adapter.invoke("cheap", [{"role": "user", "content": "hi"}, 42])
    with pytest.raises(base.ProviderError, match="messages must be a list"):
        await adapter.invoke("cheap", "hi")
    with pytest.raises(base.ProviderError, match=r"n=2 is not supported") as info:
        await adapter.invoke("cheap", [{"role": "user", "content": "hi"}], n=2)
    assert isinstance(info.value.__cause__, muxer_litellm.BadRequestError)


async def test_native_stream_with_usage_and_cost(modelmuxer: ModelMuxer, adapter: Any, proxy: respx.MockRouter) -> None:
    proxy.post("/v1/chat/completions").respond(
        content=sse(chunk("Hel"), chunk("lo"), chunk(finish_reason="stop"), final_chunk(5, 2, cost=0.0003)),
        headers={"content-type": "text/event-stream"},
    )
    messages = [host_message(modelmuxer, role="user", content="hi")]
    # The keyword call ModelMuxer's streaming route makes, with its request's extra fields.
    stream = adapter.stream_chat_completion(
        messages=messages, model="cheap", max_tokens=20, temperature=0.7, n=1, region="eu", top_p=0.9
    )
    chunks = [c async for c in stream]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c.get("choices"))
    assert text == "Hello"
    assert chunks[-1]["usage"]["prompt_tokens"] == 5
    assert chunks[-1]["router_metadata"]["estimated_cost"] == pytest.approx(0.0003)
    assert chunks[-1]["router_metadata"]["cost_source"] == "proxy"
    body = sent(proxy)
    assert body["stream"] is True
    assert body["top_p"] == 0.9
    assert "region" not in body


async def test_stream_errors_are_modelmuxer_errors(
    modelmuxer: ModelMuxer, adapter: Any, proxy: respx.MockRouter
) -> None:
    base = modelmuxer.module("app.providers.base")
    proxy.post("/v1/chat/completions").respond(
        content=sse(chunk("Hel"), {"error": {"message": "upstream died", "type": "server_error", "code": "500"}}),
        headers={"content-type": "text/event-stream"},
    )
    got: list[dict[str, Any]] = []
    with pytest.raises(base.ProviderError, match="upstream died"):
        async for c in adapter.invoke_stream("cheap", [{"role": "user", "content": "hi"}]):
            got.append(c)
    assert len(got) == 1
    proxy.post("/v1/chat/completions").respond(429, json=error_body("slow", "rate_limit_error", "429"))
    with pytest.raises(base.RateLimitError):
        async for _ in adapter.invoke_stream("cheap", [{"role": "user", "content": "hi"}]):
            pass


async def test_chat_completion_gives_modelmuxer_models_even_when_the_cost_is_unknown(
    modelmuxer: ModelMuxer, adapter: Any, proxy: respx.MockRouter
) -> None:
    proxy.get("/model/info").respond(json=model_info(deployment("mystery")))
    proxy.post("/v1/chat/completions").respond(json=chat_body("hi there", prompt_tokens=4, completion_tokens=2))
    response = await adapter.chat_completion([host_message(modelmuxer, role="user", content="hi")], "mystery")
    assert isinstance(response, modelmuxer.module("app.models").ChatCompletionResponse)
    assert response.choices[0].message.content == "hi there"
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (4, 6)
    meta = response.router_metadata
    assert meta.estimated_cost == 0.0  # ModelMuxer's model needs a float...
    assert meta.estimated_cost_usd is None  # ...so "unknown" is said here
    assert "cost unknown" in meta.routing_reason

    proxy.post("/v1/chat/completions").respond(json=chat_body("ok"), headers={"x-litellm-response-cost": "0.01"})
    priced = await adapter.chat_completion([{"role": "user", "content": "hi"}], "mystery")
    assert priced.router_metadata.estimated_cost == pytest.approx(0.01)
    assert priced.router_metadata.estimated_cost_usd == pytest.approx(0.01)


async def test_models_are_listed_after_a_background_refresh(adapter: Any, proxy: respx.MockRouter) -> None:
    route = proxy.get("/model/info").respond(json=model_info(deployment("cheap", input_cost=1e-7, output_cost=1e-7)))
    assert adapter.get_supported_models() == []  # ModelMuxer asks synchronously: nothing loaded yet
    for _ in range(3):  # one refresh at a time, however often it asks
        adapter.get_supported_models()
    await asyncio.sleep(0.05)
    assert adapter.get_supported_models() == ["cheap"]
    assert route.call_count == 1


async def test_a_failed_background_refresh_is_logged_not_raised(
    adapter: Any, proxy: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.get("/model/info").mock(side_effect=httpx.ConnectError("refused"))
    assert adapter.get_supported_models() == []
    await asyncio.sleep(0.05)
    assert "could not refresh the LiteLLM model catalog" in caplog.text


async def test_closed_adapter_refuses_calls(modelmuxer: ModelMuxer, proxy: respx.MockRouter) -> None:
    base = modelmuxer.module("app.providers.base")
    adapter = modelmuxer.hosts.LiteLLMAdapter(LiteLLMProvider(BASE_URL, API_KEY))
    await adapter.aclose()
    await adapter.aclose()  # idempotent
    assert adapter.closed
    with pytest.raises(base.ProviderError, match="closed"):
        await adapter.invoke("cheap", [{"role": "user", "content": "hi"}])
    with pytest.raises(base.ProviderError, match="closed"):
        async for _ in adapter.invoke_stream("cheap", [{"role": "user", "content": "hi"}]):
            pass


async def test_concurrent_calls_share_one_adapter(adapter: Any, proxy: respx.MockRouter) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["messages"][-1]["content"]
        return httpx.Response(200, json=chat_body(f"echo {text}"))

    proxy.post("/v1/chat/completions").mock(side_effect=reply)
    results = await asyncio.gather(*(adapter.invoke("cheap", [{"role": "user", "content": str(i)}]) for i in range(50)))
    assert [r.output_text for r in results] == [f"echo {i}" for i in range(50)]


async def test_load_catalog_waits_for_the_catalog(adapter: Any, proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").respond(json=model_info(deployment("cheap", input_cost=1e-7, output_cost=1e-7)))
    assert await adapter.load_catalog(wait=5) is True
    assert adapter.get_supported_models() == ["cheap"]  # no background load needed: listed at once


async def test_load_catalog_on_a_proxy_that_is_down_logs_once_and_keeps_loading(
    modelmuxer: ModelMuxer,
    adapter: Any,
    proxy: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(modelmuxer.hosts, "_RETRY_FIRST", 0.01)
    outcomes: list[Exception | httpx.Response] = [httpx.ConnectError("refused")] * 3
    outcomes.append(httpx.Response(200, json=model_info(deployment("cheap", input_cost=1e-7, output_cost=1e-7))))
    route = proxy.get("/model/info").mock(side_effect=outcomes)
    with caplog.at_level(logging.DEBUG, logger="muxer_litellm.hosts.modelmuxer"):
        assert await adapter.load_catalog(wait=5) is False  # the first attempt failed: start-up goes on
        assert adapter.get_supported_models() == []
        for _ in range(200):
            if adapter.provider.get_supported_models():
                break
            await asyncio.sleep(0.01)
    assert adapter.get_supported_models() == ["cheap"]
    assert route.call_count == 4
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "not loaded at start-up" in warnings[0].getMessage()
    assert "keeps loading them in the background" in warnings[0].getMessage()


async def test_load_catalog_waits_no_longer_than_asked(
    adapter: Any, proxy: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    answered = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await answered.wait()
        return httpx.Response(200, json=model_info(deployment("cheap", input_cost=1e-7, output_cost=1e-7)))

    proxy.get("/model/info").mock(side_effect=slow)
    assert await adapter.load_catalog(wait=0.05) is False
    assert "no answer within 0.05 s" in caplog.text
    answered.set()  # the proxy answers late: the load still in flight completes it
    for _ in range(200):
        if adapter.provider.get_supported_models():
            break
        await asyncio.sleep(0.01)
    assert adapter.get_supported_models() == ["cheap"]


async def test_aclose_stops_the_background_load(
    modelmuxer: ModelMuxer, adapter: Any, proxy: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modelmuxer.hosts, "_RETRY_FIRST", 0.01)
    route = proxy.get("/model/info").mock(side_effect=httpx.ConnectError("refused"))
    assert await adapter.load_catalog(wait=1) is False
    await adapter.aclose()
    calls = route.call_count
    await asyncio.sleep(0.1)
    assert route.call_count == calls  # no retry after close
    assert await adapter.load_catalog(wait=1) is False  # a closed adapter loads nothing


@pytest.mark.parametrize("wait", [-1.0, float("nan")])
def test_install_refuses_a_startup_wait_that_is_no_duration(modelmuxer: ModelMuxer, wait: float) -> None:
    providers = modelmuxer.registry.PROVIDERS
    before = dict(providers)
    with pytest.raises(ValueError, match="startup_wait must be a number of seconds >= 0"):
        modelmuxer.hosts.install(adapter=None, startup_wait=wait)
    assert providers == before
    assert modelmuxer.hosts.installed() == {}
