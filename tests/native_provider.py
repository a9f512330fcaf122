"""A "native" host provider for the routing integration tests.

It speaks OpenAI's API straight to the fake upstream (no LiteLLM proxy), the way a host's
own OpenAI provider would, and knows only what a bare host provider knows: its model names
and a per-1K price table. Routing must treat it and ``LiteLLMProvider`` alike.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from muxer_litellm.errors import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.host import (
    ChatCompletionResponse,
    ChatMessage,
    LLMProvider,
    MessageInput,
    RouterMetadata,
)


@dataclass(frozen=True)
class NativeModel:
    upstream: str
    input_per_1k: float
    output_per_1k: float


class NativeProvider(LLMProvider):
    provider_name = "native"

    def __init__(self, base_url: str, models: Mapping[str, NativeModel]) -> None:
        self.base_url = base_url.rstrip("/")
        self.models = dict(models)
        self.calls: list[str] = []
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))

    def _payload(self, messages: list[MessageInput], model: str, **params: Any) -> dict[str, Any]:
        if model not in self.models:
            raise ModelNotFoundError(f"native provider has no model {model!r}", 404, self.provider_name, model=model)
        dicts = [m.model_dump(exclude_none=True) if isinstance(m, ChatMessage) else dict(m) for m in messages]
        body: dict[str, Any] = {"model": self.models[model].upstream, "messages": dicts}
        body.update({k: v for k, v in params.items() if v is not None})
        return body

    def _error(self, response: httpx.Response, model: str) -> ProviderError:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        message = str(error.get("message") or response.text[:200])
        status = response.status_code
        if status == 429:
            retry = response.headers.get("retry-after")
            wait = float(retry) if retry and retry.replace(".", "", 1).isdigit() else None
            return RateLimitError(message, 429, self.provider_name, retry_after=wait, model=model)
        if status in (401, 403):
            return AuthenticationError(message, status, self.provider_name, model=model)
        if status == 400 and error.get("code") == "context_length_exceeded":
            return ContextWindowExceededError(message, status, self.provider_name, model=model)
        if status >= 500:
            return ProviderUnavailableError(message, status, self.provider_name, model=model)
        return BadRequestError(message, status, self.provider_name, model=model)

    async def chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        body = self._payload(messages, model, max_tokens=max_tokens, temperature=temperature, **kwargs)
        self.calls.append(model)
        started = time.perf_counter()
        try:
            response = await self._client.post(f"{self.base_url}/chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(str(exc), None, self.provider_name, model=model) from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(str(exc), None, self.provider_name, model=model) from exc
        if response.status_code >= 400:
            raise self._error(response, model)
        data = response.json()
        usage = data.get("usage") or {}
        cost = self.calculate_cost(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), model)
        data["router_metadata"] = RouterMetadata(
            selected_provider=self.provider_name,
            selected_model=model,
            routing_reason="direct",
            estimated_cost=cost if usage else None,
            response_time_ms=(time.perf_counter() - started) * 1000,
            cost_source="catalog" if usage else "unknown",
        )
        data["model"] = model
        return ChatCompletionResponse.model_validate(data)

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        body = self._payload(messages, model, max_tokens=max_tokens, temperature=temperature, **kwargs)
        body["stream"] = True
        self.calls.append(model)
        async with self._client.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
            if response.status_code >= 400:
                await response.aread()
                raise self._error(response, model)
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                yield json.loads(line[len("data: ") :])

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        spec = self.models.get(model)
        if spec is None:
            return math.inf
        return (input_tokens * spec.input_per_1k + output_tokens * spec.output_per_1k) / 1000

    def get_supported_models(self) -> list[str]:
        return list(self.models)

    async def health_check(self) -> bool:
        try:
            return (await self._client.get(f"{self.base_url}/models")).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._client.aclose()
