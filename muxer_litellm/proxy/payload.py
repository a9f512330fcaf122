"""Shaping requests for the proxy, and refusing bad input before anything is sent.

Every problem with what the caller passed becomes a :class:`BadRequestError` that names the
field (``messages[0].content``, ``metadata.x``): a raw ``TypeError`` or
``UnicodeEncodeError`` escaping from the JSON encoder would break the promise that every
failure is a ``ProviderError``. The body is encoded here, once, so that check is free.

This runs on every call, so the common shapes take a short way with the same result: a plain
dict message whose fields already have the types ``ChatMessage`` wants is sent as it is
(pydantic would hand back an equal dict), and a body made only of JSON's own types is encoded
by orjson (the stdlib encoder, and the walk that names a bad field, run only otherwise).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from .._utils import validation_problems
from ..errors import BadRequestError
from ..host import Attribution, ChatMessage, MessageInput
from .replies import PROVIDER

__all__ = ["attribute", "chat_payload", "embeddings_payload", "encode_body", "message_dicts"]

_CHAT_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")
_ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))
_OPTIONAL_STR = ("name", "tool_call_id")


def _dicts_with_str_keys(value: Any) -> bool:
    """A list of dicts with string keys: what ``list[dict[str, Any]]`` accepts unchanged."""
    if type(value) is not list:
        return False
    for item in value:
        if type(item) is not dict:
            return False
        for key in item:
            if type(key) is not str:
                return False
    return True


def _already_valid(message: dict[str, Any]) -> bool:
    """True when ``ChatMessage.model_validate(message).model_dump(exclude_unset=True)`` would
    return an equal dict: exact built-in types only, so pydantic has nothing to coerce or refuse."""
    for key in message:
        if type(key) is not str:
            return False
    role = message.get("role")
    if type(role) is not str or role not in _ROLES:
        return False
    content = message.get("content")
    if content is not None and type(content) is not str and not _dicts_with_str_keys(content):
        return False
    for name in _OPTIONAL_STR:
        value = message.get(name)
        if value is not None and type(value) is not str:
            return False
    tool_calls = message.get("tool_calls")
    return tool_calls is None or _dicts_with_str_keys(tool_calls)


def _as_mapping(message: Any) -> Mapping[str, Any] | None:
    """A host's own message object as a mapping: any pydantic model (ModelMuxer's
    ``ChatMessage``, say) or an object with the chat fields as attributes."""
    if isinstance(message, BaseModel):
        return message.model_dump(exclude_unset=True)
    if hasattr(message, "role") and hasattr(message, "content"):
        return {f: v for f in _CHAT_FIELDS if (v := getattr(message, f, None)) is not None or f == "content"}
    return None


def message_dicts(messages: Sequence[MessageInput]) -> list[dict[str, Any]]:
    """OpenAI message dicts from ``ChatMessage``s, dicts, or a host's own message objects."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise BadRequestError("messages must be a non-empty list of ChatMessage or dict", provider=PROVIDER)
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if isinstance(message, ChatMessage):
            # exclude_unset: send what the caller said, e.g. an explicit "content": null.
            out.append(message.model_dump(exclude_unset=True))
            continue
        if type(message) is dict and _already_valid(message):
            out.append(message)
            continue
        raw = message if isinstance(message, dict) else _as_mapping(message)
        if raw is None:
            raise BadRequestError(
                f"messages[{i}] must be a ChatMessage, a dict or a message object with role and content, "
                f"got {type(message).__name__}",
                provider=PROVIDER,
            )
        try:
            validated = ChatMessage.model_validate(raw)
        except ValidationError as exc:
            raise BadRequestError(f"messages[{i}] is invalid: {validation_problems(exc)}", provider=PROVIDER) from None
        out.append(validated.model_dump(exclude_unset=True))
    return out


def _check_number(name: str, value: Any, model: str, *, integer: bool) -> None:
    if integer:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        want = "a positive integer"
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf
        want = "a number >= 0"
    if not ok:
        raise BadRequestError(f"{name} must be {want}, got {value!r}", model=model, provider=PROVIDER)


def check_model(model: Any) -> str:
    if not isinstance(model, str) or not model.strip():
        raise BadRequestError(f"model must be a non-empty string, got {model!r}", provider=PROVIDER)
    return model


def chat_payload(
    messages: Sequence[MessageInput],
    model: str,
    max_tokens: int | None,
    temperature: float | None,
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    check_model(model)
    if max_tokens is not None:
        _check_number("max_tokens", max_tokens, model, integer=True)
    if temperature is not None:
        _check_number("temperature", temperature, model, integer=False)
    if "stream" in kwargs:
        raise BadRequestError(
            "pass no stream= in **kwargs: call chat_completion() or stream_chat_completion()",
            model=model,
            provider=PROVIDER,
        )
    payload = dict(kwargs)  # tools, tool_choice, response_format, ... go through untouched
    payload["model"] = model
    payload["messages"] = message_dicts(messages)
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    if temperature is not None:
        payload["temperature"] = temperature
    return payload


def embeddings_payload(input: Any, model: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    check_model(model)
    if not isinstance(input, (str, list)) or not input:
        raise BadRequestError("input must be a non-empty string or list", model=model, provider=PROVIDER)
    return {**kwargs, "model": model, "input": input}


def attribute(payload: dict[str, Any], attribution: Attribution, model: str) -> dict[str, str]:
    """Put ``attribution`` where the proxy records it (docs/tenants.md has the table) and return
    the headers it needs: the body's ``user`` (the proxy's end user), ``metadata.tags`` (merged
    with tags the caller already sent), ``metadata.spend_logs_metadata`` (with ``request_id``)
    and the ``traceparent`` header (the proxy's trace id for the call)."""
    if attribution.user is not None:
        payload["user"] = attribution.user
    if attribution.tags or attribution.metadata or attribution.request_id:
        meta = payload.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            kind = type(meta).__name__
            raise BadRequestError(
                f"metadata must be a dict to carry attribution, got {kind}", model=model, provider=PROVIDER
            )
        meta = dict(meta or {})
        if attribution.tags:
            tags = meta.get("tags")
            merged = list(tags) if isinstance(tags, list) else []
            merged.extend(t for t in attribution.tags if t not in merged)
            meta["tags"] = merged
        if attribution.metadata or attribution.request_id:
            spend = meta.get("spend_logs_metadata")
            spend = {**(spend if isinstance(spend, dict) else {}), **attribution.metadata}
            if attribution.request_id is not None:
                spend["request_id"] = attribution.request_id
            meta["spend_logs_metadata"] = spend
        payload["metadata"] = meta
    return {"traceparent": attribution.traceparent} if attribution.traceparent is not None else {}


def _path(parent: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    # A key with a lone surrogate is named escaped, so the error message itself can be printed.
    name = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{parent}.{name}" if parent else name


def _find_bad(value: Any, path: str) -> tuple[str, str] | None:
    """Where in ``value`` JSON encoding fails, and why (walked only after a failure)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "has a lone surrogate character, which is not valid Unicode text"
        return None
    if value is None or isinstance(value, (bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, f"is {value!r}, which JSON cannot carry")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return _path(path, repr(key)), f"has a key of type {type(key).__name__}, JSON keys are strings"
            found = _find_bad(key, _path(path, key)) if isinstance(key, str) else None
            found = found or _find_bad(item, _path(path, key))
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _find_bad(item, _path(path, i))
            if found:
                return found
        return None
    return path, f"is a {type(value).__name__}, which is not JSON-serialisable"


def _plain_json(value: Any) -> bool:
    """True when ``value`` holds only JSON's own types (exact str, int, bool, None, finite
    float, list, dict with str keys): then orjson writes exactly what the stdlib encoder would
    accept. orjson would also write NaN (as null), dataclasses, enums, UUIDs and datetimes,
    which the stdlib refuses; those bodies take the stdlib path and are refused as before."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    # Explicit loops, not all(<generator>): this runs on every call and the loop is faster.
    if kind is dict:
        for key, item in value.items():  # noqa: SIM110
            if type(key) is not str or not _plain_json(item):
                return False
        return True
    if kind is list:
        for item in value:  # noqa: SIM110
            if not _plain_json(item):
                return False
        return True
    return False


def encode_body(payload: Mapping[str, Any], model: str | None) -> bytes:
    """The JSON request body, or a BadRequestError naming the field that cannot be sent."""
    try:
        plain = _plain_json(payload)
    except RecursionError:
        plain = False
    if plain:
        try:
            return orjson.dumps(payload)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate, an int beyond 64 bits, deep nesting: the stdlib path decides
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError) as exc:
        found = _find_bad(payload, "")
        where, why = found if found else ("request", f"cannot be encoded as JSON ({type(exc).__name__})")
        raise BadRequestError(f"{where or 'request'} {why}", model=model, provider=PROVIDER) from None
