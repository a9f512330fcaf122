"""The LiteLLM proxy inside ModelMuxer as it is today.

Two host contracts, and which is which:

* ``muxer_litellm.host.LLMProvider`` is the older ModelMuxer contract (the one ModelMuxer-style
  hosts register: ``chat_completion`` -> ``ChatCompletionResponse``, ``calculate_cost``, ...).
  ``LiteLLMProvider`` implements it and ``muxer_litellm.routing`` routes over it; hosts built on
  it keep registering ``LiteLLMProvider`` directly.
* This module is ModelMuxer's *current* contract: an ``app.providers.base.LLMProviderAdapter``
  whose ``invoke`` returns a ``ProviderResponse``, ModelMuxer's own error classes, its provider
  registry, and its price table and routing-rule JSON (written by
  :mod:`muxer_litellm.hosts.modelmuxer_files`, re-exported here).

Importing this module imports ModelMuxer (its ``app`` package), so import it only in a
ModelMuxer process. :class:`LiteLLMAdapter` wraps one ``LiteLLMProvider`` and uses only its
public API; :func:`install` puts it in ModelMuxer's registry and loads its catalog during
ModelMuxer's start-up. docs/modelmuxer.md is the operator's walkthrough and ModelMuxer's limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    ChatCompletionResponse,
    ChatMessage,
    LiteLLMProvider,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
)

from .modelmuxer_files import (
    DEFAULT_NAME,
    INTENT_NEEDS,
    TASK_TYPE_INTENTS,
    SyncResult,
    price_table,
    routing_rules,
    unpriced_models,
    write_price_table,
    write_routing_rules,
)

_MISSING = (
    "muxer_litellm.hosts.modelmuxer needs ModelMuxer: its `app` package (app.providers.base) must be "
    "importable. Run it inside your ModelMuxer deployment, or put a ModelMuxer checkout on PYTHONPATH. "
    "Without ModelMuxer, register LiteLLMProvider (the muxer_litellm.host contract) instead; "
    "muxer_litellm.hosts.modelmuxer_files writes ModelMuxer's price table and rules without it."
)

try:
    from app import models as _host_models  # type: ignore[import-not-found]
    from app.providers import base as _host_base  # type: ignore[import-not-found]
except ImportError as exc:
    raise ImportError(_MISSING, name="app.providers.base") from exc
if not hasattr(_host_base, "LLMProviderAdapter"):  # some other package called `app`
    raise ImportError(_MISSING, name="app.providers.base")

HostChatCompletionResponse = _host_models.ChatCompletionResponse
HostChatMessage = _host_models.ChatMessage
HostChoice = _host_models.Choice
HostRouterMetadata = _host_models.RouterMetadata
HostUsage = _host_models.Usage
HostProviderError = _host_base.ProviderError
HostAuthenticationError = _host_base.AuthenticationError
HostRateLimitError = _host_base.RateLimitError
HostModelNotFoundError = _host_base.ModelNotFoundError
ProviderResponse = _host_base.ProviderResponse

__all__ = [
    "DEFAULT_NAME",
    "INTENT_NEEDS",
    "STARTUP_WAIT",
    "TASK_TYPE_INTENTS",
    "LiteLLMAdapter",
    "SyncResult",
    "host_error",
    "install",
    "installed",
    "price_table",
    "routing_rules",
    "uninstall",
    "unpriced_models",
    "write_price_table",
    "write_routing_rules",
]

logger = logging.getLogger("muxer_litellm.hosts.modelmuxer")

#: Seconds ModelMuxer's start-up waits for the proxy's catalog before it goes on without it
#: (the catalog then keeps loading in the background).
STARTUP_WAIT = 5.0
#: Delays between background loads while the proxy does not answer: 1 s, doubling up to 30 s.
_RETRY_FIRST = 1.0
_RETRY_MAX = 30.0

#: OpenAI chat parameters the proxy understands; everything else a ModelMuxer route passes is
#: dropped. ModelMuxer's chat routes forward every non-None field of their request model, which
#: includes ModelMuxer-only ones: ``region`` (its policy check), ``max_budget`` (its router's
#: budget), and ``session_id``, ``cascade_config``, ``enable_analytics``, ``routing_preference``
#: (its enhanced request). ``stream`` is decided by the method called. ``n`` is handled apart.
PROXY_PARAMS = frozenset(
    {
        "audio",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "metadata",
        "modalities",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "service_tier",
        "stop",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    }
)


def host_error(exc: ProviderError, provider: str = DEFAULT_NAME) -> Any:
    """The plugin's typed error as ModelMuxer's own class, which its chat route maps to a
    status: ``AuthenticationError`` -> 401, ``RateLimitError`` -> 429, any other
    ``ProviderError`` -> 502. ``call_id``, ``retryable``, ``model`` (and ``retry_after``) are
    kept as attributes; raise it ``from exc`` so the plugin's error is the ``__cause__``."""
    message = exc.message
    error: Any
    if isinstance(exc, RateLimitError):
        # ModelMuxer's route builds its 429 without our headers: the wait can only travel in the text.
        if exc.retry_after is not None:
            message = f"{message} (retry after {exc.retry_after:g}s)"
        error = HostRateLimitError(message, status_code=429, provider=provider)
        error.retry_after = exc.retry_after
    elif isinstance(exc, AuthenticationError):
        # The proxy answers a wrong key with 400 no_db_connection when it has no database.
        status = exc.status_code if exc.status_code in (401, 403) else 401
        error = HostAuthenticationError(message, status_code=status, provider=provider)
    elif isinstance(exc, ModelNotFoundError):
        error = HostModelNotFoundError(message, status_code=404, provider=provider)
    else:
        error = HostProviderError(message, status_code=exc.status_code, provider=provider)
    error.call_id = exc.call_id
    error.model = exc.model
    error.retryable = exc.retryable
    return error


def _message(message: Any, index: int) -> dict[str, Any]:
    """One message as a dict: ModelMuxer's ``ChatMessage``, any pydantic model, or a mapping."""
    if isinstance(message, Mapping):
        return dict(message)
    if isinstance(message, BaseModel):
        # exclude_none: ModelMuxer's ChatMessage has every optional field, set or not.
        return message.model_dump(exclude_none=True)
    raise BadRequestError(
        f"messages[{index}] must be a ChatMessage, a pydantic model or a mapping with the chat fields, "
        f"got {type(message).__name__}",
        provider=DEFAULT_NAME,
    )


def _messages(messages: Any) -> list[ChatMessage | dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise BadRequestError(
            f"messages must be a list of chat messages, got {type(messages).__name__}", provider=DEFAULT_NAME
        )
    return [_message(m, i) for i, m in enumerate(messages)]


def _params(kwargs: Mapping[str, Any], model: str) -> dict[str, Any]:
    n = kwargs.get("n")
    if n is not None and n != 1:
        raise BadRequestError(
            f"n={n!r} is not supported: ModelMuxer's ProviderResponse carries one answer, so the "
            "others would be billed and thrown away",
            model=model,
            provider=DEFAULT_NAME,
        )
    dropped = [k for k, v in kwargs.items() if k not in PROXY_PARAMS and k != "n" and v is not None]
    if dropped and logger.isEnabledFor(logging.DEBUG):
        logger.debug("not forwarded to the LiteLLM proxy: %s", ", ".join(sorted(dropped)))
    return {k: v for k, v in kwargs.items() if k in PROXY_PARAMS and v is not None}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


class LiteLLMAdapter(_host_base.LLMProviderAdapter):  # type: ignore[misc]
    """A ModelMuxer provider adapter over one :class:`LiteLLMProvider`.

    ``LiteLLMAdapter()`` builds the provider from ``LITELLM_*`` settings;
    ``LiteLLMAdapter(base_url=..., api_key=...)`` passes overrides to
    ``LiteLLMProvider.from_settings``; ``LiteLLMAdapter(provider)`` wraps yours. The adapter
    owns the provider: ``aclose()`` (which ModelMuxer's ``cleanup_provider_registry`` calls)
    closes its connection pool.
    """

    def __init__(self, provider: LiteLLMProvider | None = None, **provider_kwargs: Any) -> None:
        if provider is not None and provider_kwargs:
            raise TypeError("pass a provider or keyword arguments for LiteLLMProvider.from_settings, not both")
        self.provider: LiteLLMProvider = (
            provider if provider is not None else LiteLLMProvider.from_settings(**provider_kwargs)
        )
        self._closed = False
        self._refresh: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        return f"LiteLLMAdapter({self.provider!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ calls

    async def _chat(
        self, model: str, messages: Any, max_tokens: int | None, temperature: float | None, kwargs: Mapping[str, Any]
    ) -> ChatCompletionResponse:
        if self._closed:
            raise HostProviderError("the LiteLLM adapter is closed", provider=DEFAULT_NAME)
        try:
            return await self.provider.chat_completion(
                _messages(messages), model, max_tokens=max_tokens, temperature=temperature, **_params(kwargs, model)
            )
        except ProviderError as exc:
            raise host_error(exc) from exc

    async def invoke(self, model: str, messages: list[Any], **kwargs: Any) -> Any:
        """One chat call as ModelMuxer's ``ProviderResponse``. It has no cost field, so the
        proxy's cost is in ``raw``: ``cost`` (USD, None when unknown), ``cost_source``
        (``proxy`` = billed by the proxy, ``catalog`` = usage x catalog price, ``unknown``),
        ``call_id``, ``model_id``, ``usage`` (None when the proxy sent none: the token counts
        are then 0) and ``response``, the plugin's full answer."""
        started = time.perf_counter()
        max_tokens = kwargs.pop("max_tokens", None)
        temperature = kwargs.pop("temperature", None)
        response = await self._chat(model, messages, max_tokens, temperature, kwargs)
        meta = response.router_metadata
        if not response.choices:
            raise HostProviderError("the LiteLLM proxy answered without choices", provider=DEFAULT_NAME)
        choice = response.choices[0]
        usage = response.usage
        return ProviderResponse(
            output_text=_text(choice.message.content),
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            latency_ms=int((time.perf_counter() - started) * 1000),
            raw={
                "cost": meta.estimated_cost,
                "cost_source": meta.cost_source,
                "call_id": meta.call_id,
                "model_id": meta.model_id,
                "usage": usage,
                "response": response,
            },
            tool_calls=choice.message.tool_calls,
            finish_reason=choice.finish_reason,
        )

    async def chat_completion(
        self,
        messages: list[Any],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> Any:
        """ModelMuxer's ``ChatCompletionResponse`` (for code that calls adapters this way).

        Its ``estimated_cost`` must be a float: it is the proxy's cost when known, else 0.0,
        and then ``estimated_cost_usd`` is None and ``routing_reason`` says the cost is unknown.
        """
        if stream:
            raise HostProviderError(
                "chat_completion(stream=True): iterate stream_chat_completion() instead", provider=DEFAULT_NAME
            )
        response = await self._chat(model, messages, max_tokens, temperature, kwargs)
        meta = response.router_metadata
        usage = response.usage
        reason = {
            "proxy": "LiteLLM proxy; cost billed by the proxy",
            "catalog": "LiteLLM proxy; cost from usage and the catalog price",
        }.get(meta.cost_source, "LiteLLM proxy; cost unknown (no price for this model): estimated_cost 0.0 is not it")
        return HostChatCompletionResponse(
            id=str(getattr(response, "id", "") or f"chatcmpl-litellm-{int(time.time() * 1000)}"),
            object="chat.completion",
            created=response.created,
            model=model,
            choices=[
                HostChoice(
                    index=c.index,
                    message=HostChatMessage(
                        role="assistant", content=_text(c.message.content) or None, tool_calls=c.message.tool_calls
                    ),
                    finish_reason=c.finish_reason,
                )
                for c in response.choices
            ],
            usage=HostUsage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
            ),
            router_metadata=HostRouterMetadata(
                selected_provider=DEFAULT_NAME,
                selected_model=model,
                routing_reason=reason,
                estimated_cost=meta.estimated_cost if meta.estimated_cost is not None else 0.0,
                estimated_cost_usd=meta.estimated_cost,
                response_time_ms=meta.response_time_ms,
            ),
        )

    async def invoke_stream(
        self,
        model: str,
        messages: list[Any],
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The proxy's own stream: OpenAI chunk dicts as they arrive; the last one carries
        ``usage`` and a ``router_metadata`` dict with the cost (billed when the proxy says)."""
        if self._closed:
            raise HostProviderError("the LiteLLM adapter is closed", provider=DEFAULT_NAME)
        try:
            stream = self.provider.stream_chat_completion(
                _messages(messages),
                model,
                max_tokens=max_tokens,
                temperature=temperature,
                **_params(kwargs, model),
            )
        except ProviderError as exc:
            raise host_error(exc) from exc
        try:
            while True:
                try:
                    chunk = await anext(stream)
                except StopAsyncIteration:
                    return
                except ProviderError as exc:
                    raise host_error(exc) from exc
                yield chunk
        finally:
            await stream.aclose()  # a ChatStream: frees its connection now

    async def stream_chat_completion(
        self,
        messages: list[Any],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """What ModelMuxer's streaming route calls (keyword arguments, its request's extra
        fields in ``kwargs``): :meth:`invoke_stream`."""
        stream = self.invoke_stream(model, messages, max_tokens=max_tokens, temperature=temperature, **kwargs)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()

    # ------------------------------------------------------------------ catalog & lifecycle

    async def refresh_models(self, *, force: bool = False) -> list[str]:
        """Load the proxy's catalog (``/v1/models`` and ``/v1/providers`` list it); the chat models."""
        await self.provider.refresh_models(force=force)
        return self.provider.get_supported_models()

    def get_supported_models(self) -> list[str]:
        """Chat models from the cached catalog. ModelMuxer asks synchronously, so a stale or
        empty catalog is refreshed in the background (the next call sees it); :func:`install`
        loads it during ModelMuxer's start-up, so the first request lists them."""
        self._refresh_in_background()
        return self.provider.get_supported_models()

    async def load_catalog(self, wait: float = STARTUP_WAIT) -> bool:
        """Load the proxy's catalog, waiting at most ``wait`` seconds for the first attempt:
        True when it is loaded. Otherwise one warning says why, and the load goes on in the
        background (retried every 1 s, doubling up to 30 s, until the proxy answers or the
        adapter closes). What :func:`install` runs during ModelMuxer's start-up."""
        if self._closed:
            return False
        loop = asyncio.get_running_loop()
        first: asyncio.Future[BaseException | None] = loop.create_future()
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()  # a plain background refresh: this one retries
        task = loop.create_task(self._load_until_loaded(first))
        task.add_done_callback(_log_refresh_failure)
        self._refresh = task
        error: BaseException | None
        try:
            error = await asyncio.wait_for(asyncio.shield(first), wait)
        except TimeoutError:
            error = TimeoutError(f"no answer within {wait:g} s")
        if error is None:
            return True
        logger.warning(
            "LiteLLM proxy model catalog not loaded at start-up (%s): ModelMuxer starts without the proxy's "
            "models and keeps loading them in the background",
            error,
        )
        return False

    async def _load_until_loaded(self, first: asyncio.Future[BaseException | None]) -> None:
        """Retry the catalog until it loads; ``first`` gets the first attempt's outcome."""
        delay = _RETRY_FIRST
        try:
            while not self._closed:
                try:
                    await self.provider.refresh_models(force=True)
                except ProviderError as exc:
                    _settle(first, exc)
                    logger.debug("LiteLLM model catalog not loaded, next try in %g s: %s", delay, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX)
                else:
                    _settle(first, None)
                    return
            _settle(first, ProviderError("the LiteLLM adapter is closed", provider=DEFAULT_NAME))
        except Exception as exc:  # a defect: _log_refresh_failure logs it too
            _settle(first, exc)
            raise
        finally:
            _settle(first, ProviderError("the catalog load was cancelled", provider=DEFAULT_NAME))

    def _refresh_in_background(self) -> None:
        if self._closed or (self._refresh is not None and not self._refresh.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.provider.refresh_models())  # no request while the catalog is fresh
        task.add_done_callback(_log_refresh_failure)
        self._refresh = task

    async def aclose(self) -> None:
        """Close the provider's connection pool (idempotent)."""
        if self._closed:
            return
        self._closed = True
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
        await self.provider.aclose()


def _settle(future: asyncio.Future[BaseException | None], outcome: BaseException | None) -> None:
    if not future.done():
        future.set_result(outcome)


def _log_refresh_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.warning("could not refresh the LiteLLM model catalog: %s", exc)


# ---------------------------------------------------------------------- registry

_installed: dict[str, LiteLLMAdapter] = {}
_startup_waits: dict[str, float] = {}
_originals: dict[str, Any] = {}


def _registry() -> Any:
    import app.providers.registry as registry  # type: ignore[import-not-found]

    return registry


def _app() -> Any:
    """ModelMuxer's FastAPI app."""
    import app.main as main  # type: ignore[import-not-found]

    return main.app


def install(
    name: str = DEFAULT_NAME, adapter: LiteLLMAdapter | None = None, *, startup_wait: float = STARTUP_WAIT
) -> LiteLLMAdapter:
    """Put ``adapter`` (default ``LiteLLMAdapter()``) in ModelMuxer's provider registry as
    ``name``, where its router, ``/v1/models``, ``/v1/providers`` and chat routes find it, and
    load its catalog during ModelMuxer's start-up.

    ModelMuxer offers no hook for extra providers: ``build_registry()`` is a fixed list, and
    ``refresh_provider_registry()`` closes every adapter before rebuilding from it. So this
    adds the adapter to ``PROVIDERS`` and wraps two functions of ``app.providers.registry``
    (module attributes, which is how ModelMuxer calls them): ``build_registry`` (every rebuild,
    test mode's per-call one included, gets the adapter) and ``refresh_provider_registry``
    (the adapter is kept open across it). ``cleanup_provider_registry()`` closes it like any
    adapter. It also wraps the lifespan of ModelMuxer's app (``app.main.app``): after
    ModelMuxer's own start-up, :meth:`LiteLLMAdapter.load_catalog` waits up to
    ``startup_wait`` seconds for the catalog, so the first ``/v1/models`` lists the proxy's
    chat models; a proxy that is down or slow costs start-up no more than that, one warning,
    and a load in the background. Call it before ModelMuxer's app starts. Returns the adapter.
    """
    from .modelmuxer_files import _check_name

    _check_name(name)
    if not startup_wait >= 0:
        raise ValueError(f"startup_wait must be a number of seconds >= 0, got {startup_wait!r}")
    registry = _registry()
    adapter = adapter if adapter is not None else LiteLLMAdapter()
    if not isinstance(adapter, LiteLLMAdapter):
        raise TypeError(f"adapter must be a LiteLLMAdapter, got {type(adapter).__name__}")
    _wrap(registry, _app())
    _installed[name] = adapter
    _startup_waits[name] = startup_wait
    registry.PROVIDERS[name] = adapter
    return adapter


def installed() -> dict[str, LiteLLMAdapter]:
    """The adapters :func:`install` put in ModelMuxer's registry, by name."""
    return dict(_installed)


def uninstall(name: str = DEFAULT_NAME) -> LiteLLMAdapter | None:
    """Take the adapter out of the registry (without closing it); the last one out restores
    ModelMuxer's own registry functions. Returns the adapter, or None if none was installed."""
    registry = _registry()
    adapter = _installed.pop(name, None)
    _startup_waits.pop(name, None)
    if adapter is not None and registry.PROVIDERS.get(name) is adapter:
        del registry.PROVIDERS[name]
    if not _installed and _originals:
        registry.build_registry = _originals.pop("build_registry")
        registry.refresh_provider_registry = _originals.pop("refresh_provider_registry")
        _app().router.lifespan_context = _originals.pop("lifespan_context")
    return adapter


async def _load_catalogs() -> None:
    adapters = [(adapter, _startup_waits.get(name, STARTUP_WAIT)) for name, adapter in _installed.items()]
    await asyncio.gather(*(adapter.load_catalog(wait) for adapter, wait in adapters))


def _wrap(registry: Any, app: Any) -> None:
    if _originals:
        return
    build = registry.build_registry
    refresh = registry.refresh_provider_registry
    lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan_with_catalogs(asgi_app: Any) -> AsyncIterator[Any]:
        # ModelMuxer's own start-up first (database, registry, router), then the catalogs.
        async with lifespan(asgi_app) as state:
            await _load_catalogs()
            yield state

    def build_registry() -> dict[str, object]:
        built: dict[str, object] = build()
        built.update(_installed)
        return built

    async def refresh_provider_registry() -> None:
        # ModelMuxer's refresh closes every adapter in PROVIDERS, then rebuilds it through
        # build_registry (ours, above): take ours out first so their pools stay open.
        for name, adapter in _installed.items():
            if registry.PROVIDERS.get(name) is adapter:
                del registry.PROVIDERS[name]
        try:
            await refresh()
        finally:
            registry.PROVIDERS.update(_installed)

    build_registry.__doc__ = build.__doc__
    refresh_provider_registry.__doc__ = refresh.__doc__
    _originals.update(build_registry=build, refresh_provider_registry=refresh, lifespan_context=lifespan)
    registry.build_registry = build_registry
    registry.refresh_provider_registry = refresh_provider_registry
    app.router.lifespan_context = lifespan_with_catalogs
