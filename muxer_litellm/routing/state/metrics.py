"""Prometheus series for a shared routing-state store (``[prometheus]`` extra): how often Redis
went out of reach and how many routing operations the local state served meanwhile.

``HeuristicRouter(config, store_metrics=PrometheusStoreMetrics())`` with ``state_backend: redis``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .redis import StoreEvent

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["PrometheusStoreMetrics"]


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
