"""Metrics for each proxy call: the record a metrics hook receives, and Prometheus series.

Off by default: nothing here imports prometheus_client (the ``[prometheus]`` extra) until
:class:`PrometheusMetrics` is built.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from ..host import CostSource

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["OTHER_MODEL", "CallRecord", "CallStatus", "MetricsHook", "Operation", "PrometheusMetrics"]

Operation = Literal["chat", "stream", "embeddings"]
CallStatus = Literal["ok", "error"]

#: The shared ``model`` label for names beyond PrometheusMetrics.max_models or unknown to the proxy.
OTHER_MODEL = "other"
#: The shared ``tenant`` label for tenants beyond PrometheusMetrics.max_tenants.
OTHER_TENANT = "other"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished call, as a metrics hook sees it (never any prompt, answer or key).

    ``cost`` is None when it is unknown (and always for failed calls); ``model`` is the name
    the caller asked for, so labels stay the operator's small set of aliases.
    ``stream_closed_early``: the consumer closed a stream before its usage chunk, so the
    tokens and cost of what the proxy generated are unknown.
    """

    operation: Operation
    model: str
    status: CallStatus
    error_type: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    cost_source: CostSource
    call_id: str | None
    model_id: str | None
    attempted_retries: int | None
    attempted_fallbacks: int | None
    duration_s: float
    stream_closed_early: bool = False
    #: The tenant's label (an id the caller gave, a keyed hash of its key, ``_`` for the
    #: provider's own key); None when the caller did not say. Never a key.
    tenant: str | None = None
    #: A failed call's error scope (``tenant``, ``tenant_model``, ``deployment``, ``proxy``).
    scope: str | None = None


class MetricsHook(Protocol):
    """Called once per finished call; any callable taking a :class:`CallRecord` fits."""

    def __call__(self, record: CallRecord, /) -> None: ...


class PrometheusMetrics:
    """A :class:`MetricsHook` that keeps Prometheus counters and a latency histogram.

    Every metric is labelled by ``model`` (the requested name; see :meth:`_label` for how the
    number of names is bounded). Register one instance per
    registry and namespace: prometheus_client refuses duplicate names, so a second
    instance on the same registry raises ValueError. :meth:`default` shares one instance
    on the global registry (what ``LITELLM_METRICS=true`` uses).
    """

    #: LLM calls take seconds to minutes; the client's default buckets stop at 10 s.
    DEFAULT_BUCKETS: ClassVar[tuple[float, ...]] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

    _shared: ClassVar[dict[str, PrometheusMetrics]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        namespace: str = "muxer_litellm",
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        max_models: int = 200,
        max_tenants: int = 100,
    ) -> None:
        for name, value in (("max_models", max_models), ("max_tenants", max_tenants)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.max_models = max_models
        self.max_tenants = max_tenants
        self._tenants: set[str] = set()
        self._models: set[str] = set()
        self._models_lock = threading.Lock()
        try:
            import prometheus_client
        except ImportError as exc:
            raise ImportError(
                "PrometheusMetrics needs prometheus_client: pip install 'muxer-litellm[prometheus]'"
            ) from exc
        target = prometheus_client.REGISTRY if registry is None else registry
        created: list[Any] = []

        def make(kind: Any, name: str, doc: str, labels: list[str], **extra: Any) -> Any:
            metric = kind(name, doc, labels, namespace=namespace, registry=target, **extra)
            created.append(metric)
            return metric

        try:
            self.requests = make(
                prometheus_client.Counter, "requests", "Calls to the LiteLLM proxy.", ["model", "operation", "status"]
            )
            self.errors = make(
                prometheus_client.Counter, "errors", "Failed calls by error class.", ["model", "error_type"]
            )
            self.tokens = make(
                prometheus_client.Counter, "tokens", "Tokens the proxy reported, by kind.", ["model", "kind"]
            )
            self.cost_usd = make(prometheus_client.Counter, "cost_usd", "Known cost of successful calls.", ["model"])
            self.unknown_cost = make(
                prometheus_client.Counter, "unknown_cost", "Successful calls whose cost is unknown.", ["model"]
            )
            self.tenant_requests = make(
                prometheus_client.Counter,
                "tenant_requests",
                "Calls made for a tenant (label: its id or a keyed hash of its key; 'other' past max_tenants).",
                ["tenant", "status"],
            )
            self.tenant_cost_usd = make(
                prometheus_client.Counter, "tenant_cost_usd", "Known cost of a tenant's successful calls.", ["tenant"]
            )
            self.tenant_limited = make(
                prometheus_client.Counter,
                "tenant_limited",
                "A tenant's calls refused by a limit of its own (scope tenant or tenant_model) or the in-flight cap.",
                ["tenant", "scope"],
            )
            self.duration = make(
                prometheus_client.Histogram,
                "request_duration_seconds",
                "Wall time per call (a stream: until it ends), failures included.",
                ["model", "operation"],
                buckets=tuple(buckets),
            )
        except ValueError as exc:
            for metric in created:
                target.unregister(metric)
            raise ValueError(
                f"cannot register the muxer_litellm metrics under namespace {namespace!r}: {exc}. Use one "
                "PrometheusMetrics per registry and namespace (PrometheusMetrics.default() shares one on the "
                "global registry), or pass another registry= or namespace="
            ) from exc

    @classmethod
    def default(cls, namespace: str = "muxer_litellm") -> PrometheusMetrics:
        """The process-wide instance on prometheus_client's global registry."""
        with cls._shared_lock:
            metrics = cls._shared.get(namespace)
            if metrics is None:
                metrics = cls._shared[namespace] = cls(namespace=namespace)
            return metrics

    def _label(self, record: CallRecord) -> str:
        """The ``model`` label, bounded: a name gets its own series once a call to it worked
        or failed for a reason other than "no such model", up to ``max_models`` names; the
        rest share ``other``. Client-chosen or mistyped names cannot grow the series forever."""
        name = record.model
        if name in self._models:
            return name
        if record.error_type == "ModelNotFoundError" or len(self._models) >= self.max_models:
            return OTHER_MODEL
        with self._models_lock:
            if len(self._models) < self.max_models:
                self._models.add(name)
                return name
        return OTHER_MODEL

    def _tenant(self, tenant: str) -> str:
        """The ``tenant`` label, bounded like ``model``: the first ``max_tenants`` tenants seen
        get their own series, the rest share ``other``."""
        if tenant in self._tenants:
            return tenant
        with self._models_lock:
            if len(self._tenants) < self.max_tenants:
                self._tenants.add(tenant)
                return tenant
        return OTHER_TENANT

    def _record_tenant(self, record: CallRecord, tenant: str) -> None:
        label = self._tenant(tenant)
        self.tenant_requests.labels(label, record.status).inc()
        if record.cost is not None:
            self.tenant_cost_usd.labels(label).inc(record.cost)
        if record.scope in ("tenant", "tenant_model"):
            self.tenant_limited.labels(label, record.scope).inc()

    def __call__(self, record: CallRecord, /) -> None:
        if record.tenant is not None:
            self._record_tenant(record, record.tenant)
        model = self._label(record)
        self.requests.labels(model, record.operation, record.status).inc()
        self.duration.labels(model, record.operation).observe(record.duration_s)
        if record.status == "error":
            self.errors.labels(model, record.error_type or "unknown").inc()
        if record.prompt_tokens:
            self.tokens.labels(model, "prompt").inc(record.prompt_tokens)
        if record.completion_tokens:
            self.tokens.labels(model, "completion").inc(record.completion_tokens)
        if record.cost is not None:
            self.cost_usd.labels(model).inc(record.cost)
        elif record.status == "ok":
            self.unknown_cost.labels(model).inc()
