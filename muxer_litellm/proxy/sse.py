"""Reading the proxy's server-sent events as OpenAI chunk dicts.

SSE framing (multi-line ``data:``, comments, CRLF, split reads) is left to ``httpx-sse``,
a small, well-kept parser for httpx responses; this module adds what is LiteLLM
specific: ``[DONE]``, error frames inside a 200 stream, and usage/cost accounting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from ..errors import ProviderError

__all__ = ["StreamUsage", "iter_chunks"]

ErrorFactory = Callable[[dict[str, Any]], ProviderError]


async def iter_chunks(
    response: httpx.Response,
    *,
    on_error_frame: ErrorFactory,
    model: str,
    call_id: str | None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield each JSON chunk as it arrives; stop at ``[DONE]``.

    An ``{"error": ...}`` frame raises ``on_error_frame(frame)``; a frame that is not a
    JSON object raises a ProviderError quoting it, so a broken proxy is never silent.
    """
    try:
        async for event in EventSource(response).aiter_sse():
            data = event.data.strip()
            if not data:
                continue
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise ProviderError(
                    f"LiteLLM proxy sent a stream frame that is not JSON: {data[:200]!r}",
                    response.status_code,
                    "litellm",
                    model=model,
                    call_id=call_id,
                ) from None
            if not isinstance(chunk, dict):
                raise ProviderError(
                    f"LiteLLM proxy sent a stream frame that is not a JSON object: {data[:200]!r}",
                    response.status_code,
                    "litellm",
                    model=model,
                    call_id=call_id,
                )
            if "error" in chunk and not chunk.get("choices"):
                raise on_error_frame(chunk)
            yield chunk
    except SSEError as exc:
        raise ProviderError(
            f"LiteLLM proxy answered a streaming request without an event stream: {exc}",
            response.status_code,
            "litellm",
            model=model,
            call_id=call_id,
        ) from None


@dataclass
class StreamUsage:
    """The latest ``usage`` seen in a stream (providers may repeat it; the last one counts)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    proxy_cost: Any = None
    seen: bool = False

    def observe(self, chunk: dict[str, Any]) -> bool:
        """Record the chunk's usage; True when it carried any."""
        usage = chunk.get("usage")
        if not isinstance(usage, dict):
            return False
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return False
        self.prompt_tokens, self.completion_tokens = prompt, completion
        total = usage.get("total_tokens")
        self.total_tokens = total if isinstance(total, int) else prompt + completion
        self.proxy_cost = usage.get("cost")
        self.seen = True
        return True

    def as_dict(self) -> dict[str, int] | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens if self.total_tokens is not None else 0,
        }
