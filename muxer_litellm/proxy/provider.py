"""``LiteLLMProvider``: a host-router provider backed by a separately deployed LiteLLM proxy.

A thin facade: :mod:`.transport` sends (one pooled ``httpx.AsyncClient``, typed errors),
:mod:`.payload` shapes and checks requests, :mod:`.stream` streams, :mod:`.cost` prices,
:mod:`.catalog` reads ``/model/info``, :mod:`.health` probes. This class wires them to the
host contract (``muxer_litellm.host``) and its optional seams (catalog, token counting,
health reasons), so routing can use it like any native provider.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from .._stream import ChatStream
from .._utils import validation_problems
from ..errors import BadRequestError, ProviderError
from ..host import (
    ChatCompletionResponse,
    CostSource,
    CustomModel,
    EmbeddingData,
    EmbeddingResponse,
    EmbeddingUsage,
    LLMProvider,
    MessageInput,
    ModelCard,
    ModelHealth,
    RouterMetadata,
)
from ..observability import MetricsHook, Observer, PrometheusMetrics
from ..settings import HttpTransport, LiteLLMSettings, normalize_base_url
from .catalog import ModelCatalog
from .cost import call_metadata, parse_cost, proxy_headers, resolve_cost
from .health import probe, read_model_health
from .limits import ReplyLimits
from .payload import chat_payload, embeddings_payload, message_dicts
from .replies import PROVIDER
from .sse import MAX_TOKENS
from .stream import StreamLimits, open_chat_stream
from .transport import DEFAULT_TIMEOUT, KEEPALIVE_EXPIRY, ProxyTransport, check_api_key
from .versions import parse_version, version_warning

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["DEFAULT_TIMEOUT", "LiteLLMProvider"]

logger = logging.getLogger("muxer_litellm")

_CHAT_MODES = (None, "chat", "completion", "responses")
#: Stands in for a chat reply's metadata while the reply is validated (see ``_chat``).
_PENDING = RouterMetadata(selected_provider=PROVIDER, selected_model="", routing_reason="", response_time_ms=0.0)


class _Options(BaseModel):
    """The constructor's numeric options, checked once by pydantic (finite, in range, no bools)."""

    model_config = ConfigDict(strict=True)

    catalog_ttl: float = Field(ge=0, allow_inf_nan=False)
    health_timeout: float = Field(gt=0, allow_inf_nan=False)
    deep_health_timeout: float = Field(gt=0, allow_inf_nan=False)
    timeout: float | None = Field(None, gt=0, allow_inf_nan=False)
    deadline: float | None = Field(None, gt=0, allow_inf_nan=False)
    stream_timeout: float | None = Field(None, gt=0, allow_inf_nan=False)
    drain_timeout: float = Field(ge=0, allow_inf_nan=False)


class _TokenCounts(BaseModel):
    model_config = ConfigDict(strict=True)

    input_tokens: int = Field(ge=0, le=MAX_TOKENS)
    output_tokens: int = Field(ge=0, le=MAX_TOKENS)


class LiteLLMProvider(LLMProvider):
    """Calls a LiteLLM proxy over HTTP; see the README for registering it in a host."""

    provider_name = PROVIDER

    def __init__(
        self,
        base_url: str = "http://localhost:4000",
        api_key: str | SecretStr | None = None,
        *,
        custom_models: Mapping[str, Mapping[str, Any] | CustomModel] | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        catalog_ttl: float = 300.0,
        http_client: httpx.AsyncClient | None = None,
        health_timeout: float = 5.0,
        deep_health_timeout: float = 120.0,
        limits: httpx.Limits | None = None,
        event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None = None,
        tracer: Tracer | bool | None = None,
        metrics: MetricsHook | None = None,
        capture_content: bool = False,
        deadline: float | None = None,
        stream_timeout: float | None = None,
        reply_limits: ReplyLimits | None = None,
        drain_timeout: float = 10.0,
        http_transport: HttpTransport | None = None,
    ) -> None:
        """``tracer`` (an OpenTelemetry ``Tracer``, or True for the global provider's) opens a
        span per call; ``metrics`` is called with a ``CallRecord`` per call (e.g.
        ``PrometheusMetrics()``); ``capture_content`` puts prompt and answer text on spans.
        All off by default, and then free (see ``observability``). ``event_hooks`` go to the
        pooled client this provider builds (httpx's request/response hooks); with your own
        ``http_client``, set them on that client instead. ``http_transport`` is what that
        client sends over: ``"aiohttp"`` (the default: aiohttp's connection pool under httpx's
        API) or ``"httpx"`` (httpx's own pool); ``limits`` and ``timeout`` apply to either.

        Limits (docs/limits.md): ``deadline`` bounds a whole non-streamed call, connect to last
        byte (default: the read timeout); a stream's first data event and each gap between data
        events are bounded by the read timeout, and the whole stream by ``stream_timeout``
        (default: none); ``reply_limits`` bounds decoded reply sizes; ``aclose()`` lets calls in
        flight finish for ``drain_timeout`` seconds."""
        if http_client is not None and event_hooks:
            raise ValueError("pass event_hooks or http_client, not both: set the hooks on your own client")
        if http_client is not None and http_transport is not None:
            raise ValueError("pass http_transport or http_client, not both: your own client sends as it is built")
        if http_transport not in (None, "aiohttp", "httpx"):
            raise ValueError(f"http_transport must be 'aiohttp' or 'httpx', got {http_transport!r}")
        try:
            options = _Options(
                catalog_ttl=catalog_ttl,
                health_timeout=health_timeout,
                deep_health_timeout=deep_health_timeout,
                timeout=None if isinstance(timeout, httpx.Timeout) else timeout,
                deadline=deadline,
                stream_timeout=stream_timeout,
                drain_timeout=drain_timeout,
            )
        except ValidationError as exc:
            raise ValueError(f"invalid LiteLLMProvider option: {validation_problems(exc)}") from None
        if not isinstance(timeout, httpx.Timeout):
            assert options.timeout is not None
            timeout = httpx.Timeout(options.timeout, connect=min(5.0, options.timeout))
        self.base_url = normalize_base_url(base_url)
        self.timeout: httpx.Timeout = timeout
        self.catalog_ttl = options.catalog_ttl
        self.health_timeout = options.health_timeout
        self.deep_health_timeout = options.deep_health_timeout
        read_timeout = timeout.read if timeout.read is not None else DEFAULT_TIMEOUT.read
        assert read_timeout is not None
        #: Seconds a whole non-streamed call may take; a stream's first data event and each gap.
        self.deadline: float = options.deadline if options.deadline is not None else read_timeout
        self.stream_timeout = options.stream_timeout
        self.drain_timeout = options.drain_timeout
        self.reply_limits = reply_limits or ReplyLimits()
        self._stream_limits = StreamLimits(gap=read_timeout, total=self.stream_timeout, event=self.reply_limits.event)
        self._api_key = check_api_key(api_key)
        parsed = {name: CustomModel.parse(name, raw) for name, raw in (custom_models or {}).items()}
        self._catalog = ModelCatalog(parsed)
        self._refresh_task: asyncio.Future[None] | None = None
        self._transport = ProxyTransport(
            self.base_url,
            self._api_key,
            timeout=timeout,
            deadline=self.deadline,
            reply_limits=self.reply_limits,
            http_client=http_client,
            limits=limits,
            event_hooks=event_hooks,
            http_transport=http_transport or "aiohttp",
        )
        # None unless tracing or metrics is on: then each call pays one `is None` check, nothing more.
        self._observer: Observer | None = Observer.create(
            tracer, metrics, capture_content=capture_content, base_url=self.base_url, secrets=self._transport.secrets
        )
        #: The proxy's LiteLLM version, read by the first health_check() that reached the
        #: proxy (see ``_read_version``); None until then, or when the proxy names none.
        self.proxy_version: str | None = None
        self._version_checked = False
        #: Why the last health_check() failed (redacted), for operators and CLIs.
        self.last_health_error: str | None = None

    @classmethod
    def from_settings(cls, settings: LiteLLMSettings | None = None, **overrides: Any) -> LiteLLMProvider:
        """Build from ``LITELLM_*`` environment variables / ``.env`` (see README)."""
        s = settings or LiteLLMSettings()
        kwargs: dict[str, Any] = {
            "base_url": s.base_url,
            "api_key": s.api_key,
            "timeout": httpx.Timeout(s.timeout, connect=s.connect_timeout),
            "catalog_ttl": s.catalog_ttl,
            "health_timeout": s.health_timeout,
            "deep_health_timeout": s.deep_health_timeout,
            "deadline": s.deadline,
            "stream_timeout": s.stream_timeout,
            "drain_timeout": s.drain_timeout,
            "reply_limits": ReplyLimits(
                chat=s.max_chat_reply_bytes,
                embeddings=s.max_embeddings_reply_bytes,
                catalog=s.max_catalog_reply_bytes,
                health=s.max_health_reply_bytes,
                event=s.max_event_bytes,
            ),
            "limits": httpx.Limits(
                max_connections=s.max_connections,
                max_keepalive_connections=s.max_keepalive_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY,  # see transport.KEEPALIVE_EXPIRY
            ),
        }
        if "http_client" not in overrides:
            kwargs["http_transport"] = s.http_transport
        if s.tracing:
            kwargs["tracer"] = True
        if s.metrics and "metrics" not in overrides:
            kwargs["metrics"] = PrometheusMetrics.default()
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        key = "'***'" if self._api_key is not None else "None"
        return f"LiteLLMProvider(base_url={self.base_url!r}, api_key={key})"

    @property
    def closed(self) -> bool:
        """True after ``aclose()``: every call then raises ProviderClosedError."""
        return self._transport.closed

    # ------------------------------------------------------------------ cost

    async def _card_for_cost(self, model: str, model_id: str | None) -> ModelCard | None:
        """The catalog card to price a call the proxy did not bill; refreshes a stale
        catalog, but a failed refresh only makes the cost unknown, never the call fail."""
        if not self._catalog.is_fresh(self.catalog_ttl):
            try:
                await self.refresh_models()
            except ProviderError as exc:
                logger.warning("could not refresh the LiteLLM model catalog for pricing: %s", exc)
        return self._catalog.for_call(model, model_id)

    async def _cost(
        self, model: str, model_id: str | None, proxy_cost: float | None, prompt: int | None, completion: int | None
    ) -> tuple[float | None, CostSource]:
        card = None
        if proxy_cost is None or proxy_cost <= 0:
            card = await self._card_for_cost(model, model_id)
        return resolve_cost(proxy_cost, prompt, completion, card)

    # ------------------------------------------------------------------ chat

    async def chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        """One chat completion; ``router_metadata`` says what it cost and where that came from."""
        if stream:
            raise BadRequestError(
                "chat_completion(stream=True) is not supported: iterate stream_chat_completion() instead; "
                "its last chunk carries usage and cost",
                model=model,
                provider=PROVIDER,
            )
        payload = chat_payload(messages, model, max_tokens, temperature, kwargs)
        if self._observer is None:
            return await self._chat(payload, model)
        return await self._observer.traced("chat", model, payload, self._chat(payload, model))

    async def _chat(self, payload: dict[str, Any], model: str) -> ChatCompletionResponse:
        started = time.perf_counter()
        transport = self._transport
        response = await transport.request("POST", "/v1/chat/completions", json=payload, model=model)
        data = transport.json_object(response, model)
        # One validation pass over the reply (choices, usage, extra fields); the metadata is
        # not known until the cost is, so a placeholder stands in and is replaced below.
        data["router_metadata"] = _PENDING
        try:
            reply = ChatCompletionResponse.model_validate(data)
        except ValidationError as exc:
            raise transport.malformed("chat completion", exc, response, model) from None
        headers = proxy_headers(response.headers)
        usage = reply.usage
        cost, source = await self._cost(
            model,
            headers.get("x-litellm-model-id"),
            parse_cost(headers.get("x-litellm-response-cost")),
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
        )
        reply.router_metadata = call_metadata(model, started, headers, cost, source)
        return reply

    def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> ChatStream:
        """A :class:`ChatStream` of chunk dicts as they arrive. The last one carries ``usage``
        and a ``router_metadata`` dict with the cost; ``stream.usage`` / ``.metadata`` /
        ``.cost`` give the same typed. ``async with`` or ``aclose()`` frees the connection."""

        def payload() -> dict[str, Any]:
            options = kwargs.pop("stream_options", None)
            if options is None:
                options = {}
            if not isinstance(options, dict):
                raise BadRequestError(
                    f"stream_options must be a dict, got {type(options).__name__}", model=model, provider=PROVIDER
                )
            body = chat_payload(messages, model, max_tokens, temperature, kwargs)
            body["stream"] = True
            body["stream_options"] = {**options, "include_usage": True}
            return body

        transport = self._transport
        return open_chat_stream(
            transport, payload, model, self._cost, self._observer, self._stream_limits, transport.guard
        )

    # ------------------------------------------------------------------ embeddings

    async def embeddings(
        self, input: str | list[str] | list[int] | list[list[int]], model: str, **kwargs: Any
    ) -> EmbeddingResponse:
        """Embed text through ``/v1/embeddings``, with usage and cost like a chat call."""
        payload = embeddings_payload(input, model, kwargs)
        if self._observer is None:
            return await self._embed(payload, model)
        return await self._observer.traced("embeddings", model, payload, self._embed(payload, model))

    async def _embed(self, payload: dict[str, Any], model: str) -> EmbeddingResponse:
        started = time.perf_counter()
        transport = self._transport
        response = await transport.request("POST", "/v1/embeddings", json=payload, model=model)
        data = transport.json_object(response, model)
        try:
            items = [EmbeddingData.model_validate(d) for d in data["data"]]
            usage = EmbeddingUsage.model_validate(data["usage"]) if data.get("usage") is not None else None
        except (KeyError, TypeError, ValidationError) as exc:
            raise transport.malformed("embedding response", exc, response, model) from None
        cost, source = await self._cost(
            model,
            response.headers.get("x-litellm-model-id"),
            parse_cost(response.headers.get("x-litellm-response-cost")),
            usage.prompt_tokens if usage else None,
            0 if usage else None,
        )
        return EmbeddingResponse(
            model=str(data.get("model") or model),
            data=items,
            usage=usage,
            router_metadata=call_metadata(model, started, response.headers, cost, source),
        )

    # ------------------------------------------------------------------ catalog

    async def refresh_models(self, *, force: bool = False) -> list[ModelCard]:
        """Read ``/model/info`` into the catalog, unless it is younger than ``catalog_ttl``.

        Concurrent callers share one request. On failure the previous catalog is kept
        and the error raised.
        """
        if not force and self._catalog.is_fresh(self.catalog_ttl):
            return self._catalog.cards()
        task = self._refresh_task
        if task is None or task.done():
            task = asyncio.ensure_future(self._fetch_model_info())
            # Retrieve the outcome even if every waiter was cancelled (no "never retrieved").
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._refresh_task = task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and self.closed and (current is None or not current.cancelling()):
                # aclose() cancelled the shared refresh, not this caller: say what happened.
                raise self._transport.closed_error(None) from None
            raise
        return self._catalog.cards()

    async def _fetch_model_info(self) -> None:
        response = await self._transport.request("GET", "/model/info")
        payload = self._transport.json_object(response, None)
        try:
            self._catalog.load(payload)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise ProviderError(
                f"LiteLLM proxy returned an unusable /model/info: {exc}", response.status_code, PROVIDER
            ) from None
        logger.debug("litellm catalog refreshed: %d models", len(self._catalog.names()))

    def model_cards(self) -> list[ModelCard]:
        """Every card in the cached catalog (chat, embedding and custom models)."""
        return self._catalog.cards()

    def get_model_info(self, model: str) -> ModelCard | None:
        """The cached card for a model name, or None if the catalog has no such model."""
        return self._catalog.get(model)

    def get_supported_models(self) -> list[str]:
        """Chat-capable model names from the cached catalog (call ``refresh_models()`` first)."""
        return [c.name for c in self._catalog.cards() if c.mode in _CHAT_MODES]

    def add_custom_model(
        self,
        model_name: str,
        pricing: Mapping[str, float],
        rate_limits: Mapping[str, int] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ModelCard:
        """Declare or override a model (prices in USD per 1K tokens); wins over the proxy."""
        # As given: pydantic names a bad field (a None or a list where a mapping belongs).
        raw = {"pricing": pricing, "rate_limits": rate_limits, "metadata": {} if metadata is None else metadata}
        custom = CustomModel.parse(model_name, raw)
        return self._catalog.add_custom(model_name, custom)

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        """USD for the tokens at the catalog price; ``math.inf`` when the price is unknown,
        so a cost-aware router never picks it as cheapest and no budget accepts it."""
        if not (type(input_tokens) is int and type(output_tokens) is int) or not (
            0 <= input_tokens <= MAX_TOKENS and 0 <= output_tokens <= MAX_TOKENS
        ):
            try:
                _TokenCounts(input_tokens=input_tokens, output_tokens=output_tokens)
            except ValidationError as exc:
                raise ValueError(f"token counts must be non-negative integers: {validation_problems(exc)}") from None
        card = self._catalog.get(model)
        cost = card.cost(input_tokens, output_tokens) if card is not None else None
        return math.inf if cost is None else cost

    async def get_available_models(self) -> list[dict[str, Any]]:
        """The proxy's ``/v1/models`` list (dicts with at least ``id``) for this key."""
        response = await self._transport.request("GET", "/v1/models")
        data = self._transport.json_object(response, None).get("data")
        if not isinstance(data, list):
            raise ProviderError("LiteLLM proxy /v1/models reply has no 'data' list", response.status_code, PROVIDER)
        return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def count_tokens(
        self, messages: list[MessageInput], model: str, *, timeout_seconds: float | None = None
    ) -> int:
        """Prompt tokens as the proxy's ``/utils/token_counter`` counts them for ``model``
        (its tokenizer, no model call). Routing asks only when an estimate is close to a
        context window, where being exact decides whether the prompt fits."""
        payload = {"model": model, "messages": message_dicts(messages)}
        response = await self._transport.request(
            "POST", "/utils/token_counter", json=payload, model=model, timeout_seconds=timeout_seconds
        )
        total = self._transport.json_object(response, model).get("total_tokens")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ProviderError(
                f"LiteLLM proxy /utils/token_counter gave no usable total_tokens: {total!r}",
                response.status_code,
                PROVIDER,
                model=model,
            )
        return total

    # ------------------------------------------------------------------ health

    async def health_check(self) -> bool:
        """Cheap probe: ``/health/readiness`` answers and an authenticated ``/v1/models``
        succeeds, so a wrong key reads unhealthy. Makes no model calls. The first time, also
        reads the proxy's version (``proxy_version``) and logs one warning when it is outside
        the tested range."""
        self.last_health_error, readiness = await probe(self._transport, self.health_timeout)
        if readiness is not None and not self._version_checked:
            await self._read_version(readiness)
        if self.last_health_error is not None:
            logger.warning("LiteLLM proxy unhealthy: %s", self.last_health_error)
            return False
        return True

    async def _read_version(self, readiness: Mapping[str, Any]) -> None:
        """Once per provider: the proxy's version from ``/health/readiness``, or from
        ``/health/readiness/details`` (newer proxies show it only to a key); one warning when
        it is outside the tested range."""
        raw = readiness.get("litellm_version")
        if raw is None and self.last_health_error is not None:
            return  # the details need an accepted key: ask again once the proxy is healthy
        self._version_checked = True
        if raw is None:
            try:
                details = await self._transport.request(
                    "GET", "/health/readiness/details", timeout_seconds=self.health_timeout
                )
                raw = self._transport.json_object(details, None).get("litellm_version")
            except ProviderError as exc:
                logger.debug("the LiteLLM proxy does not report its version: %s", exc)
        printable = isinstance(raw, str) and raw.isascii() and raw.isprintable()
        self.proxy_version = str(raw)[:64] if printable else None
        version = parse_version(raw)
        warning = None if version is None else version_warning(version)
        if warning is not None:
            logger.warning("%s", warning)

    async def model_health(self) -> list[ModelHealth]:
        """The proxy's deep ``/health``: one real call per deployment (slow, billable).

        Opt-in only. Results are also written to the catalog cards' ``healthy`` field:
        a name counts healthy when any of its deployments is.
        """
        response = await self._transport.request("GET", "/health", timeout_seconds=self.deep_health_timeout)
        data = self._transport.json_object(response, None)
        if not self._catalog.loaded:
            try:
                await self.refresh_models()
            except ProviderError as exc:
                logger.warning("could not load the catalog to name health results: %s", exc)
        return read_model_health(data, self._catalog, self._transport)

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self, *, drain_timeout: float | None = None) -> None:
        """Refuse new calls at once (:class:`ProviderClosedError`), let calls in flight finish
        for up to ``drain_timeout`` seconds (default: the constructor's), then stop them with
        ProviderClosedError, and close the pooled client (only if we created it) and any
        catalog refresh. A shutdown never waits on a stuck upstream longer than that."""
        task, self._refresh_task = self._refresh_task, None
        if task is not None and not task.done():
            task.cancel()
        await self._transport.aclose(self.drain_timeout if drain_timeout is None else drain_timeout)
