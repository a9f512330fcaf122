"""Request shaping: what the caller passes is checked, and refused with a BadRequestError naming
the field, before anything is sent; a host's own message objects are accepted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from pydantic import BaseModel

from muxer_litellm import BadRequestError, LiteLLMProvider
from muxer_litellm.host import MessageInput
from muxer_litellm.proxy.payload import encode_body, message_dicts

MODEL = "gpt-test"
HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]
REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}


class HostMessage(BaseModel):
    """A host's own pydantic message class (ModelMuxer's ChatMessage has this shape)."""

    role: str
    content: str
    name: str | None = None


@dataclass
class PlainMessage:
    role: str
    content: str | None
    tool_call_id: str | None = None


def test_host_message_objects_become_openai_dicts() -> None:
    out = message_dicts(
        [HostMessage(role="system", content="be brief"), PlainMessage("tool", "42", "call-1")]  # type: ignore[list-item]
    )
    assert out == [
        {"role": "system", "content": "be brief"},
        {"role": "tool", "content": "42", "tool_call_id": "call-1"},
    ]


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (42, "messages[0] must be a ChatMessage, a dict or a message object with role and content, got int"),
        (HostMessage(role="robot", content="x"), "messages[0] is invalid: role:"),
        ({"content": "no role"}, "messages[0] is invalid: role: Field required"),
    ],
    ids=["int", "bad-role-object", "missing-role"],
)
def test_unusable_messages_are_named(message: Any, says: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        message_dicts([message])
    assert says in str(caught.value)
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"messages": [{"role": "user", "content": "a\ud800b"}]}, "messages[0].content has a lone surrogate"),
        ({"metadata": {"x": object()}}, "metadata.x is a object, which is not JSON-serialisable"),
        ({"metadata": {"tags": [1, {2, 3}]}}, "metadata.tags[1] is a set"),
        ({"temperature": float("nan")}, "temperature is nan, which JSON cannot carry"),
        ({"metadata": {("a", "b"): 1}}, "has a key of type tuple"),
        ({"user": "\udcff"}, "user has a lone surrogate"),
    ],
    ids=["surrogate-content", "object", "set-in-list", "nan", "tuple-key", "surrogate-user"],
)
def test_what_json_cannot_carry_is_named(payload: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        encode_body(payload, MODEL)
    assert says in str(caught.value)
    assert caught.value.model == MODEL


def test_encoded_body_is_compact_utf8_json() -> None:
    assert encode_body({"a": "é", "b": [1, 2]}, MODEL) == '{"a":"é","b":[1,2]}'.encode()


@pytest.mark.parametrize("kind", ["chat", "stream", "embeddings", "count_tokens"])
async def test_bad_input_is_refused_before_anything_is_sent(proxy: respx.MockRouter, kind: str) -> None:
    sent = proxy.post(url__regex=r".*").mock(return_value=httpx.Response(200, json=REPLY))
    async with LiteLLMProvider("http://proxy.test:4000", "sk-unit") as provider:
        with pytest.raises(BadRequestError) as caught:
            if kind == "chat":
                await provider.chat_completion([{"role": "user", "content": "\ud800"}], MODEL)
            elif kind == "stream":
                async for _ in provider.stream_chat_completion(HELLO, MODEL, metadata={"x": object()}):
                    pass
            elif kind == "embeddings":
                await provider.embeddings(["ok", "bad \udfff"], MODEL)
            else:
                await provider.count_tokens([{"role": "user", "content": "\ud800"}], MODEL)
    assert "surrogate" in str(caught.value) or "not JSON-serialisable" in str(caught.value)
    assert sent.call_count == 0


async def test_a_host_message_object_reaches_the_proxy(proxy: respx.MockRouter) -> None:
    route = proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=REPLY, headers={"x-litellm-response-cost": "0.0001"})
    )
    async with LiteLLMProvider("http://proxy.test:4000", "sk-unit") as provider:
        response = await provider.chat_completion([HostMessage(role="user", content="hi")], MODEL)  # type: ignore[list-item]
    assert response.choices[0].message.content == "ok"
    assert route.calls.last.request.content == b'{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}'
