"""A stand-in for a host's own ("native") provider, answering in-process for the demo.

The demo registers it beside :class:`~muxer_litellm.LiteLLMProvider` to show that routing
compares both on the same terms. Like a bare host provider it knows only its model names and
a per-1K price table (no context windows, no capabilities), bills from that table, and
reports usage. It needs no network: each model answers with its canned reply.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BadRequestError, ModelNotFoundError
from .host import ChatCompletionResponse, ChatMessage, Choice, LLMProvider, MessageInput, RouterMetadata, Usage
from .routing.classify import estimate_prompt_tokens

__all__ = ["DEMO_NATIVE_MODELS", "LocalModel", "LocalProvider"]

_CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class LocalModel:
    """One model of the stand-in: what it stands for, its list price, its canned reply."""

    upstream: str
    input_per_1k: float
    output_per_1k: float
    reply: str


#: Llama 3.1 8B at a hosted list price ($0.05 / $0.08 per 1M tokens): the cheapest model
#: in the demo, so simple prompts go to it.
DEMO_NATIVE_MODELS: dict[str, LocalModel] = {
    "llama-3.1-8b": LocalModel(
        upstream="meta-llama/Llama-3.1-8B-Instruct",
        input_per_1k=0.00005,
        output_per_1k=0.00008,
        reply="The capital of France is Paris.",
    ),
}


def _completion_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


class LocalProvider(LLMProvider):
    """In-process provider over a fixed model table (see the module docstring)."""

    provider_name = "native"

    def __init__(self, models: Mapping[str, LocalModel] | None = None) -> None:
        self.models = dict(DEMO_NATIVE_MODELS if models is None else models)
        for name, spec in self.models.items():
            if min(spec.input_per_1k, spec.output_per_1k) < 0 or not spec.reply:
                raise ValueError(f"local model {name!r} needs prices >= 0 and a non-empty reply")

    def _model(self, model: str) -> LocalModel:
        spec = self.models.get(model)
        if spec is None:
            raise ModelNotFoundError(
                f"native provider has no model {model!r} (has: {', '.join(self.models)})",
                404,
                self.provider_name,
                model=model,
            )
        return spec

    def _usage(self, messages: list[MessageInput], spec: LocalModel) -> tuple[int, int, float]:
        prompt = estimate_prompt_tokens(messages)
        completion = _completion_tokens(spec.reply)
        cost = (prompt * spec.input_per_1k + completion * spec.output_per_1k) / 1000
        return prompt, completion, cost

    def _metadata(self, model: str, started: float, cost: float) -> RouterMetadata:
        return RouterMetadata(
            selected_provider=self.provider_name,
            selected_model=model,
            routing_reason="direct call to the native provider",
            estimated_cost=cost,
            response_time_ms=round((time.perf_counter() - started) * 1000, 3),
            cost_source="catalog",
        )

    async def chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        if stream:
            raise BadRequestError("use stream_chat_completion() to stream", None, self.provider_name, model=model)
        spec = self._model(model)
        started = time.perf_counter()
        prompt, completion, cost = self._usage(messages, spec)
        return ChatCompletionResponse(
            id=f"native-{uuid.uuid4().hex[:12]}",
            created=int(time.time()),
            model=model,
            choices=[Choice(index=0, message=ChatMessage(role="assistant", content=spec.reply), finish_reason="stop")],
            usage=Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion),
            router_metadata=self._metadata(model, started, cost),
        )

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Word-sized chunks, then a usage chunk with ``router_metadata`` (as the proxy's last one)."""
        spec = self._model(model)
        started = time.perf_counter()
        prompt, completion, cost = self._usage(messages, spec)
        base = {"id": f"native-{uuid.uuid4().hex[:12]}", "object": "chat.completion.chunk", "created": int(time.time())}
        for i, word in enumerate(spec.reply.split(" ")):
            delta: dict[str, Any] = {"content": word if i == 0 else f" {word}"}
            if i == 0:
                delta["role"] = "assistant"
            yield {**base, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await asyncio.sleep(0)
        yield {**base, "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield {
            **base,
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
            "router_metadata": self._metadata(model, started, cost).model_dump(mode="json"),
        }

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError(f"token counts must be >= 0, got {input_tokens} and {output_tokens}")
        spec = self.models.get(model)
        if spec is None:
            return math.inf  # unknown price: never "cheapest"
        return (input_tokens * spec.input_per_1k + output_tokens * spec.output_per_1k) / 1000

    def get_supported_models(self) -> list[str]:
        return list(self.models)

    async def health_check(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
