"""Prometheus series for routing state (``[prometheus]`` extra): for a shared store, how often
Redis went out of reach and how many routing operations the local state served meanwhile
(``HeuristicRouter(config, store_metrics=PrometheusStoreMetrics())`` with ``state_backend: redis``);
for every store, the live signals routing decides on (:class:`PrometheusSignalMetrics`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .redis import StoreEvent
from .signals import LATENCY_KINDS
from .store import RoutingStore

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["PrometheusSignalMetrics", "PrometheusStoreMetrics"]


class PrometheusStoreMetrics:
    """A :class:`~.redis.StoreMetricsHook` keeping three series (``backend`` label:
    ``redis``): ``routing_store_outages_total``, ``routing_store_fallbacks_total`` (by
    ``operation``: ``snapshot``, ``admit``, ``record_failure``...) and the gauge
    ``routing_store_shared`` (1 while the store shares, 0 while it routes on local state)."""

    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "muxer_litellm") -> None:
        try:
            import prometheus_client
        except ImportError as exc:
            raise ImportError(
                "PrometheusStoreMetrics needs prometheus_client: pip install 'muxer-litellm[prometheus]'"
            ) from exc
        target = prometheus_client.REGISTRY if registry is None else registry
        common: dict[str, Any] = {"namespace": namespace, "registry": target}
        self.outages = prometheus_client.Counter(
            "routing_store_outages", "Times the shared routing-state store went out of reach.", ["backend"], **common
        )
        self.fallbacks = prometheus_client.Counter(
            "routing_store_fallbacks",
            "Routing-state operations served by the local state because the shared store was out of reach.",
            ["backend", "operation"],
            **common,
        )
        self.shared = prometheus_client.Gauge(
            "routing_store_shared",
            "1 while routing state is shared, 0 while routing on local state.",
            ["backend"],
            **common,
        )

    def __call__(self, event: StoreEvent, /) -> None:
        if event.kind == "fallback":
            self.fallbacks.labels(event.backend, event.operation).inc()
        elif event.kind == "down":
            self.outages.labels(event.backend).inc()
            self.shared.labels(event.backend).set(0)
        elif event.kind == "up":
            self.shared.labels(event.backend).set(1)


class PrometheusSignalMetrics:
    """The live routing signals as Prometheus gauges, read from ``store`` at each scrape (this
    replica's own measurements plus what the other replicas last published), by ``target``:

    - ``routing_latency_ms`` (``kind``: ``ttft``/``total``/``per_token``, ``quantile``: 0.5/0.9/0.99),
      ``routing_latency_samples`` (``kind``);
    - ``routing_in_flight``, ``routing_error_rate``;
    - ``routing_headroom_remaining`` (``limit``: ``requests``/``tokens``), only while a reading holds.

    ``REGISTRY.register(PrometheusSignalMetrics(router.store))``; deployments appear as
    ``target@deployment`` (latency only)."""

    QUANTILES = (0.5, 0.9, 0.99)

    def __init__(self, store: RoutingStore, namespace: str = "muxer_litellm") -> None:
        self.store = store
        self.namespace = namespace

    def describe(self) -> list[Any]:
        return []  # collected on demand: no fixed series list

    def collect(self) -> Iterator[Any]:
        try:
            from prometheus_client.core import GaugeMetricFamily
        except ImportError as exc:  # pragma: no cover - the [prometheus] extra is missing
            raise ImportError(
                "PrometheusSignalMetrics needs prometheus_client: pip install 'muxer-litellm[prometheus]'"
            ) from exc
        view = self.store.cached_snapshot().signals
        ns = self.namespace
        latency = GaugeMetricFamily(
            f"{ns}_routing_latency_ms", "Recent latency per target (ms).", labels=["target", "kind", "quantile"]
        )
        samples = GaugeMetricFamily(
            f"{ns}_routing_latency_samples", "Recent latency samples per target.", labels=["target", "kind"]
        )
        flight = GaugeMetricFamily(f"{ns}_routing_in_flight", "Calls in flight per target.", labels=["target"])
        errors = GaugeMetricFamily(
            f"{ns}_routing_error_rate", "Recent share of failed calls per target.", labels=["target"]
        )
        headroom = GaugeMetricFamily(
            f"{ns}_routing_headroom_remaining",
            "What the upstream said is left before its rate limit resets.",
            labels=["target", "limit"],
        )
        if view is not None:
            for key in sorted(view.keys()):
                for kind in LATENCY_KINDS:
                    n = view.samples(key, kind)
                    if not n:
                        continue
                    samples.add_metric([key, kind], n)
                    for q in self.QUANTILES:
                        value = view.latency(key, kind, q)
                        if value is not None:
                            latency.add_metric([key, kind, str(q)], value)
                if "@" in key:
                    continue
                flight.add_metric([key], view.in_flight(key))
                rate = view.error_rate(key)
                if rate is not None:
                    errors.add_metric([key], rate)
                requests, tokens = view.remaining(key)
                if requests is not None:
                    headroom.add_metric([key, "requests"], requests)
                if tokens is not None:
                    headroom.add_metric([key, "tokens"], tokens)
        yield from (latency, samples, flight, errors, headroom)
