"""The host router's provider contract (ModelMuxer style), mirrored field for field.

A ModelMuxer-style host registers providers that subclass :class:`LLMProvider` and
exchange these pydantic models. Keeping our own copy lets the plugin drop into such a
host without importing it, and lets routing code in this package work for any provider.
Our additions are marked; they are optional so host-built objects still validate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .catalog import ModelCard
from .errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CatalogProvider",
    "HealthReporter",
    "TokenCounter",
    "BudgetExceededError",
    "ChatCompletionResponse",
    "ChatMessage",
    "Choice",
    "ContentPolicyError",
    "ContextWindowExceededError",
    "CostSource",
    "EmbeddingData",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "LLMProvider",
    "MessageInput",
    "ModelNotFoundError",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "RouteAttempt",
    "RouterMetadata",
    "Usage",
]

CostSource = Literal["proxy", "catalog", "unknown"]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ChatMessage(BaseModel):
    """One OpenAI-format message. ``content`` is text, content parts, or None (tool calls)."""

    # Unknown fields (e.g. ``reasoning_content``) are kept, not dropped: they may matter upstream.
    model_config = ConfigDict(extra="allow")

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


MessageInput = ChatMessage | dict[str, Any]


class Usage(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)


class Choice(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int
    message: ChatMessage
    finish_reason: str | None = None


AttemptOutcome = Literal["ok", "accepted", "escalated", "failed", "skipped", "classified", "judged"]


class RouteAttempt(BaseModel):
    """Our addition: one target a router tried (or skipped) while answering one request.

    ``outcome``: ``ok`` (answered), ``accepted``/``escalated`` (a cascade step whose answer
    passed/failed the quality check), ``failed`` (raised ``error``), ``skipped`` (not called:
    cooling down, over budget...; ``detail`` says why), ``classified`` (an opt-in semantic
    classifier's embedding call), ``judged`` (an opt-in judge model's quality check). The last
    two are not answers, but they cost and count in ``total_cost``.
    """

    model_config = ConfigDict(extra="allow")

    provider: str
    model: str
    outcome: AttemptOutcome
    detail: str | None = None
    error: str | None = Field(None, description="Error class name, e.g. RateLimitError.")
    cost: float | None = None
    duration_ms: float | None = None
    quality_score: float | None = None
    retry_after: float | None = Field(None, description="A 429's wait in seconds (before max_cooldown caps it).")
    retry_after_source: Literal["proxy", "default"] | None = Field(
        None, description="proxy: the reply named the wait; default: it named none, so rate_limit_cooldown."
    )


class RouterMetadata(BaseModel):
    """How the answer was produced and what it cost.

    ``estimated_cost`` is None when the cost cannot be known: a router must never read
    an unknown cost as free. ``cost_source`` says where a known cost came from.
    """

    model_config = ConfigDict(extra="allow")

    selected_provider: str
    selected_model: str
    routing_reason: str
    estimated_cost: float | None = None
    response_time_ms: float
    # Our additions:
    cost_source: CostSource = "unknown"
    call_id: str | None = None
    model_id: str | None = None
    attempted_retries: int | None = None
    attempted_fallbacks: int | None = None
    # Set by muxer_litellm.routing (our addition):
    routing_strategy: str | None = None
    attempts: list[RouteAttempt] = Field(default_factory=list)
    total_cost: float | None = Field(
        None, description="Answered attempts' cost (failed ones count 0); None if an answered one is unknown."
    )


class ChatCompletionResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    # None only when the proxy sent no usage; zeros would read as a free, empty call.
    usage: Usage | None = None
    router_metadata: RouterMetadata


class EmbeddingData(BaseModel):
    """Our addition (embeddings are not in ModelMuxer's chat contract)."""

    model_config = ConfigDict(extra="allow")

    index: int
    embedding: list[float] | str
    object: str = "embedding"


class EmbeddingUsage(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)


class EmbeddingResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: str = "list"
    model: str
    data: list[EmbeddingData]
    usage: EmbeddingUsage | None = None
    router_metadata: RouterMetadata


class LLMProvider(ABC):
    """What a host router calls. Subclasses own one pooled HTTP client; close it with
    ``aclose()`` or ``async with``."""

    provider_name: str = ""

    @abstractmethod
    async def chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> ChatCompletionResponse: ...

    @abstractmethod
    def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield OpenAI-format chunk dicts as they arrive (an async generator)."""

    @abstractmethod
    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float: ...

    @abstractmethod
    def get_supported_models(self) -> list[str]: ...

    @abstractmethod
    async def health_check(self) -> bool: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# ---------------------------------------------------------------------- optional seams
# What routing may use beyond the ABC. A native provider that implements one of these is
# routed as well as the proxy is: with its catalog's prices, windows, capabilities and tiers,
# with exact token counts near a context window, and with a reason when it is unhealthy.


@runtime_checkable
class CatalogProvider(Protocol):
    """A provider that describes its models. Without it, routing knows only the names from
    ``get_supported_models()`` and prices from ``calculate_cost()`` (capabilities unknown)."""

    def model_cards(self) -> list[ModelCard]:
        """Every model it serves, from a cache (synchronous: read on every decision)."""
        ...

    async def refresh_models(self, *, force: bool = False) -> list[ModelCard]:
        """Reload the catalog if stale (or ``force``); routing calls it before planning."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """A provider that counts prompt tokens exactly; asked only near a context window."""

    async def count_tokens(
        self, messages: list[MessageInput], model: str, *, timeout_seconds: float | None = None
    ) -> int: ...


@runtime_checkable
class HealthReporter(Protocol):
    """A provider that says why its last ``health_check()`` failed (None when it passed)."""

    last_health_error: str | None
