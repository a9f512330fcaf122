"""``LiteLLMProvider``: a host-router provider backed by a separately deployed LiteLLM proxy.

A thin, typed object over one pooled ``httpx.AsyncClient``: it shapes requests, turns
the proxy's replies into the host contract, reports what each call cost, and maps every
failure to a typed error a router can fall back on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr, ValidationError

from . import __version__
from .catalog import CustomModel, ModelCard, ModelCatalog, ModelHealth
from .cost import parse_cost, resolve_cost
from .errors import (
    BadRequestError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from .host import (
    ChatCompletionResponse,
    ChatMessage,
    Choice,
    CostSource,
    EmbeddingData,
    EmbeddingResponse,
    EmbeddingUsage,
    LLMProvider,
    MessageInput,
    RouterMetadata,
    Usage,
)
from .observability import MetricsHook, Observer, PrometheusMetrics
from .proxy_errors import PROVIDER, error_from_body, redact
from .settings import LiteLLMSettings, normalize_base_url
from .streaming import StreamUsage, iter_chunks
from .validation import validation_problems

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["DEFAULT_TIMEOUT", "LiteLLMProvider"]

logger = logging.getLogger("muxer_litellm")

#: Long reads (LLM answers take a while), short connects (a dead proxy should fail fast).
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
_CHAT_MODES = (None, "chat", "completion", "responses")


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    """A non-negative count from a header; None when absent or garbage (never an exception:
    a metadata header must not cost the caller a successful reply)."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = int(float(raw))
    except (ValueError, OverflowError):
        return None
    return value if value >= 0 else None


def _first_line(text: Any, limit: int = 300) -> str | None:
    if text is None:
        return None
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line[:limit] or None


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
    ) -> None:
        """``tracer`` (an OpenTelemetry ``Tracer``, or True for the global provider's) opens a
        span per call; ``metrics`` is called with a ``CallRecord`` per call (e.g.
        ``PrometheusMetrics()``); ``capture_content`` puts prompt and answer text on spans.
        All off by default, and then free (see ``observability``). ``event_hooks`` go to the
        pooled client this provider builds (httpx's request/response hooks, e.g. for a CLI that
        inspects 404s); with your own ``http_client``, set them on that client instead."""
        if http_client is not None and event_hooks:
            raise ValueError("pass event_hooks or http_client, not both: set the hooks on your own client")
        self.base_url = normalize_base_url(base_url)
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        # An empty or blank key (e.g. LITELLM_API_KEY="") means "no key", not "Bearer  ".
        api_key = SecretStr(api_key.strip()) if api_key is not None and api_key.strip() else None
        self._api_key: SecretStr | None = api_key
        if catalog_ttl < 0 or math.isnan(catalog_ttl):
            raise ValueError(f"catalog_ttl must be >= 0 seconds, got {catalog_ttl!r}")
        for name, value in (("health_timeout", health_timeout), ("deep_health_timeout", deep_health_timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
        if isinstance(timeout, (int, float)):
            if not timeout > 0:
                raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
            timeout = httpx.Timeout(float(timeout), connect=min(5.0, float(timeout)))
        self.timeout: httpx.Timeout = timeout
        self.catalog_ttl = float(catalog_ttl)
        self.health_timeout = float(health_timeout)
        self.deep_health_timeout = float(deep_health_timeout)
        parsed = {name: CustomModel.parse(name, raw) for name, raw in (custom_models or {}).items()}
        self._catalog = ModelCatalog(parsed)
        self._refresh_task: asyncio.Future[None] | None = None
        # None unless tracing or metrics is on: then each call pays one `is None` check, nothing more.
        self._observer: Observer | None = Observer.create(
            tracer, metrics, capture_content=capture_content, base_url=self.base_url, secrets=self._secrets()
        )
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=self.timeout,
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"User-Agent": f"muxer-litellm/{__version__}"},
            event_hooks={k: list(v) for k, v in (event_hooks or {}).items()},
        )
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
            "limits": httpx.Limits(
                max_connections=s.max_connections, max_keepalive_connections=s.max_keepalive_connections
            ),
        }
        if s.tracing:
            kwargs["tracer"] = True
        if s.metrics and "metrics" not in overrides:
            kwargs["metrics"] = PrometheusMetrics.default()
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        key = "'***'" if self._api_key is not None else "None"
        return f"LiteLLMProvider(base_url={self.base_url!r}, api_key={key})"

    # ------------------------------------------------------------------ HTTP plumbing

    def _secrets(self) -> list[str | None]:
        return [self._api_key.get_secret_value() if self._api_key else None]

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        return headers

    def _transport_error(self, exc: httpx.HTTPError, model: str | None) -> ProviderError:
        detail = redact(str(exc) or type(exc).__name__, self._secrets())
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeoutError(
                f"LiteLLM proxy at {self.base_url} did not answer in time ({type(exc).__name__}: {detail})",
                None,
                PROVIDER,
                model=model,
            )
        return ProviderUnavailableError(
            f"LiteLLM proxy not reachable at {self.base_url} ({type(exc).__name__}: {detail})",
            None,
            PROVIDER,
            model=model,
        )

    def _status_error(self, response: httpx.Response, model: str | None) -> ProviderError:
        text = response.text
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if self._api_key is None and response.status_code == 500 and body is None:
            # A proxy with a master_key answers a keyless request with a bare 500 (litellm 1.106).
            text = f"{text.strip() or '(empty body)'} (no API key is set: set LITELLM_API_KEY)"
        return error_from_body(
            response.status_code,
            body,
            text,
            headers=response.headers,
            model=model,
            call_id=response.headers.get("x-litellm-call-id"),
            secrets=self._secrets(),
        )

    async def _send(self, request: httpx.Request, *, model: str | None, stream: bool = False) -> httpx.Response:
        """Send one request; transport failures and 4xx/5xx become typed errors."""
        logger.debug("litellm request %s %s model=%s", request.method, request.url.path, model)
        try:
            response = await self._client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, model) from exc
        if response.status_code < 400:
            return response
        try:
            if stream:
                await response.aread()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, model) from exc
        finally:
            await response.aclose()
        raise self._status_error(response, model)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        model: str | None = None,
        auth: bool = True,
        timeout_seconds: float | None = None,
    ) -> httpx.Response:
        request = self._client.build_request(
            method,
            f"{self.base_url}{path}",
            json=json,
            headers=self._headers() if auth else None,
            timeout=timeout_seconds if timeout_seconds is not None else self.timeout,
        )
        return await self._send(request, model=model)

    def _json(self, response: httpx.Response, model: str | None) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            kind = response.headers.get("content-type", "no content-type")
            raise ProviderError(
                f"LiteLLM proxy returned {response.status_code} for {response.request.url.path} with a body "
                f"that is not a JSON object ({kind}): {response.text[:200]!r}",
                response.status_code,
                PROVIDER,
                model=model,
                call_id=response.headers.get("x-litellm-call-id"),
            )
        return body

    @staticmethod
    def _malformed(what: str, exc: Exception, response: httpx.Response, model: str) -> ProviderError:
        return ProviderError(
            f"LiteLLM proxy returned a malformed {what}: {exc}".splitlines()[0],
            response.status_code,
            PROVIDER,
            model=model,
            call_id=response.headers.get("x-litellm-call-id"),
        )

    # ------------------------------------------------------------------ request shaping

    @staticmethod
    def _message_dicts(messages: Sequence[MessageInput]) -> list[dict[str, Any]]:
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
            raise BadRequestError("messages must be a non-empty list of ChatMessage or dict", provider=PROVIDER)
        out: list[dict[str, Any]] = []
        for i, message in enumerate(messages):
            if isinstance(message, dict):
                try:
                    message = ChatMessage.model_validate(message)
                except ValidationError as exc:
                    problems = validation_problems(exc)
                    raise BadRequestError(f"messages[{i}] is invalid: {problems}", provider=PROVIDER) from None
            elif not isinstance(message, ChatMessage):
                raise BadRequestError(
                    f"messages[{i}] must be a ChatMessage or dict, got {type(message).__name__}", provider=PROVIDER
                )
            # exclude_unset: send what the caller said, e.g. an explicit "content": null.
            out.append(message.model_dump(exclude_unset=True))
        return out

    def _chat_payload(
        self,
        messages: Sequence[MessageInput],
        model: str,
        max_tokens: int | None,
        temperature: float | None,
        kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        if not isinstance(model, str) or not model.strip():
            raise BadRequestError(f"model must be a non-empty string, got {model!r}", provider=PROVIDER)
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise BadRequestError(
                f"max_tokens must be a positive integer, got {max_tokens!r}", model=model, provider=PROVIDER
            )
        if temperature is not None and (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not 0 <= temperature < math.inf
        ):
            raise BadRequestError(
                f"temperature must be a number >= 0, got {temperature!r}", model=model, provider=PROVIDER
            )
        if "stream" in kwargs:
            raise BadRequestError(
                "pass no stream= in **kwargs: call chat_completion() or stream_chat_completion()",
                model=model,
                provider=PROVIDER,
            )
        payload = dict(kwargs)  # tools, tool_choice, response_format, ... go through untouched
        payload["model"] = model
        payload["messages"] = self._message_dicts(messages)
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if temperature is not None:
            payload["temperature"] = temperature
        return payload

    # ------------------------------------------------------------------ cost & metadata

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

    def _metadata(
        self, model: str, started: float, headers: httpx.Headers, cost: float | None, source: CostSource
    ) -> RouterMetadata:
        return RouterMetadata(
            selected_provider=PROVIDER,
            selected_model=model,
            routing_reason="direct call to the LiteLLM proxy",
            estimated_cost=cost,
            response_time_ms=round((time.perf_counter() - started) * 1000.0, 3),
            cost_source=source,
            call_id=headers.get("x-litellm-call-id"),
            model_id=headers.get("x-litellm-model-id"),
            attempted_retries=_header_int(headers, "x-litellm-attempted-retries"),
            attempted_fallbacks=_header_int(headers, "x-litellm-attempted-fallbacks"),
        )

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
        payload = self._chat_payload(messages, model, max_tokens, temperature, kwargs)
        if self._observer is None:
            return await self._chat(payload, model)
        return await self._observer.traced("chat", model, payload, self._chat(payload, model))

    async def _chat(self, payload: dict[str, Any], model: str) -> ChatCompletionResponse:
        started = time.perf_counter()
        response = await self._request("POST", "/v1/chat/completions", json=payload, model=model)
        data = self._json(response, model)
        try:
            usage = Usage.model_validate(data["usage"]) if data.get("usage") is not None else None
            choices = [Choice.model_validate(c) for c in data["choices"]]
        except (KeyError, TypeError, ValidationError) as exc:
            raise self._malformed("chat completion", exc, response, model) from None
        cost, source = await self._cost(
            model,
            response.headers.get("x-litellm-model-id"),
            parse_cost(response.headers.get("x-litellm-response-cost")),
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
        )
        extra = {k: v for k, v in data.items() if k not in ("choices", "usage", "router_metadata")}
        try:
            return ChatCompletionResponse.model_validate(
                {
                    **extra,
                    "choices": choices,
                    "usage": usage,
                    "router_metadata": self._metadata(model, started, response.headers, cost, source),
                }
            )
        except ValidationError as exc:
            raise self._malformed("chat completion", exc, response, model) from None

    async def stream_chat_completion(
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield chunk dicts as they arrive. The last one carries ``usage`` and a
        ``router_metadata`` dict with the cost. Closing the generator (leaving the loop,
        ``aclose()``) closes the HTTP response."""
        options = kwargs.pop("stream_options", None)
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise BadRequestError(
                f"stream_options must be a dict, got {type(options).__name__}", model=model, provider=PROVIDER
            )
        payload = self._chat_payload(messages, model, max_tokens, temperature, kwargs)
        payload["stream"] = True
        payload["stream_options"] = {**options, "include_usage": True}
        # Observed inline (not by wrapping the generator) so an unobserved stream costs nothing per chunk.
        call = None if self._observer is None else self._observer.start("stream", model, payload)
        started = time.perf_counter()
        try:
            request = self._client.build_request(
                "POST",
                f"{self.base_url}/v1/chat/completions",
                json=payload,
                headers=self._headers({"Accept": "text/event-stream"}),
                timeout=self.timeout,
            )
            if call is None:
                response = await self._send(request, model=model, stream=True)
            else:
                with call.current():
                    response = await self._send(request, model=model, stream=True)
        except BaseException as exc:
            if call is not None:
                call.failed(exc)
            raise
        headers = response.headers
        call_id = headers.get("x-litellm-call-id")
        if call is not None:
            call.response_headers(call_id, headers.get("x-litellm-model-id"))
        usage = StreamUsage()
        last: dict[str, Any] = {}
        last_had_metadata = False

        def frame_error(frame: dict[str, Any]) -> ProviderError:
            return error_from_body(
                None, frame, "", model=model, call_id=call_id, secrets=self._secrets(), mid_stream=True
            )

        async def metadata() -> dict[str, Any]:
            cost, source = await self._cost(
                model,
                headers.get("x-litellm-model-id"),
                parse_cost(usage.proxy_cost),
                usage.prompt_tokens,
                usage.completion_tokens,
            )
            return self._metadata(model, started, headers, cost, source).model_dump(mode="json")

        try:
            chunks = iter_chunks(response, on_error_frame=frame_error, model=model, call_id=call_id)
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc, model) from exc
                last = chunk
                last_had_metadata = usage.observe(chunk)
                if last_had_metadata:
                    chunk["router_metadata"] = await metadata()
                if call is not None:
                    call.stream_chunk(chunk)
                yield chunk
            if not last_had_metadata:
                # The proxy sent no usage on its last chunk: close with one that says what we know.
                trailer = {
                    "id": last.get("id"),
                    "object": "chat.completion.chunk",
                    "created": last.get("created", int(time.time())),
                    "model": last.get("model", model),
                    "choices": [],
                    "usage": usage.as_dict(),
                    "router_metadata": await metadata(),
                }
                if call is not None:
                    call.stream_chunk(trailer)
                yield trailer
            if call is not None:
                # Inside the try: the span must end even if closing the response fails below.
                call.stream_done()
        except GeneratorExit:
            if call is not None:
                call.stream_closed()
            raise
        except BaseException as exc:
            if call is not None:
                call.failed(exc)
            raise
        finally:
            await response.aclose()

    # ------------------------------------------------------------------ embeddings

    async def embeddings(
        self, input: str | list[str] | list[int] | list[list[int]], model: str, **kwargs: Any
    ) -> EmbeddingResponse:
        """Embed text through ``/v1/embeddings``, with usage and cost like a chat call."""
        if not isinstance(model, str) or not model.strip():
            raise BadRequestError(f"model must be a non-empty string, got {model!r}", provider=PROVIDER)
        if not isinstance(input, (str, list)) or not input:
            raise BadRequestError("input must be a non-empty string or list", model=model, provider=PROVIDER)
        payload = {**kwargs, "model": model, "input": input}
        if self._observer is None:
            return await self._embed(payload, model)
        return await self._observer.traced("embeddings", model, payload, self._embed(payload, model))

    async def _embed(self, payload: dict[str, Any], model: str) -> EmbeddingResponse:
        started = time.perf_counter()
        response = await self._request("POST", "/v1/embeddings", json=payload, model=model)
        data = self._json(response, model)
        try:
            items = [EmbeddingData.model_validate(d) for d in data["data"]]
            usage = EmbeddingUsage.model_validate(data["usage"]) if data.get("usage") is not None else None
        except (KeyError, TypeError, ValidationError) as exc:
            raise self._malformed("embedding response", exc, response, model) from None
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
            router_metadata=self._metadata(model, started, response.headers, cost, source),
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
        await asyncio.shield(task)
        return self._catalog.cards()

    async def _fetch_model_info(self) -> None:
        response = await self._request("GET", "/model/info")
        payload = self._json(response, None)
        try:
            self._catalog.load(payload)
        except ValueError as exc:
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
        custom = CustomModel.parse(
            model_name,
            {
                "pricing": dict(pricing),
                "rate_limits": None if rate_limits is None else dict(rate_limits),
                "metadata": dict(metadata or {}),
            },
        )
        return self._catalog.add_custom(model_name, custom)

    def calculate_cost(self, input_tokens: int, output_tokens: int, model: str) -> float:
        """USD for the tokens at the catalog price; ``math.inf`` when the price is unknown,
        so a cost-aware router never picks it as cheapest and no budget accepts it."""
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        card = self._catalog.get(model)
        cost = card.cost(input_tokens, output_tokens) if card is not None else None
        return math.inf if cost is None else cost

    async def get_available_models(self) -> list[dict[str, Any]]:
        """The proxy's ``/v1/models`` list (dicts with at least ``id``) for this key."""
        response = await self._request("GET", "/v1/models")
        data = self._json(response, None).get("data")
        if not isinstance(data, list):
            raise ProviderError("LiteLLM proxy /v1/models reply has no 'data' list", response.status_code, PROVIDER)
        return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def count_tokens(
        self, messages: list[MessageInput], model: str, *, timeout_seconds: float | None = None
    ) -> int:
        """Prompt tokens as the proxy's ``/utils/token_counter`` counts them for ``model``
        (its tokenizer, no model call). Routing asks only when an estimate is close to a
        context window, where being exact decides whether the prompt fits."""
        payload = {"model": model, "messages": self._message_dicts(messages)}
        response = await self._request(
            "POST", "/utils/token_counter", json=payload, model=model, timeout_seconds=timeout_seconds
        )
        total = self._json(response, model).get("total_tokens")
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
        succeeds, so a wrong key reads unhealthy. Makes no model calls."""
        try:
            async with asyncio.timeout(self.health_timeout):
                ready = await self._request("GET", "/health/readiness", auth=False, timeout_seconds=self.health_timeout)
                status = self._json(ready, None).get("status")
                if isinstance(status, str) and status.lower() == "unhealthy":
                    raise ProviderUnavailableError(f"LiteLLM proxy readiness says {status!r}", 200, PROVIDER)
                await self._request("GET", "/v1/models", timeout_seconds=self.health_timeout)
        except (ProviderError, TimeoutError) as exc:
            reason = str(exc) or f"no answer within {self.health_timeout:g}s"
            self.last_health_error = redact(reason, self._secrets())
            logger.warning("LiteLLM proxy unhealthy: %s", self.last_health_error)
            return False
        self.last_health_error = None
        return True

    async def model_health(self) -> list[ModelHealth]:
        """The proxy's deep ``/health``: one real call per deployment (slow, billable).

        Opt-in only. Results are also written to the catalog cards' ``healthy`` field:
        a name counts healthy when any of its deployments is.
        """
        response = await self._request("GET", "/health", timeout_seconds=self.deep_health_timeout)
        data = self._json(response, None)
        if not self._catalog.loaded:
            try:
                await self.refresh_models()
            except ProviderError as exc:
                logger.warning("could not load the catalog to name health results: %s", exc)
        results: list[ModelHealth] = []
        for healthy, key in ((True, "healthy_endpoints"), (False, "unhealthy_endpoints")):
            endpoints = data.get(key)
            for endpoint in endpoints if isinstance(endpoints, list) else []:
                if not isinstance(endpoint, dict):
                    continue
                model_id = endpoint.get("model_id") if isinstance(endpoint.get("model_id"), str) else None
                raw_error = endpoint.get("error")
                error = (
                    None
                    if healthy
                    else _first_line(None if raw_error is None else redact(str(raw_error), self._secrets()))
                    or "unhealthy"
                )
                results.append(
                    ModelHealth(
                        model_name=self._catalog.name_for_deployment(model_id) if model_id else None,
                        upstream_model=endpoint.get("model") if isinstance(endpoint.get("model"), str) else None,
                        model_id=model_id,
                        healthy=healthy,
                        error=error,
                    )
                )
        by_name: dict[str, tuple[bool, str | None]] = {}
        for result in results:
            if result.model_name is None:
                continue
            seen = by_name.get(result.model_name)
            if seen is None or (result.healthy and not seen[0]):
                by_name[result.model_name] = (result.healthy, result.error)
        self._catalog.set_health(by_name)
        return results

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Close the pooled client (only if we created it) and any catalog refresh."""
        task, self._refresh_task = self._refresh_task, None
        if task is not None and not task.done():
            task.cancel()
        if self._owns_client:
            await self._client.aclose()
