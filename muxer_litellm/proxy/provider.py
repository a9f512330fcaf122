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
from .._utils import check_tenant_id, new_hash_key, tenant_label, validation_problems
from ..errors import BadRequestError, ProviderError
from ..host import (
    Attribution,
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
from .cost import call_metadata, parse_cost, resolve_cost
from .headers import proxy_headers
from .health import probe, read_model_health
from .limits import ReplyLimits
from .payload import attribute, chat_payload, embeddings_payload, message_dicts
from .replies import PROVIDER
from .sse import MAX_TOKENS
from .stream import StreamLimits, open_chat_stream
from .tenants import KeyModels, TenantGate
from .transport import DEFAULT_TIMEOUT, KEEPALIVE_EXPIRY, CallAuth, ProxyTransport, check_api_key
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


#: The tenant label of calls made with the provider's own key.
OWN_KEY = "_"


class _Call:
    """One call's tenant: its credentials and headers (None: the provider's own), its label
    (the given id, a keyed hash of its key, or the provider's own) and its request id."""

    __slots__ = ("auth", "label", "request_id", "tenant")

    def __init__(self, auth: CallAuth | None, tenant: str, request_id: str | None) -> None:
        self.auth = auth
        self.tenant = tenant
        #: For metrics: None for the provider's own key (no tenant named).
        self.label = None if tenant == OWN_KEY else tenant
        self.request_id = request_id


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
        max_tenant_in_flight: int | None = None,
        tenant_retry_after: float = 1.0,
        tenant_hash_key: str | SecretStr | None = None,
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
        flight finish for ``drain_timeout`` seconds.

        Several tenants (docs/tenants.md): ``max_tenant_in_flight`` caps each tenant's calls in
        flight on the shared pool (one more raises ``TenantBusyError``, retryable after
        ``tenant_retry_after`` seconds); ``tenant_hash_key`` keys the hash that labels a tenant
        by its key (random per process when unset)."""
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
        cap = max_tenant_in_flight
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"max_tenant_in_flight must be a positive integer or None, got {max_tenant_in_flight!r}")
        if isinstance(tenant_retry_after, bool) or not isinstance(tenant_retry_after, (int, float)):
            raise ValueError(f"tenant_retry_after must be a number of seconds, got {tenant_retry_after!r}")
        if not 0 <= tenant_retry_after < math.inf:
            raise ValueError(f"tenant_retry_after must be a number of seconds, got {tenant_retry_after!r}")
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
        hash_key = check_api_key(tenant_hash_key)
        self._hash_key = hash_key.get_secret_value().encode() if hash_key is not None else new_hash_key()
        self._gate = None if max_tenant_in_flight is None else TenantGate(max_tenant_in_flight, tenant_retry_after)
        self._key_models = KeyModels(lambda: self.catalog_ttl)

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

    # ------------------------------------------------------------------ tenants

    def tenant_of(self, api_key: str | SecretStr | None = None, tenant_id: str | None = None) -> str:
        """The label a call is counted under: ``tenant_id`` when given, else a keyed hash of
        ``api_key``, else ``"_"`` (the provider's own key). Never the key itself."""
        if tenant_id is not None:
            try:
                return check_tenant_id(tenant_id)
            except ValueError as exc:
                raise BadRequestError(str(exc), provider=PROVIDER) from None
        if api_key is None:
            return OWN_KEY
        secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        return tenant_label(secret.strip(), self._hash_key) if isinstance(secret, str) else OWN_KEY

    def _call(
        self,
        payload: dict[str, Any],
        model: str,
        api_key: str | SecretStr | None,
        extra_headers: Mapping[str, str] | None,
        attribution: Attribution | Mapping[str, Any] | None,
        tenant_id: str | None,
    ) -> _Call:
        """This call's tenant, with its attribution put on ``payload``."""
        headers: dict[str, str] = {}
        request_id = None
        if attribution is not None:
            if not isinstance(attribution, Attribution):
                try:
                    attribution = Attribution.model_validate(attribution)
                except ValidationError as exc:
                    raise BadRequestError(
                        f"attribution is invalid: {validation_problems(exc)}", model=model, provider=PROVIDER
                    ) from None
            headers = attribute(payload, attribution, model)
            request_id = attribution.request_id
        if extra_headers:
            headers = {**extra_headers, **headers}
        auth = CallAuth(api_key, headers) if api_key is not None or headers else None
        return _Call(auth, self.tenant_of(api_key, tenant_id), request_id)

    async def allowed_models(self, api_key: str | SecretStr | None = None) -> frozenset[str] | None:
        """The model names ``api_key`` (default: the provider's own) may call: the proxy's
        ``/v1/models`` for that key, cached per key (by its keyed hash) for ``catalog_ttl``.
        Routing keeps a tenant's candidates to these. Raises the key's typed error (an
        ``AuthenticationError`` for a key the proxy refuses)."""
        auth = CallAuth(api_key, None) if api_key is not None else None
        tenant = self.tenant_of(api_key)

        async def fetch() -> frozenset[str]:
            return frozenset(m["id"] for m in await self._models_for(auth))

        return await self._key_models.get(tenant, fetch)

    def _enter(self, call: _Call, model: str) -> None:
        if self._gate is not None:
            self._gate.enter(call.tenant, model)

    def _leave(self, call: _Call) -> None:
        if self._gate is not None:
            self._gate.leave(call.tenant)

    # ------------------------------------------------------------------ chat

    async def chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        *,
        api_key: str | SecretStr | None = None,
        extra_headers: Mapping[str, str] | None = None,
        attribution: Attribution | Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        """One chat completion; ``router_metadata`` says what it cost and where that came from.

        ``api_key`` (a tenant's virtual key; default the provider's), ``extra_headers``,
        ``attribution`` (who the call is for, see :class:`Attribution`) and ``tenant_id`` (its
        label in metrics and the in-flight cap) apply to this call only, on the shared pool."""
        if stream:
            raise BadRequestError(
                "chat_completion(stream=True) is not supported: iterate stream_chat_completion() instead; "
                "its last chunk carries usage and cost",
                model=model,
                provider=PROVIDER,
            )
        payload = chat_payload(messages, model, max_tokens, temperature, kwargs)
        call = self._call(payload, model, api_key, extra_headers, attribution, tenant_id)
        if self._observer is None:
            return await self._chat(payload, model, call)
        return await self._observer.traced("chat", model, payload, self._chat(payload, model, call), call.label)

    async def _chat(self, payload: dict[str, Any], model: str, call: _Call) -> ChatCompletionResponse:
        self._enter(call, model)
        try:
            return await self._chat_call(payload, model, call)
        finally:
            self._leave(call)

    async def _chat_call(self, payload: dict[str, Any], model: str, call: _Call) -> ChatCompletionResponse:
        started = time.perf_counter()
        transport = self._transport
        response = await transport.request("POST", "/v1/chat/completions", json=payload, model=model, call=call.auth)
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
        reply.router_metadata = call_metadata(model, started, headers, cost, source, call.request_id)
        return reply

    def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        *,
        api_key: str | SecretStr | None = None,
        extra_headers: Mapping[str, str] | None = None,
        attribution: Attribution | Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        **kwargs: Any,
    ) -> ChatStream:
        """A :class:`ChatStream` of chunk dicts as they arrive. The last one carries ``usage``
        and a ``router_metadata`` dict with the cost; ``stream.usage`` / ``.metadata`` /
        ``.cost`` give the same typed. ``async with`` or ``aclose()`` frees the connection.
        The per-call keywords are :meth:`chat_completion`'s; a tenant's stream counts as in
        flight until it ends or is closed."""

        def payload() -> tuple[dict[str, Any], _Call]:
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
            return body, self._call(body, model, api_key, extra_headers, attribution, tenant_id)

        transport = self._transport
        return open_chat_stream(
            transport,
            payload,
            model,
            self._cost,
            self._observer,
            self._stream_limits,
            transport.guard,
            self._enter,
            self._leave,
        )

    # ------------------------------------------------------------------ embeddings

    async def embeddings(
        self,
        input: str | list[str] | list[int] | list[list[int]],
        model: str,
        *,
        api_key: str | SecretStr | None = None,
        extra_headers: Mapping[str, str] | None = None,
        attribution: Attribution | Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        **kwargs: Any,
    ) -> EmbeddingResponse:
        """Embed text through ``/v1/embeddings``, with usage and cost like a chat call (and
        :meth:`chat_completion`'s per-call keywords)."""
        payload = embeddings_payload(input, model, kwargs)
        call = self._call(payload, model, api_key, extra_headers, attribution, tenant_id)
        if self._observer is None:
            return await self._embed(payload, model, call)
        return await self._observer.traced("embeddings", model, payload, self._embed(payload, model, call), call.label)

    async def _embed(self, payload: dict[str, Any], model: str, call: _Call) -> EmbeddingResponse:
        self._enter(call, model)
        try:
            return await self._embed_call(payload, model, call)
        finally:
            self._leave(call)

    async def _embed_call(self, payload: dict[str, Any], model: str, call: _Call) -> EmbeddingResponse:
        started = time.perf_counter()
        transport = self._transport
        response = await transport.request("POST", "/v1/embeddings", json=payload, model=model, call=call.auth)
        data = transport.json_object(response, model)
        try:
            items = [EmbeddingData.model_validate(d) for d in data["data"]]
            usage = EmbeddingUsage.model_validate(data["usage"]) if data.get("usage") is not None else None
        except (KeyError, TypeError, ValidationError) as exc:
            raise transport.malformed("embedding response", exc, response, model) from None
        headers = proxy_headers(response.headers)
        cost, source = await self._cost(
            model,
            headers.get("x-litellm-model-id"),
            parse_cost(headers.get("x-litellm-response-cost")),
            usage.prompt_tokens if usage else None,
            0 if usage else None,
        )
        return EmbeddingResponse(
            model=str(data.get("model") or model),
            data=items,
            usage=usage,
            router_metadata=call_metadata(model, started, headers, cost, source, call.request_id),
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
        return await self._models_for(None)

    async def _models_for(self, auth: CallAuth | None) -> list[dict[str, Any]]:
        response = await self._transport.request("GET", "/v1/models", call=auth)
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
