"""Builders for the proxy's replies, in the shapes litellm 1.106 really sends.

The integration tests check the same rules against a real proxy.
"""

from __future__ import annotations

import json
from typing import Any

BASE_URL = "http://proxy.test:4000"
API_KEY = "sk-unit-SECRET-4f9c2a"


def deployment(
    name: str,
    *,
    upstream: str = "openai/gpt-test",
    model_id: str | None = None,
    input_cost: float | None = None,
    output_cost: float | None = None,
    params: dict[str, Any] | None = None,
    **info: Any,
) -> dict[str, Any]:
    """One ``/model/info`` ``data[]`` entry as the proxy returns it."""
    model_info: dict[str, Any] = {
        "id": model_id or f"id-{name}",
        "mode": "chat",
        "input_cost_per_token": input_cost,
        "output_cost_per_token": output_cost,
        "max_input_tokens": None,
        "max_output_tokens": None,
    }
    model_info.update(info)
    return {"model_name": name, "litellm_params": {"model": upstream, **(params or {})}, "model_info": model_info}


def model_info(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"data": list(entries)}


def chat_body(
    content: str | None = "Hello!",
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    model: str = "gpt-test",
    usage: bool = True,
) -> dict[str, Any]:
    """A non-stream ``/v1/chat/completions`` reply."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": "chatcmpl-unit",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage:
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return body


def chunk(
    content: str | None = None,
    *,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    """One streamed ``chat.completion.chunk``."""
    out: dict[str, Any] = {
        "id": "chatcmpl-stream",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-test",
        "choices": [],
    }
    if choices:
        delta: dict[str, Any] = {} if content is None else {"content": content}
        out["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    if usage is not None:
        out["usage"] = usage
    return out


def usage(prompt: int, completion: int, cost: float | None = None) -> dict[str, Any]:
    """A stream's ``usage`` object; ``cost`` is there only when the proxy priced the call."""
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cost is not None:
        out["cost"] = cost
    return out


def final_chunk(prompt: int, completion: int, cost: float | None = None) -> dict[str, Any]:
    """The proxy's real last stream chunk: one choice with an empty delta, plus usage."""
    out = chunk(choices=False, usage=usage(prompt, completion, cost))
    out["choices"] = [{"index": 0, "delta": {}}]
    return out


def embedding_body(
    vectors: list[list[float]], *, prompt_tokens: int = 8, model: str = "text-embedding-test"
) -> dict[str, Any]:
    """A ``/v1/embeddings`` reply."""
    return {
        "object": "list",
        "model": model,
        "data": [{"index": i, "embedding": v, "object": "embedding"} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def sse(*frames: dict[str, Any] | str, done: bool = True) -> bytes:
    """Server-sent events as the proxy writes them; str frames go out verbatim."""
    parts = [f"data: {f if isinstance(f, str) else json.dumps(f)}\n\n" for f in frames]
    if done:
        parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


def error_body(message: str, type_: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The proxy's error shape: ``{"error": {"message", "type", "code"}}``."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}
