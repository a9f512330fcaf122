"""Request shaping: what the caller passes is checked, and refused with a BadRequestError naming
the field, before anything is sent; a host's own message objects are accepted."""

from __future__ import annotations

import datetime
import enum
import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from pydantic import BaseModel, ValidationError

from muxer_litellm import BadRequestError, ChatMessage, LiteLLMProvider
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


# ---------------------------------------------------------------------------- the short ways


class Role(str):
    """A str subclass (an enum-like role): pydantic decides what it becomes, not the short way."""


VALID_AS_IS: list[dict[str, Any]] = [
    {"role": "user", "content": "hello"},
    {"content": "be brief", "role": "system"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {}}]},
    {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]},
    {"role": "tool", "content": "18C", "tool_call_id": "c1"},
    {"role": "user", "content": "hi", "name": "alice", "cache_control": {"type": "ephemeral"}},
    {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {}}]},
    {"role": "developer", "content": "", "name": None},
]
NEEDS_PYDANTIC: list[dict[Any, Any]] = [
    {"role": Role("user"), "content": "hello"},
    {"role": "user", "content": b"bytes are coerced"},
    {"role": "user", "content": ("a", "tuple")},
    {"role": "user", "content": [{"type": "text"}, "not a dict"]},
    {"role": "user", "content": [{1: "int key"}]},
    {"role": "user", "content": "x", 1: "int key"},
    {"role": "user", "content": "x", "name": 42},
    {"role": "user", "content": "x", "tool_calls": ({"id": "c1"},)},
    {"role": "robot", "content": "x"},
    {"content": "no role"},
]


def pydantic_way(message: dict[Any, Any]) -> dict[str, Any] | str:
    """What the full validation makes of a message, or the start of its error."""
    try:
        return message_dicts([ChatMessage.model_validate(message)])[0]
    except ValidationError as exc:
        return f"invalid: {exc.errors()[0]['loc']}"


def our_way(message: dict[Any, Any]) -> dict[str, Any] | str:
    try:
        return message_dicts([message])[0]
    except BadRequestError as exc:
        return f"invalid: {exc}"


@pytest.mark.parametrize("message", VALID_AS_IS, ids=range(len(VALID_AS_IS)))
def test_a_message_pydantic_would_return_unchanged_is_sent_as_it_is(message: dict[str, Any]) -> None:
    [sent] = message_dicts([message])
    assert sent is message  # the short way was taken ...
    assert sent == pydantic_way(message)  # ... and gives what the full validation gives


@pytest.mark.parametrize("message", NEEDS_PYDANTIC, ids=range(len(NEEDS_PYDANTIC)))
def test_other_messages_get_the_full_validation(message: dict[Any, Any]) -> None:
    ours, theirs = our_way(message), pydantic_way(message)
    if isinstance(theirs, str):
        assert isinstance(ours, str)
        assert ours.startswith("invalid: messages[0] is invalid")
    else:
        assert ours == theirs
        assert ours is not message


PLAIN_BODIES: list[dict[str, Any]] = [
    {"model": MODEL, "messages": [{"role": "user", "content": 'quote " backslash \\ \n\t \x00 \u2028 é 😀 </s>'}]},
    {"model": MODEL, "temperature": 0.2, "top_p": 1.0, "seed": -(2**63), "max_tokens": 2**64 - 1, "stop": None},
    {"tools": [{"type": "function", "function": {"parameters": {"type": "object", "properties": {}}}}]},
    {"metadata": {"tags": [], "nested": {"deep": [1, 2.5, True, False, None, "x", [], {}]}}, "tiny": 5e-324},
]


@pytest.mark.parametrize("body", PLAIN_BODIES, ids=range(len(PLAIN_BODIES)))
def test_orjson_writes_what_the_stdlib_writes(body: dict[str, Any]) -> None:
    stdlib = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    encoded = encode_body(body, MODEL)
    assert json.loads(encoded) == json.loads(stdlib)
    assert encoded == stdlib  # the same bytes, number formats included


class Color(enum.Enum):
    RED = "red"


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"metadata": {"t": datetime.datetime(2024, 1, 1)}}, "metadata.t is a datetime"),
        ({"metadata": {"id": uuid.UUID(int=1)}}, "metadata.id is a UUID"),
        ({"metadata": {"c": Color.RED}}, "metadata.c is a Color"),
        ({"metadata": {"p": Point(1)}}, "metadata.p is a Point"),
        ({"metadata": {"x": [1.0, float("inf")]}}, "metadata.x[1] is inf"),
        ({"logit_bias": {"50256": float("-inf")}}, "logit_bias.50256 is -inf"),
    ],
    ids=["datetime", "uuid", "enum", "dataclass", "inf", "minus-inf"],
)
def test_what_only_orjson_would_write_is_still_refused(body: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        encode_body(body, MODEL)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        {"seed": 2**64},  # beyond orjson's integers
        {"metadata": {1: "int key", None: "null key"}},  # keys the stdlib turns into strings
        {"metadata": functools.reduce(lambda inner, _: [inner], range(300), [])},  # deeper than orjson goes
        {"user": Role("a str subclass")},
    ],
    ids=["big-int", "non-str-keys", "deep", "str-subclass"],
)
def test_what_only_the_stdlib_writes_is_still_sent(body: dict[str, Any]) -> None:
    assert encode_body(body, MODEL) == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
