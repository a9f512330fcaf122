"""Optional tracing and metrics around each proxy call.

Off by default and free when off: a provider holds no observer unless it is given a tracer
or a metrics hook, so a plain call pays one ``is None`` check, builds no record and imports
neither OpenTelemetry (the ``[otel]`` extra) nor prometheus_client (``[prometheus]``).
Telemetry must never cost a caller a reply: a tracer or hook that raises is logged (once
per exception type) and ignored. Prompt and answer text stay out of spans unless
``capture_content=True``, and the API key is redacted from everything recorded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Coroutine, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .._utils import redact
from ..host import ChatCompletionResponse, CostSource, EmbeddingResponse, RouterMetadata
from .metrics import CallRecord, CallStatus, MetricsHook, Operation

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["CONTENT_LIMIT_BYTES", "CallObservation", "Observer"]

logger = logging.getLogger("muxer_litellm")

#: Captured prompt/answer text is cut to this many UTF-8 bytes: spans are not a transcript store.
CONTENT_LIMIT_BYTES = 4096

_SPAN_NAMES: dict[Operation, str] = {
    "chat": "litellm.chat",
    "stream": "litellm.chat.stream",
    "embeddings": "litellm.embeddings",
}
_GEN_AI_OPERATION: dict[Operation, str] = {"chat": "chat", "stream": "chat", "embeddings": "embeddings"}
R = TypeVar("R", ChatCompletionResponse, EmbeddingResponse)


def _resolve_tracer(tracer: Tracer | bool) -> Tracer:
    if tracer is True:
        try:
            from opentelemetry import trace
        except ImportError as exc:
            raise ImportError("tracer=True needs the OpenTelemetry API: pip install 'muxer-litellm[otel]'") from exc
        from .._version import __version__

        return trace.get_tracer("muxer_litellm", __version__)
    if not callable(getattr(tracer, "start_span", None)):
        raise TypeError(f"tracer must be an opentelemetry.trace.Tracer, True or None, got {type(tracer).__name__}")
    return tracer  # type: ignore[return-value]


def _truncate(text: str) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= CONTENT_LIMIT_BYTES:
        return text
    return raw[:CONTENT_LIMIT_BYTES].decode("utf-8", "ignore")


def _as_count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class Observer:
    """A provider's telemetry: the tracer and/or metrics hook, and what every span shares.

    Build it with :meth:`create`, which returns None when everything is off: the provider
    then never calls in here.
    """

    def __init__(
        self,
        tracer: Tracer | None,
        metrics: MetricsHook | None,
        *,
        capture_content: bool,
        base_url: str,
        secrets: Sequence[str | None],
    ) -> None:
        self.tracer = tracer
        self.metrics = metrics
        self.capture_content = capture_content
        self.secrets = tuple(s for s in secrets if s)
        self._warned: set[tuple[str, type[BaseException]]] = set()
        self._warn_lock = threading.Lock()
        parts = urlsplit(base_url)
        self.server_attributes: dict[str, str | int] = {}
        if parts.hostname:
            self.server_attributes["server.address"] = parts.hostname
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        if port:
            self.server_attributes["server.port"] = port

    @classmethod
    def create(
        cls,
        tracer: Tracer | bool | None,
        metrics: MetricsHook | None,
        *,
        capture_content: bool = False,
        base_url: str,
        secrets: Sequence[str | None] = (),
    ) -> Observer | None:
        """None when neither tracing nor metrics is on; raises for a wrong type or a missing extra."""
        if metrics is not None and not callable(metrics):
            raise TypeError(f"metrics must be a callable taking a CallRecord, got {type(metrics).__name__}")
        resolved = None if tracer is None or tracer is False else _resolve_tracer(tracer)
        if resolved is None and metrics is None:
            return None
        return cls(resolved, metrics, capture_content=capture_content, base_url=base_url, secrets=secrets)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def report(self, what: str, exc: Exception) -> None:
        """Log a telemetry failure: at warning the first time per (what, type), then at debug."""
        key = (what, type(exc))
        with self._warn_lock:
            first = key not in self._warned
            self._warned.add(key)
        logger.log(
            logging.WARNING if first else logging.DEBUG,
            "muxer_litellm %s raised %s (ignored; the call is unaffected): %s",
            what,
            type(exc).__name__,
            self.redact(str(exc)),
        )

    def start(
        self, operation: Operation, model: str, payload: Mapping[str, Any], tenant: str | None = None
    ) -> CallObservation:
        """Begin observing one call whose request is ``payload`` (already validated), made
        for ``tenant`` (its label: an id or a keyed hash, never a key)."""
        return CallObservation(self, operation, model, payload, tenant)

    async def traced(
        self,
        operation: Operation,
        model: str,
        payload: Mapping[str, Any],
        work: Coroutine[Any, Any, R],
        tenant: str | None = None,
    ) -> R:
        """Await ``work`` (a chat or embeddings call) inside a span, then record it."""
        call = self.start(operation, model, payload, tenant)
        try:
            with call.current():
                result = await work
        except BaseException as exc:
            call.failed(exc)
            raise
        call.succeeded(result)
        return result


class CallObservation:
    """One call's span and timing; finishes exactly once (ok, failed, or stream closed)."""

    def __init__(
        self,
        observer: Observer,
        operation: Operation,
        model: str,
        payload: Mapping[str, Any],
        tenant: str | None = None,
    ) -> None:
        self._observer = observer
        self.operation = operation
        self.model = model
        self.tenant = tenant
        self._started = time.perf_counter()
        self._finished = False
        self._span: Span | None = None
        # Stream state, filled chunk by chunk.
        self._meta: RouterMetadata | None = None
        self._prompt_tokens: int | None = None
        self._completion_tokens: int | None = None
        self._response_model: str | None = None
        self._call_id: str | None = None
        self._model_id: str | None = None
        self._texts: dict[int, list[str]] = {}
        if observer.tracer is not None:
            try:
                self._span = self._open_span(observer.tracer, payload)
            except Exception as exc:
                observer.report("tracer.start_span", exc)

    # ------------------------------------------------------------------ span plumbing

    @property
    def _capturing(self) -> bool:
        return self._observer.capture_content and self._span is not None

    def _open_span(self, tracer: Tracer, payload: Mapping[str, Any]) -> Span:
        from opentelemetry import trace  # installed: the caller passed a Tracer

        attributes: dict[str, Any] = {
            "gen_ai.system": "litellm",
            "gen_ai.operation.name": _GEN_AI_OPERATION[self.operation],
            "gen_ai.request.model": self.model,
            **self._observer.server_attributes,
        }
        for key, name in (("max_tokens", "gen_ai.request.max_tokens"), ("temperature", "gen_ai.request.temperature")):
            value = payload.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[name] = value
        if self._observer.capture_content:
            prompt = payload.get("input") if self.operation == "embeddings" else payload.get("messages")
            attributes["gen_ai.prompt"] = self._content(prompt)
        span = tracer.start_span(_SPAN_NAMES[self.operation], kind=trace.SpanKind.CLIENT, attributes=attributes)
        return span

    def _content(self, value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        return _truncate(self._observer.redact(text))

    def current(self) -> AbstractContextManager[Any]:
        """Make the span current (so HTTP spans of an instrumented client nest under it).
        Used only around awaits that do not yield to the caller."""
        if self._span is None:
            return nullcontext()
        from opentelemetry import trace

        return trace.use_span(self._span, end_on_exit=False, record_exception=False, set_status_on_exception=False)

    # ------------------------------------------------------------------ streams

    def response_headers(self, call_id: str | None, model_id: str | None) -> None:
        """The stream's response headers arrived: its ids are known even if it ends early."""
        self._call_id, self._model_id = call_id, model_id

    def stream_result(self, metadata: RouterMetadata, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        """The stream's typed results are known (its usage chunk, or the trailer)."""
        self._meta = metadata
        self._prompt_tokens, self._completion_tokens = prompt_tokens, completion_tokens

    def stream_chunk(self, chunk: Mapping[str, Any]) -> None:
        """Note what a chunk about to be yielded says (the served model, captured text)."""
        if self._response_model is None and isinstance(chunk.get("model"), str):
            self._response_model = chunk["model"]
        if self._capturing:
            choices = chunk.get("choices")
            for choice in choices if isinstance(choices, list) else []:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                content = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(content, str):
                    index = choice.get("index")
                    self._texts.setdefault(index if isinstance(index, int) else 0, []).append(content)

    def stream_done(self) -> None:
        self._finish_stream(closed_early=False)

    def stream_closed(self) -> None:
        """The consumer closed the stream. After the usage chunk that is a complete call;
        before it, the call is ok but its tokens and cost are unknown."""
        self._finish_stream(closed_early=self._meta is None)

    def _finish_stream(self, *, closed_early: bool) -> None:
        meta = self._meta
        completion = None
        if self._capturing and self._texts:
            completion = [{"role": "assistant", "content": "".join(parts)} for _, parts in sorted(self._texts.items())]
        self._finish(
            status="ok",
            exc=None,
            cost=meta.estimated_cost if meta else None,
            cost_source=meta.cost_source if meta else None,
            call_id=(meta.call_id if meta else None) or self._call_id,
            model_id=(meta.model_id if meta else None) or self._model_id,
            retries=meta.attempted_retries if meta else None,
            fallbacks=meta.attempted_fallbacks if meta else None,
            prompt_tokens=self._prompt_tokens,
            completion_tokens=self._completion_tokens,
            completion=completion,
            closed_early=closed_early,
        )

    # ------------------------------------------------------------------ outcomes

    def succeeded(self, result: ChatCompletionResponse | EmbeddingResponse) -> None:
        meta: RouterMetadata = result.router_metadata
        completion: Any = None
        if isinstance(result, ChatCompletionResponse):
            prompt = result.usage.prompt_tokens if result.usage else None
            output = result.usage.completion_tokens if result.usage else None
            if self._capturing:
                completion = [c.message.model_dump(exclude_none=True) for c in result.choices]
        else:
            prompt = result.usage.prompt_tokens if result.usage else None
            output = None
        self._response_model = result.model
        self._finish(
            status="ok",
            exc=None,
            cost=meta.estimated_cost,
            cost_source=meta.cost_source,
            call_id=meta.call_id,
            model_id=meta.model_id,
            retries=meta.attempted_retries,
            fallbacks=meta.attempted_fallbacks,
            prompt_tokens=prompt,
            completion_tokens=output,
            completion=completion,
        )

    def failed(self, exc: BaseException) -> None:
        call_id = getattr(exc, "call_id", None)
        self._finish(
            status="error",
            exc=exc,
            cost=None,
            cost_source="unknown",
            call_id=call_id if isinstance(call_id, str) else self._call_id,
            model_id=self._model_id,
            retries=None,
            fallbacks=None,
            prompt_tokens=self._prompt_tokens,
            completion_tokens=self._completion_tokens,
            completion=None,
        )

    def _finish(
        self,
        *,
        status: CallStatus,
        exc: BaseException | None,
        cost: Any,
        cost_source: Any,
        call_id: Any,
        model_id: Any,
        retries: Any,
        fallbacks: Any,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        completion: Any,
        closed_early: bool = False,
    ) -> None:
        if self._finished:
            return
        self._finished = True
        duration = time.perf_counter() - self._started
        known_cost = float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None
        source: CostSource = "unknown"
        if known_cost is not None and cost_source in ("proxy", "catalog"):
            source = cost_source
        error_type = type(exc).__name__ if exc is not None else None
        ids = {
            "call_id": call_id if isinstance(call_id, str) else None,
            "model_id": model_id if isinstance(model_id, str) else None,
        }
        retries, fallbacks = _as_count(retries), _as_count(fallbacks)
        observer = self._observer
        if self._span is not None:
            try:
                self._close_span(
                    exc,
                    known_cost,
                    source,
                    ids,
                    retries,
                    fallbacks,
                    prompt_tokens,
                    completion_tokens,
                    completion,
                    closed_early,
                )
            except Exception as failure:
                observer.report("span", failure)
        if observer.metrics is not None:
            record = CallRecord(
                operation=self.operation,
                model=self.model,
                status=status,
                error_type=error_type,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost=known_cost,
                cost_source=source,
                call_id=ids["call_id"],
                model_id=ids["model_id"],
                attempted_retries=retries,
                attempted_fallbacks=fallbacks,
                duration_s=duration,
                stream_closed_early=closed_early,
                tenant=self.tenant,
                scope=getattr(exc, "scope", None),
            )
            try:
                observer.metrics(record)
            except Exception as failure:
                observer.report("metrics hook", failure)

    def _close_span(
        self,
        exc: BaseException | None,
        cost: float | None,
        source: CostSource,
        ids: Mapping[str, str | None],
        retries: int | None,
        fallbacks: int | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        completion: Any,
        closed_early: bool,
    ) -> None:
        span = self._span
        assert span is not None
        try:
            if not span.is_recording():
                return
            values: dict[str, Any] = {
                "gen_ai.response.model": self._response_model,
                "gen_ai.usage.input_tokens": prompt_tokens,
                "gen_ai.usage.output_tokens": completion_tokens,
                "muxer_litellm.cost_usd": cost,
                "muxer_litellm.cost_source": source,
                "litellm.call_id": ids["call_id"],
                "litellm.model_id": ids["model_id"],
                "litellm.attempted_retries": retries,
                "litellm.attempted_fallbacks": fallbacks,
            }
            if self.operation == "stream":
                values["muxer_litellm.stream_closed_early"] = closed_early
            if completion is not None:
                values["gen_ai.completion"] = self._content(completion)
            span.set_attributes({k: v for k, v in values.items() if v is not None})
            if exc is not None:
                from opentelemetry import trace

                message = self._observer.redact(str(exc))
                span.set_attribute("error.type", type(exc).__name__)
                status_code = getattr(exc, "status_code", None)
                if isinstance(status_code, int):
                    span.set_attribute("http.response.status_code", status_code)
                span.record_exception(
                    exc,
                    attributes={
                        "exception.message": message,
                        "exception.stacktrace": self._observer.redact("".join(traceback.format_exception(exc))),
                    },
                )
                description = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
                span.set_status(trace.Status(trace.StatusCode.ERROR, description[:500]))
        finally:
            span.end()
