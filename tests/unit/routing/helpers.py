"""In-memory providers for routing unit tests: no HTTP, scripted answers and errors.

``FakeProvider`` is a bare host provider (prices from ``calculate_cost`` only);
``CatalogProvider`` also exposes ``model_cards()`` like ``LiteLLMProvider``. Each call is
logged in ``calls``; ``script[model]`` is a list of outcomes consumed in order (an
exception instance is raised, a string is answered), and the last one repeats.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from muxer_litellm.catalog import ModelCard
from muxer_litellm.host import (
    ChatCompletionResponse,
    ChatMessage,
    Choice,
    LLMProvider,
    MessageInput,
    RouterMetadata,
    Usage,
)

Outcome = str | BaseException | ChatCompletionResponse


class FakeProvider(LLMProvider):
    """``prices``: model -> (USD per 1K input, per 1K output); a model without a price
    gives ``math.inf`` from calculate_cost, as LiteLLMProvider does for unknown prices."""

    def __init__(
        self,
        name: str,
        prices: Mapping[str, tuple[float, float] | None],
        *,
        script: Mapping[str, Sequence[Outcome]] | None = None,
        completion_tokens: int = 20,
        healthy: bool = True,
    ) -> None:
        self.provider_name = name
        self.prices = dict(prices)
        self.script: dict[str, list[Outcome]] = {m: list(v) for m, v in (script or {}).items()}
        self.completion_tokens = completion_tokens
        self.healthy = healthy
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stream_calls: list[str] = []
        self.closed = False

    def _next(self, model: str) -> Outcome:
        outcomes = self.script.get(model)
        if not outcomes:
            return f"answer from {self.provider_name}/{model}"
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]

    def cost_or_none(self, model: str, prompt: int, completion: int) -> float | None:
        cost = self.calculate_cost(prompt, completion, model)
        return None if math.isinf(cost) else cost

    def response(self, model: str, text: str | None, *, finish_reason: str = "stop") -> ChatCompletionResponse:
        prompt, completion = 10, self.completion_tokens
        return ChatCompletionResponse(
            id=f"fake-{len(self.calls)}",
            created=int(time.time()),
            model=model,
            choices=[Choice(index=0, message=ChatMessage(role="assistant", content=text), finish_reason=finish_reason)],
            usage=Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion),
            router_metadata=RouterMetadata(
                selected_provider=self.provider_name,
                selected_model=model,
                routing_reason="direct",
                estimated_cost=self.cost_or_none(model, prompt, completion),
                response_time_ms=1.0,
            ),
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
        self.calls.append((model, {"max_tokens": max_tokens, "temperature": temperature, **kwargs}))
        outcome = self._next(model)
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, ChatCompletionResponse):
            return outcome
        return self.response(model, outcome)

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        self.stream_calls.append(model)
        outcome = self._next(model)
        if isinstance(outcome, BaseException):
            raise outcome
        text = outcome if isinstance(outcome, str) else "streamed"
        for word in text.split(" "):
            delta = {"content": word}
            yield {"object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": delta}]}
        yield {
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "router_metadata": {
                "selected_provider": self.provider_name,
                "selected_model": model,
                "routing_reason": "direct",
                "estimated_cost": self.cost_or_none(model, 10, 5),
                "response_time_ms": 1.0,
            },
        }

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        price = self.prices.get(model)
        if price is None:
            return math.inf
        return (input_tokens * price[0] + output_tokens * price[1]) / 1000

    def get_supported_models(self) -> list[str]:
        return list(self.prices)

    async def health_check(self) -> bool:
        return self.healthy

    async def aclose(self) -> None:
        self.closed = True


class CatalogProvider(FakeProvider):
    """A provider with a catalog, like LiteLLMProvider: ``cards`` wins over ``prices``
    for everything but the answers."""

    def __init__(self, name: str, cards: Sequence[ModelCard], **kwargs: Any) -> None:
        prices = {
            c.name: (c.input_cost_per_1k, c.output_cost_per_1k)
            if c.input_cost_per_1k is not None and c.output_cost_per_1k is not None
            else None
            for c in cards
        }
        super().__init__(name, prices, **kwargs)
        self.cards = list(cards)
        self.refreshes = 0
        self.token_counts: list[str] = []
        self.exact_tokens: int | None = None

    def model_cards(self) -> list[ModelCard]:
        return list(self.cards)

    async def refresh_models(self, *, force: bool = False) -> list[ModelCard]:
        self.refreshes += 1
        return self.model_cards()

    async def count_tokens(
        self, messages: list[MessageInput], model: str, *, timeout_seconds: float | None = None
    ) -> int:
        self.token_counts.append(model)
        if self.exact_tokens is None:
            raise AssertionError("count_tokens was not expected")
        return self.exact_tokens


def card(name: str, inp: float | None, out: float | None, **fields: Any) -> ModelCard:
    """A chat card priced per 1K tokens (None = unknown)."""
    return ModelCard(
        name=name,
        mode="chat",
        input_cost_per_1k=inp,
        output_cost_per_1k=out,
        pricing_source="proxy" if inp is not None and out is not None else "unknown",
        **fields,
    )


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
