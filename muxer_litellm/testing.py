"""``FakeProvider``: an in-process provider for tests and demos (no network, no keys).

Like pydantic-ai's ``TestModel``, it lets a host test its routing without a proxy: give it
models (prices, and capabilities, windows and tiers through :class:`ModelCard`), script what
each call does (an answer, an exception, a stream that breaks half-way), add latency, and read
back what was called::

    from muxer_litellm.testing import FakeProvider, model_card
    from muxer_litellm import ProviderUnavailableError

    cheap = FakeProvider("cheap", {"mini": (0.0001, 0.0004)},
                         script={"mini": [ProviderUnavailableError("503", 503), "recovered"]})
    strong = FakeProvider("strong", [model_card("big", 0.003, 0.015, supports_vision=True, tier=3)])
    response = await router.route_request(messages, {"cheap": cheap, "strong": strong})
    assert cheap.calls[0].model == "mini"

:class:`BareFakeProvider` is a host provider written to the bare :class:`LLMProvider` ABC (plus
``HealthReporter``): routing knows it only by model names and ``calculate_cost``, and its
stream is a plain async generator. :class:`FakeProvider` is the same fake with the optional
seams routing uses (``CatalogProvider``, ``TokenCounter``) and streams as a :class:`ChatStream`.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ._stream import ChatStream, producer_stream, record_results
from .errors import BadRequestError, ModelNotFoundError, ProviderClosedError, ProviderError
from .host import (
    ChatCompletionResponse,
    ChatMessage,
    Choice,
    LLMProvider,
    MessageInput,
    ModelCard,
    RouterMetadata,
    Usage,
)
from .routing.classify import estimate_prompt_tokens

__all__ = [
    "BareFakeProvider",
    "FakeCall",
    "FakeProvider",
    "MidStreamError",
    "ModelSpec",
    "Outcome",
    "Price",
    "model_card",
]

#: USD per 1,000 (input, output) tokens.
Price = tuple[float, float]
#: A model: its full card, just a price, or None (price unknown).
ModelSpec = ModelCard | Price | None


@dataclass(frozen=True, slots=True)
class MidStreamError:
    """A scripted stream that yields ``after_chunks`` content chunks, then raises ``error``
    (too late for a router to fall back). A chat completion raises ``error`` at once."""

    error: ProviderError
    after_chunks: int = 1


#: What one scripted call does: answer with this text, raise this exception, return this
#: response, or (streams) break after some chunks.
Outcome = str | BaseException | ChatCompletionResponse | MidStreamError


class FakeCall(NamedTuple):
    """One ``chat_completion`` call: the model and the request's other parameters."""

    model: str
    params: dict[str, Any]


def model_card(
    name: str, input_per_1k: float | None = None, output_per_1k: float | None = None, **fields: Any
) -> ModelCard:
    """A chat model's card priced per 1K tokens (None: unknown); ``fields`` are any other
    :class:`ModelCard` fields (``context_window``, ``supports_vision``, ``tier``...)."""
    priced = input_per_1k is not None and output_per_1k is not None
    fields.setdefault("mode", "chat")
    fields.setdefault("pricing_source", "custom" if priced else "unknown")
    return ModelCard(name=name, input_cost_per_1k=input_per_1k, output_cost_per_1k=output_per_1k, **fields)


def _cards(models: Mapping[str, ModelSpec] | Iterable[ModelCard]) -> dict[str, ModelCard]:
    if not isinstance(models, Mapping):
        return {card.name: card for card in models}
    cards: dict[str, ModelCard] = {}
    for name, spec in models.items():
        if isinstance(spec, ModelCard):
            cards[name] = spec if spec.name == name else spec.model_copy(update={"name": name})
        elif spec is None:
            cards[name] = model_card(name)
        else:
            cards[name] = model_card(name, *spec)
    return cards


class BareFakeProvider(LLMProvider):
    """The in-process provider (see the module docstring) as a host provider written to the
    bare ``LLMProvider`` ABC: no ``model_cards()``, ``refresh_models()`` or ``count_tokens()``,
    so routing knows its models only by name and prices them with ``calculate_cost``
    (capabilities and windows unknown); ``stream_chat_completion`` returns a plain async
    generator, which routing wraps in a :class:`ChatStream` itself. :class:`FakeProvider`
    adds the optional seams.

    ``models``: ``{name: (input, output) per 1K | None | ModelCard}`` or a list of cards.
    ``script``: ``{model: [outcome, ...]}``, one per call in order; the last one repeats (an
    exhausted or missing script answers ``replies[model]``, else ``"answer from <name>/<model>"``).
    ``latency``: seconds each call waits first (per model with a mapping); even 0 yields to the
    event loop, so concurrent calls interleave. ``prompt_tokens`` / ``completion_tokens``: the
    usage reported (default: the prompt estimate, and 1 token per 4 characters of the answer).
    ``healthy`` / ``health_error``: what ``health_check()`` answers and ``last_health_error`` then says.
    ``exact_tokens``: what ``count_tokens`` answers (default: the estimate).
    ``stream_metadata=False``: streams end with a usage chunk but no ``router_metadata`` (as
    some host providers do).
    """

    def __init__(
        self,
        name: str = "fake",
        models: Mapping[str, ModelSpec] | Iterable[ModelCard] = (),
        *,
        script: Mapping[str, Sequence[Outcome]] | None = None,
        replies: Mapping[str, str] | None = None,
        latency: float | Mapping[str, float] = 0.0,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        healthy: bool = True,
        health_error: str | None = None,
        exact_tokens: int | None = None,
        stream_metadata: bool = True,
    ) -> None:
        self.provider_name = name
        #: The models by name (``set_models()`` replaces them).
        self.cards = _cards(models)
        self.script: dict[str, list[Outcome]] = {m: list(v) for m, v in (script or {}).items()}
        self.replies = dict(replies or {})
        self.latency = latency
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.healthy = healthy
        self.health_error = health_error
        self.exact_tokens = exact_tokens
        self.stream_metadata = stream_metadata
        self.last_health_error: str | None = None
        #: Every ``chat_completion`` call, in order.
        self.calls: list[FakeCall] = []
        #: The model of every ``stream_chat_completion`` call, in order.
        self.stream_calls: list[str] = []
        #: The model of every ``count_tokens`` call.
        self.token_counts: list[str] = []
        self.refreshes = 0
        self.health_checks = 0
        #: Streams started and not yet finished or closed.
        self.open_streams = 0
        self.closed = False
        self._holds: dict[str, asyncio.Event] = {}
        self._waiters: list[tuple[int, asyncio.Event]] = []

    # ------------------------------------------------------------------ scripting

    def set_models(self, models: Mapping[str, ModelSpec] | Iterable[ModelCard]) -> None:
        """Replace the models (as a catalog refresh that found new cards would: new objects)."""
        self.cards = _cards(models)

    def call_count(self, model: str | None = None) -> int:
        """Chat and stream calls, of ``model`` or of every model."""
        chats = sum(1 for c in self.calls if model is None or c.model == model)
        return chats + sum(1 for m in self.stream_calls if model is None or m == model)

    async def wait_for_calls(self, count: int) -> None:
        """Return once this provider has been called ``count`` times in all (chat and stream),
        e.g. to know that concurrent requests reached it before releasing a :meth:`hold`."""
        if self.call_count() >= count:
            return
        reached = asyncio.Event()
        self._waiters.append((count, reached))
        await reached.wait()

    def _called(self) -> None:
        total = self.call_count()
        for count, reached in self._waiters:
            if total >= count:
                reached.set()
        self._waiters = [(c, e) for c, e in self._waiters if not e.is_set()]

    def hold(self, model: str) -> asyncio.Event:
        """Make calls to ``model`` wait until the returned event is set (a call "in flight"
        for as long as a test needs, without sleeping)."""
        return self._holds.setdefault(model, asyncio.Event())

    def _next(self, model: str) -> Outcome:
        outcomes = self.script.get(model)
        if not outcomes:
            return self._reply(model)
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]

    def _reply(self, model: str) -> str:
        return self.replies.get(model, f"answer from {self.provider_name}/{model}")

    async def _wait(self, model: str) -> None:
        latency = self.latency.get(model, 0.0) if isinstance(self.latency, Mapping) else self.latency
        await asyncio.sleep(latency)
        hold = self._holds.get(model)
        if hold is not None:
            await hold.wait()

    def _card(self, model: str) -> ModelCard:
        if self.closed:
            raise ProviderClosedError(f"{self.provider_name} was closed", None, self.provider_name, model=model)
        card = self.cards.get(model)
        if card is None:
            raise ModelNotFoundError(
                f"{self.provider_name} has no model {model!r} (has: {', '.join(self.cards) or 'none'})",
                404,
                self.provider_name,
                model=model,
            )
        return card

    def _usage(self, messages: Sequence[MessageInput], text: str) -> Usage:
        prompt = self.prompt_tokens if self.prompt_tokens is not None else estimate_prompt_tokens(messages)
        completion = self.completion_tokens if self.completion_tokens is not None else max(1, math.ceil(len(text) / 4))
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)

    def _metadata(self, card: ModelCard, usage: Usage, started: float) -> RouterMetadata:
        cost = card.cost(usage.prompt_tokens, usage.completion_tokens)
        return RouterMetadata(
            selected_provider=self.provider_name,
            selected_model=card.name,
            routing_reason=f"direct call to {self.provider_name}",
            estimated_cost=cost,
            total_cost=cost,  # a direct call is the whole request, as on LiteLLMProvider
            response_time_ms=round((time.perf_counter() - started) * 1000, 3),
            cost_source="catalog" if cost is not None else "unknown",
        )

    def response(
        self,
        model: str,
        text: str | None,
        *,
        finish_reason: str = "stop",
        messages: Sequence[MessageInput] = (),
    ) -> ChatCompletionResponse:
        """The response this provider gives for ``text`` (for scripts that need a custom one)."""
        card = self._card(model)
        usage = self._usage(messages, text or "")
        return ChatCompletionResponse(
            id=f"fake-{uuid.uuid4().hex[:12]}",
            created=int(time.time()),
            model=model,
            choices=[Choice(index=0, message=ChatMessage(role="assistant", content=text), finish_reason=finish_reason)],
            usage=usage,
            router_metadata=self._metadata(card, usage, time.perf_counter()),
        )

    # ------------------------------------------------------------------ LLMProvider

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
        self.calls.append(FakeCall(model, {"max_tokens": max_tokens, "temperature": temperature, **kwargs}))
        self._called()
        outcome = self._next(model)
        await self._wait(model)
        self._card(model)
        if isinstance(outcome, MidStreamError):
            raise outcome.error
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, ChatCompletionResponse):
            return outcome
        return self.response(model, outcome, messages=messages)

    def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Word-sized chunks, a finish chunk, then a usage chunk carrying ``router_metadata``
        (as the proxy's last one), as a plain async generator (the caller parses them). Errors
        are raised on the first read, as an HTTP stream's are."""
        return self._chunks(messages, model, self._open_stream(model), None)

    def _open_stream(self, model: str) -> Outcome:
        self.stream_calls.append(model)
        self._called()
        return self._next(model)

    async def _chunks(
        self,
        messages: Sequence[MessageInput],
        model: str,
        outcome: Outcome,
        record: Callable[[Usage, RouterMetadata], None] | None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        started = time.perf_counter()
        self.open_streams += 1
        try:
            await self._wait(model)
            card = self._card(model)
            if isinstance(outcome, BaseException):
                raise outcome
            if isinstance(outcome, ChatCompletionResponse):
                content = outcome.choices[0].message.content if outcome.choices else None
                text = content if isinstance(content, str) else ""
            else:
                text = outcome if isinstance(outcome, str) else self._reply(model)
            base = {"id": f"fake-{uuid.uuid4().hex[:12]}", "object": "chat.completion.chunk", "model": model}
            for i, word in enumerate(text.split(" ")):
                if isinstance(outcome, MidStreamError) and i >= outcome.after_chunks:
                    raise outcome.error
                delta: dict[str, Any] = {"content": word if i == 0 else f" {word}"}
                if i == 0:
                    delta["role"] = "assistant"
                yield {**base, "created": int(time.time()), "choices": [{"index": 0, "delta": delta}]}
                await asyncio.sleep(0)
            if isinstance(outcome, MidStreamError):
                raise outcome.error
            finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
            yield {**base, "created": int(time.time()), "choices": [finish]}
            usage = self._usage(messages, text)
            last: dict[str, Any] = {**base, "created": int(time.time()), "choices": [], "usage": usage.model_dump()}
            if self.stream_metadata:
                meta = self._metadata(card, usage, started)
                last["router_metadata"] = meta.model_dump(mode="json")
                if record is not None:
                    record(usage, meta)
            yield last
        finally:
            self.open_streams -= 1

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        """USD from the model's card; ``math.inf`` when the price is unknown (never "cheapest")."""
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError(f"token counts must be >= 0, got {input_tokens} and {output_tokens}")
        card = self.cards.get(model)
        cost = card.cost(input_tokens, output_tokens) if card is not None else None
        return math.inf if cost is None else cost

    def get_supported_models(self) -> list[str]:
        """Chat models (cards whose ``mode`` is chat or unset)."""
        return [name for name, card in self.cards.items() if card.mode in (None, "chat")]

    async def health_check(self) -> bool:
        self.health_checks += 1
        self.last_health_error = None if self.healthy else self.health_error or f"{self.provider_name} is set unhealthy"
        return self.healthy

    async def aclose(self) -> None:
        self.closed = True


class FakeProvider(BareFakeProvider):
    """The in-process provider with every optional seam routing uses: its catalog
    (``CatalogProvider``), exact token counts (``TokenCounter``), and streams as a
    :class:`ChatStream` with typed results. Arguments as :class:`BareFakeProvider`'s."""

    def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> ChatStream:
        """Word-sized chunks, a finish chunk, then a usage chunk carrying ``router_metadata``
        (as the proxy's last one), as a :class:`ChatStream` with the typed results. Errors are
        raised on the first read, as an HTTP stream's are."""
        outcome = self._open_stream(model)
        if not self.stream_metadata:  # no metadata to record: the chunks are parsed as they pass
            return ChatStream(self._chunks(messages, model, outcome, None))
        # Typed results are recorded by the producer, as the proxy client's are.
        return producer_stream(
            lambda stream: self._chunks(
                messages, model, outcome, lambda usage, meta: record_results(stream, usage, meta)
            ),
            marks_end=False,
        )

    # ------------------------------------------------------------------ optional seams

    def model_cards(self) -> list[ModelCard]:
        return list(self.cards.values())

    async def refresh_models(self, *, force: bool = False) -> list[ModelCard]:
        self.refreshes += 1
        return self.model_cards()

    async def count_tokens(
        self, messages: list[MessageInput], model: str, *, timeout_seconds: float | None = None
    ) -> int:
        """``exact_tokens`` when set, else the routing estimate."""
        self.token_counts.append(model)
        self._card(model)
        return self.exact_tokens if self.exact_tokens is not None else estimate_prompt_tokens(messages)
