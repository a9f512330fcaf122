"""The host router's provider contract (ModelMuxer style), mirrored field for field.

A ModelMuxer-style host registers providers that subclass :class:`LLMProvider` and
exchange these pydantic models. Keeping our own copy lets the plugin drop into such a
host without importing it, and lets routing code in this package work for any provider.
Our additions are marked; they are optional so host-built objects still validate.

Model cards (:class:`ModelCard`) are what routing knows about each model a provider serves;
any provider can fill them (the LiteLLM proxy reads them from ``/model/info``). Prices nobody
knows stay *unknown* (None), never 0: a cost-aware router that read an unpriced model as free
would send all traffic to it. The error classes a provider raises live in
:mod:`muxer_litellm.errors`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from ._utils import usd_for_tokens, validation_problems

__all__ = [
    "CAPABILITY_FIELDS",
    "Attribution",
    "CatalogProvider",
    "ChatCompletionResponse",
    "ChatMessage",
    "Choice",
    "CostSource",
    "CustomModel",
    "EmbeddingData",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "HealthReporter",
    "Headroom",
    "KeyInfo",
    "LLMProvider",
    "MessageInput",
    "ModelCard",
    "ModelHealth",
    "PricingSource",
    "RouteAttempt",
    "RouterMetadata",
    "TenantProvider",
    "TokenCounter",
    "Usage",
]

# ---------------------------------------------------------------------- model cards

PricingSource = Literal["custom", "proxy", "unknown"]

#: The capability fields of a card (and of LiteLLM's ``model_info``), each True, False or None.
CAPABILITY_FIELDS = (
    "supports_function_calling",
    "supports_vision",
    "supports_response_schema",
    "supports_reasoning",
)


class ModelCard(BaseModel):
    """One routable model name (a LiteLLM ``model_name``, possibly several deployments)."""

    model_config = ConfigDict(frozen=True)

    # Capabilities are None when neither the proxy nor the operator said: routing treats
    # unknown as "maybe", ranked after models known to have the capability.
    name: str
    upstream_model: str | None = None
    model_id: str | None = Field(None, description="Deployment id; None when the name has several.")
    deployment_ids: tuple[str, ...] = ()
    provider: str | None = None
    mode: str | None = None
    input_cost_per_1k: float | None = None
    output_cost_per_1k: float | None = None
    pricing_source: PricingSource = "unknown"
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_function_calling: bool | None = None
    supports_vision: bool | None = None
    supports_response_schema: bool | None = None
    supports_reasoning: bool | None = None
    task_types: tuple[str, ...] = ()
    tier: int | None = Field(None, description="Operator-set strength, 1 = economy; routing infers it when None.")
    rate_limits: dict[str, int] | None = None
    healthy: bool | None = Field(None, description="From the last model_health(); None = not checked.")
    health_error: str | None = None

    @property
    def price_known(self) -> bool:
        return self.input_cost_per_1k is not None and self.output_cost_per_1k is not None

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """USD for that many tokens, or None when the price is unknown."""
        return usd_for_tokens(input_tokens, output_tokens, self.input_cost_per_1k, self.output_cost_per_1k)


class _Pricing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    provider: str | None = None
    upstream_model: str | None = None
    mode: str | None = None
    context_window: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    supports_function_calling: bool | None = None
    supports_vision: bool | None = None
    supports_response_schema: bool | None = None
    supports_reasoning: bool | None = None
    task_types: list[str] | None = None
    tier: int | None = Field(None, ge=1, le=10)


class CustomModel(BaseModel):
    """The ModelMuxer ``custom_models`` shape: prices in USD per 1,000 tokens."""

    model_config = ConfigDict(extra="forbid")

    pricing: _Pricing
    rate_limits: dict[str, int] | None = None
    metadata: _Metadata = Field(default_factory=_Metadata)

    @classmethod
    def parse(cls, model_name: str, raw: Mapping[str, Any] | CustomModel) -> CustomModel:
        """Validate, with a ValueError that names the model and the bad field."""
        if isinstance(raw, CustomModel):
            return raw
        if not isinstance(model_name, str) or not model_name.strip():
            raise ValueError(f"custom model name must be a non-empty string, got {model_name!r}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"custom model {model_name!r} is invalid: {validation_problems(exc)}") from None


class ModelHealth(BaseModel):
    """One deployment's result from the proxy's deep ``/health`` check."""

    model_config = ConfigDict(frozen=True)

    model_name: str | None
    upstream_model: str | None
    model_id: str | None
    healthy: bool
    error: str | None = None


# ---------------------------------------------------------------------- messages and replies

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
    """Our addition: one candidate (``provider/model``) a router tried (or skipped) while answering one request.

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
    time_left_ms: float | None = Field(
        None, description="Milliseconds left of the routed request's deadline when this attempt started."
    )
    retry_after: float | None = Field(None, description="A 429's wait in seconds (before max_cooldown caps it).")
    retry_after_source: Literal["proxy", "default"] | None = Field(
        None, description="proxy: the reply named the wait; default: it named none, so rate_limit_cooldown."
    )


class KeyInfo(BaseModel):
    """Our addition: what the proxy said about the key a call used (its reply headers), None
    where it said nothing (an unset limit arrives as the text "None" and reads as None).

    ``remaining_requests``/``remaining_tokens``: the key's own headroom in the current window
    (``x-ratelimit-api_key-remaining-*``); ``model_remaining_*``: its headroom for this model
    group (``x-litellm-key-remaining-*-{model group}``); ``headroom``: every limiter counter the
    proxy reported (``x-ratelimit-{descriptor}-{remaining|limit}-{kind}``, e.g.
    ``team-remaining-requests``). Bare ``x-ratelimit-*`` headers are the upstream deployment's,
    not the key's, and are not here."""

    model_config = ConfigDict(frozen=True)

    spend: float | None = None
    max_budget: float | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    model_remaining_requests: int | None = None
    model_remaining_tokens: int | None = None
    headroom: dict[str, int] = Field(default_factory=dict)


class Headroom(BaseModel):
    """Our addition: what the upstream deployment that answered said about its own rate limits
    (the ``x-ratelimit-{remaining|limit|reset}-{requests|tokens}`` headers the proxy relays). None
    where it said nothing: an absent header is *unknown*, never zero. ``reset_*`` are seconds until
    that limit is back to full; ``deployment`` names the deployment (``x-litellm-model-id``)."""

    model_config = ConfigDict(frozen=True)

    remaining_requests: int | None = Field(None, ge=0)
    remaining_tokens: int | None = Field(None, ge=0)
    limit_requests: int | None = Field(None, ge=0)
    limit_tokens: int | None = Field(None, ge=0)
    reset_requests: float | None = Field(None, ge=0, allow_inf_nan=False)
    reset_tokens: float | None = Field(None, ge=0, allow_inf_nan=False)
    deployment: str | None = None


class RouterMetadata(BaseModel):
    """How the answer was produced and what it cost.

    ``estimated_cost`` is None when the cost cannot be known: a router must never read
    an unknown cost as free. ``cost_source`` says where a known cost came from.
    """

    model_config = ConfigDict(extra="allow")

    selected_provider: str
    selected_model: str
    #: Routing sets it; a provider answering a direct call leaves the default.
    routing_reason: str = "direct call"
    estimated_cost: float | None = None
    response_time_ms: float
    # Our additions:
    cost_source: CostSource = "unknown"
    call_id: str | None = None
    model_id: str | None = None
    attempted_retries: int | None = None
    attempted_fallbacks: int | None = None
    key: KeyInfo | None = Field(None, description="What the proxy said about the key the call used.")
    request_id: str | None = Field(None, description="The request id sent with the call (every attempt).")
    headroom: Headroom | None = Field(None, description="The upstream deployment's rate-limit headroom, as it said.")
    # Set by muxer_litellm.routing (our addition):
    routing_strategy: str | None = None
    attempts: list[RouteAttempt] = Field(default_factory=list)
    deadline_ms: float | None = Field(None, description="The routed request's whole deadline, when one was set.")
    total_cost: float | None = Field(
        None, description="Answered attempts' cost (failed ones count 0); None if an answered one is unknown."
    )


_HEADER_SAFE = re.compile(r"^[\x21-\x7e]{1,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


class Attribution(BaseModel):
    """Our addition: who a call is for, for the proxy's spend logs and traces.

    ``user``: the end user (the body's ``user``: the proxy's end-user id); ``tags``: spend-log
    tags (``metadata.tags``); ``metadata``: spend-log metadata (``metadata.spend_logs_metadata``,
    JSON values); ``request_id``: one id for every attempt of a request (``x-request-id`` and
    ``spend_logs_metadata.request_id``); ``traceparent``: a W3C trace context
    (``traceparent``, which the proxy reads as the call's trace id). See docs/tenants.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str | None = Field(None, min_length=1, max_length=256)
    tags: tuple[str, ...] = Field((), max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = None
    traceparent: str | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        for tag in tags:
            if not tag.strip() or len(tag) > 256 or "," in tag:
                raise ValueError(f"a tag must be 1-256 characters without a comma, got {tag[:40]!r}")
        return tags

    @field_validator("request_id")
    @classmethod
    def _request_id(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER_SAFE.match(value):
            raise ValueError("request_id must be 1-128 printable ASCII characters without spaces")
        return value

    @field_validator("traceparent")
    @classmethod
    def _traceparent(cls, value: str | None) -> str | None:
        if value is not None and not _TRACEPARENT.match(value):
            raise ValueError("traceparent must be a W3C trace context: 00-<32 hex>-<16 hex>-<2 hex>")
        return value


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
    ``aclose()`` or ``async with``.

    Raise the contract's errors (:mod:`muxer_litellm.errors`) so a router can act on them:
    ``RateLimitError`` (with ``retry_after``), ``ProviderTimeoutError``,
    ``ProviderUnavailableError``, ``ModelNotFoundError``, ``ContextWindowExceededError``,
    ``AuthenticationError``, ``BadRequestError``... Routing reads any other exception as a
    failure of that model (timeouts and connection errors retryable, the rest not). A guide:
    ``docs/native-providers.md``."""

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
    ) -> ChatCompletionResponse:
        """One answer from ``model``. ``kwargs`` are the request's other OpenAI parameters
        (``tools``, ``response_format``...). Fill ``usage`` when known and ``router_metadata``
        with ``selected_provider``, ``selected_model``, ``response_time_ms`` and, when the
        provider knows the price, ``estimated_cost`` with ``cost_source="catalog"`` (None
        otherwise, never 0: routing then prices ``usage`` with :meth:`calculate_cost`)."""

    @abstractmethod
    def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield OpenAI-format chunk dicts as they arrive (an async generator). Put the
        request's ``usage`` on the last chunk (``{"choices": [], "usage": {...}}``): routing
        prices the stream from it with :meth:`calculate_cost`. An error before the first chunk
        lets a router fall back; after it, the caller has seen output and gets the error."""

    @abstractmethod
    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        """USD for that many tokens of ``model``; ``math.inf`` when the price is unknown (a
        router must never read an unknown price as 0 and send everything there)."""

    @abstractmethod
    def get_supported_models(self) -> list[str]:
        """The chat models a router may send to, by the name ``chat_completion`` takes. Routing
        calls only these: a config naming another model has it excluded, with this list."""

    @abstractmethod
    async def health_check(self) -> bool:
        """A cheap probe (no paid call): True when the provider can serve. Routing leaves an
        unhealthy provider out for a while; raising counts as unhealthy."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections; the provider is not used after. Safe to call twice."""

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
class TenantProvider(Protocol):
    """A provider shared by several tenants: its ``chat_completion``, ``stream_chat_completion``
    and ``embeddings`` take per-call ``api_key``, ``extra_headers``, ``attribution`` and
    ``tenant_id`` keywords (routing passes them through), and it says which models a key may
    call (None: it cannot tell, so every model)."""

    async def allowed_models(self, api_key: str | SecretStr | None = None) -> frozenset[str] | None: ...


@runtime_checkable
class HealthReporter(Protocol):
    """A provider that says why its last ``health_check()`` failed (None when it passed)."""

    last_health_error: str | None
