"""Request shaping and reply parsing for ``LiteLLMProvider.chat_completion``: the body POSTed to
``/v1/chat/completions`` (messages as dicts / ``ChatMessage``s, content shapes, kwargs pass-through),
tool calls and extra fields in the reply, input validation (BadRequestError, no HTTP call) and
malformed 200 replies (plain ProviderError)."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import BadRequestError, ChatMessage, LiteLLMProvider, ProviderError
from muxer_litellm._version import __version__
from muxer_litellm.host import MessageInput
from tests.unit.replies import API_KEY, chat_body

MODEL = "gpt-test"
CALL_ID = "call-chat-1"
# A billed cost keeps the catalog (/model/info) out of these tests.
HEADERS = {"x-litellm-response-cost": "0.00042", "x-litellm-call-id": CALL_ID}
HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]

TOOL_CALL: dict[str, Any] = {
    "id": "call_abc123",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
}


def mock_chat(
    proxy: respx.MockRouter, body: Any = None, *, headers: dict[str, str] | None = None, status: int = 200
) -> respx.Route:
    reply = httpx.Response(status, json=chat_body() if body is None else body, headers=headers or HEADERS)
    return proxy.post("/v1/chat/completions").mock(return_value=reply)


def sent_body(route: respx.Route) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


# ---------------------------------------------------------------------------- request body


async def test_posts_model_messages_max_tokens_and_temperature(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_chat(proxy)
    await provider.chat_completion(HELLO, MODEL, max_tokens=64, temperature=0.2)
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/v1/chat/completions"
    assert sent_body(route) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 64,
        "temperature": 0.2,
    }


async def test_max_tokens_and_temperature_are_omitted_when_none(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_chat(proxy)
    await provider.chat_completion(HELLO, MODEL)
    assert sent_body(route) == {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}


async def test_temperature_zero_is_sent_not_dropped(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_chat(proxy)
    await provider.chat_completion(HELLO, MODEL, temperature=0)
    assert sent_body(route)["temperature"] == 0


async def test_request_headers_carry_user_agent_and_bearer_key(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_chat(proxy)
    await provider.chat_completion(HELLO, MODEL)
    headers = route.calls.last.request.headers
    assert headers["user-agent"].startswith("muxer-litellm/")
    assert headers["user-agent"] == f"muxer-litellm/{__version__}"
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["content-type"] == "application/json"


async def test_dicts_and_chat_messages_can_be_mixed(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_chat(proxy)
    messages: list[MessageInput] = [
        {"role": "system", "content": "be brief"},
        ChatMessage(role="user", content="hi", name="alice"),
        {"role": "assistant", "content": "hello"},
        ChatMessage(role="user", content="again"),
    ]
    await provider.chat_completion(messages, MODEL)
    assert sent_body(route)["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi", "name": "alice"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]


CONTENT_PARTS: list[dict[str, Any]] = [
    {"type": "text", "text": "What is in this picture?"},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
]


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": CONTENT_PARTS},
        ChatMessage(role="user", content=CONTENT_PARTS),
    ],
    ids=["dict", "ChatMessage"],
)
async def test_content_parts_are_sent_unchanged(
    proxy: respx.MockRouter, provider: LiteLLMProvider, message: MessageInput
) -> None:
    route = mock_chat(proxy)
    await provider.chat_completion([message], MODEL)
    assert sent_body(route)["messages"] == [{"role": "user", "content": CONTENT_PARTS}]


@pytest.mark.parametrize(
    ("assistant", "expected"),
    [
        (
            {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
            {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        ),
        (
            ChatMessage(role="assistant", content=None, tool_calls=[TOOL_CALL]),
            {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        ),
        (
            {"role": "assistant", "tool_calls": [TOOL_CALL]},
            {"role": "assistant", "tool_calls": [TOOL_CALL]},
        ),
    ],
    ids=["dict-explicit-null", "ChatMessage-explicit-null", "dict-content-not-given"],
)
async def test_assistant_tool_call_turn_sends_only_the_given_fields(
    proxy: respx.MockRouter, provider: LiteLLMProvider, assistant: MessageInput, expected: dict[str, Any]
) -> None:
    route = mock_chat(proxy)
    messages: list[MessageInput] = [
        {"role": "user", "content": "weather in Paris?"},
        assistant,
        {"role": "tool", "tool_call_id": TOOL_CALL["id"], "content": "18C"},
    ]
    await provider.chat_completion(messages, MODEL)
    sent = sent_body(route)["messages"]
    assert sent[1] == expected
    assert sent[2] == {"role": "tool", "tool_call_id": "call_abc123", "content": "18C"}
    # "content": null really goes out as JSON null when given, and is absent when not.
    raw = route.calls.last.request.content.decode()
    assert ('"content":null' in raw.replace(" ", "")) is ("content" in expected)


async def test_extra_message_fields_are_kept(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_chat(proxy)
    messages: list[MessageInput] = [
        {"role": "user", "content": "long doc", "cache_control": {"type": "ephemeral"}},
        {"role": "assistant", "content": "ok", "reasoning_content": "thought about it"},
        ChatMessage.model_validate({"role": "user", "content": "go", "thinking_blocks": [{"type": "thinking"}]}),
    ]
    await provider.chat_completion(messages, MODEL)
    assert sent_body(route)["messages"] == [
        {"role": "user", "content": "long doc", "cache_control": {"type": "ephemeral"}},
        {"role": "assistant", "content": "ok", "reasoning_content": "thought about it"},
        {"role": "user", "content": "go", "thinking_blocks": [{"type": "thinking"}]},
    ]


async def test_kwargs_pass_through_untouched(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_chat(proxy)
    extras: dict[str, Any] = {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
        "top_p": 0.9,
        "stop": ["\n\n", "END"],
        "seed": 1234,
        "user": "user-42",
        "metadata": {"tags": ["unit"], "trace": {"id": "t-1"}},
        "extra_body": {"guardrails": ["pii"], "nested": {"deep": [1, {"x": None}]}},
    }
    await provider.chat_completion(HELLO, MODEL, max_tokens=10, **extras)
    assert sent_body(route) == {
        **extras,
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 10,
    }


# ---------------------------------------------------------------------------- reply parsing


async def test_tool_call_in_reply_comes_back_intact(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_chat(proxy, chat_body(None, tool_calls=[TOOL_CALL], finish_reason="tool_calls"))
    response = await provider.chat_completion(HELLO, MODEL, tools=[{"type": "function"}])
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant"
    assert choice.message.content is None
    assert choice.message.tool_calls == [TOOL_CALL]
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call["id"] == "call_abc123"
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert isinstance(call["function"]["arguments"], str)


async def test_reply_keeps_id_created_model_object_and_usage(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    prompt, completion = 12, 7
    mock_chat(proxy, chat_body("Paris.", prompt_tokens=prompt, completion_tokens=completion, model="gpt-test-0613"))
    response = await provider.chat_completion(HELLO, MODEL)
    assert response.id == "chatcmpl-unit"
    assert response.created == 1_700_000_000
    assert response.model == "gpt-test-0613"
    assert response.object == "chat.completion"
    assert response.choices[0].message.content == "Paris."
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.prompt_tokens == prompt
    assert response.usage.completion_tokens == completion
    assert response.usage.total_tokens == prompt + completion
    assert response.router_metadata.call_id == CALL_ID
    assert response.router_metadata.selected_model == MODEL


async def test_missing_usage_reads_as_none(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_chat(proxy, chat_body("hi", usage=False))
    response = await provider.chat_completion(HELLO, MODEL)
    assert response.usage is None
    assert response.choices[0].message.content == "hi"


async def test_unknown_reply_fields_do_not_break_parsing(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    body = chat_body("hi")
    body["system_fingerprint"] = "fp_unit"
    body["service_tier"] = "default"
    body["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]
    body["choices"][0]["logprobs"] = None
    body["choices"][0]["message"]["provider_specific_fields"] = {"refusal": None}
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 3}
    mock_chat(proxy, body)
    response = await provider.chat_completion(HELLO, MODEL)
    assert response.choices[0].message.content == "hi"
    assert response.model_extra is not None
    assert response.model_extra["system_fingerprint"] == "fp_unit"
    assert response.model_extra["service_tier"] == "default"
    message_extra = response.choices[0].message.model_extra
    assert message_extra == {"provider_specific_fields": {"refusal": None}}
    assert response.usage is not None
    assert response.usage.total_tokens == 15


# ---------------------------------------------------------------------------- validation


async def test_stream_true_points_to_stream_chat_completion_without_http(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_chat(proxy)
    with pytest.raises(BadRequestError) as caught:
        await provider.chat_completion(HELLO, MODEL, stream=True)
    assert "stream_chat_completion" in str(caught.value)
    assert caught.value.model == MODEL
    assert caught.value.retryable is False
    assert not route.called
    assert len(proxy.calls) == 0


_OK = object()  # "use the valid default" marker for the table below

INVALID_CALLS: list[tuple[Any, Any, Any, Any, dict[str, Any], list[str]]] = [
    # messages, model, max_tokens, temperature, kwargs, fragments the message must contain
    ([], _OK, None, None, {}, ["messages", "non-empty"]),
    ("hello", _OK, None, None, {}, ["messages", "non-empty"]),
    ([{"role": "robot", "content": "x"}], _OK, None, None, {}, ["messages[0]", "role"]),
    ([{"role": "user", "content": "ok"}, {"content": "no role"}], _OK, None, None, {}, ["messages[1]", "role"]),
    ([{"role": "user", "content": "ok"}, 42], _OK, None, None, {}, ["messages[1]", "int"]),
    (_OK, "", None, None, {}, ["model", "''"]),
    (_OK, "  ", None, None, {}, ["model", "'  '"]),
    (_OK, None, None, None, {}, ["model", "None"]),
    (_OK, _OK, 0, None, {}, ["max_tokens", "0"]),
    (_OK, _OK, -1, None, {}, ["max_tokens", "-1"]),
    (_OK, _OK, 1.5, None, {}, ["max_tokens", "1.5"]),
    (_OK, _OK, True, None, {}, ["max_tokens", "True"]),
    (_OK, _OK, None, -0.1, {}, ["temperature", "-0.1"]),
    (_OK, _OK, None, "hot", {}, ["temperature", "'hot'"]),
    (_OK, _OK, None, True, {}, ["temperature", "True"]),
    (_OK, _OK, None, math.inf, {}, ["temperature", "inf"]),
    # chat_completion has a ``stream`` parameter, so stream in **kwargs lands there.
    (_OK, _OK, None, None, {"stream": True}, ["stream_chat_completion"]),
]
INVALID_IDS = [
    "messages-empty",
    "messages-str",
    "message-bad-role",
    "message-missing-role",
    "message-int",
    "model-empty",
    "model-blank",
    "model-none",
    "max_tokens-0",
    "max_tokens-negative",
    "max_tokens-float",
    "max_tokens-bool",
    "temperature-negative",
    "temperature-str",
    "temperature-bool",
    "temperature-inf",
    "kwargs-stream",
]


@pytest.mark.parametrize(
    ("messages", "model", "max_tokens", "temperature", "kwargs", "fragments"), INVALID_CALLS, ids=INVALID_IDS
)
async def test_invalid_input_is_a_bad_request_without_http(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    messages: Any,
    model: Any,
    max_tokens: Any,
    temperature: Any,
    kwargs: dict[str, Any],
    fragments: list[str],
) -> None:
    route = mock_chat(proxy)
    with pytest.raises(BadRequestError) as caught:
        await provider.chat_completion(
            HELLO if messages is _OK else messages,
            MODEL if model is _OK else model,
            max_tokens=max_tokens,
            temperature=temperature,
            **kwargs,
        )
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert caught.value.retryable is False
    assert caught.value.status_code is None
    assert not route.called


@pytest.mark.parametrize("name", ["model", "messages"])
async def test_model_or_messages_twice_never_reaches_the_proxy(
    proxy: respx.MockRouter, provider: LiteLLMProvider, name: str
) -> None:
    route = mock_chat(proxy)
    extra: dict[str, Any] = {name: "duplicate"}
    with pytest.raises(TypeError, match=f"multiple values for argument '{name}'"):
        await provider.chat_completion(HELLO, MODEL, **extra)
    assert not route.called


# ---------------------------------------------------------------------------- malformed replies


def _without(key: str) -> dict[str, Any]:
    body = chat_body()
    del body[key]
    return body


def _choice_without_message() -> dict[str, Any]:
    body = chat_body()
    del body["choices"][0]["message"]
    return body


def _usage(**tokens: Any) -> dict[str, Any]:
    body = chat_body()
    body["usage"].update(tokens)
    return body


@pytest.mark.parametrize(
    "body",
    [
        _without("choices"),
        {**chat_body(), "choices": "not a list"},
        {**chat_body(), "choices": None},
        _choice_without_message(),
        _usage(prompt_tokens=-1),
        _usage(completion_tokens="lots"),
    ],
    ids=[
        "choices-missing",
        "choices-str",
        "choices-null",
        "choice-without-message",
        "usage-negative",
        "usage-string",
    ],
)
async def test_malformed_reply_is_a_plain_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, body: dict[str, Any]
) -> None:
    mock_chat(proxy, body)
    with pytest.raises(ProviderError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert type(caught.value) is ProviderError
    assert "malformed chat completion" in str(caught.value)
    assert caught.value.status_code == 200
    assert caught.value.model == MODEL
    assert caught.value.call_id == CALL_ID


async def test_non_json_200_reply_is_a_provider_error_naming_the_problem(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, text="<html>gateway</html>", headers={"content-type": "text/html"})
    )
    with pytest.raises(ProviderError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert type(caught.value) is ProviderError
    assert "not a JSON object" in str(caught.value)
    assert "<html>gateway</html>" in str(caught.value)
    assert caught.value.status_code == 200


async def test_a_malformed_reply_is_refused_before_any_pricing(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    """Validation comes first: a reply the provider refuses never triggers a catalog refresh."""
    catalog = proxy.get("/model/info").mock(return_value=httpx.Response(200, json={"data": []}))
    body = chat_body()
    del body["choices"]
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ProviderError, match="malformed chat completion"):
        await provider.chat_completion(HELLO, MODEL)
    assert not catalog.called


async def test_the_proxys_own_router_metadata_field_is_replaced(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    body = {**chat_body(), "router_metadata": {"selected_provider": "spoofed"}, "system_fingerprint": "fp_1"}
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=body, headers=HEADERS))
    response = await provider.chat_completion(HELLO, MODEL)
    assert response.router_metadata.selected_provider == "litellm"
    assert response.router_metadata.call_id == CALL_ID
    assert response.router_metadata.cost_source == "proxy"
    assert response.model_extra == {"system_fingerprint": "fp_1"}
