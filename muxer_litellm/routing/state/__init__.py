"""Routing state: cooldowns, breakers, trial gates, provider health and combo turns.

``local`` holds it in one process (:class:`RoutingState`); ``store`` is the interface routing
uses (:class:`RoutingStore`, with :class:`LocalStore` over the local state); ``redis`` shares the
same state between gateway replicas (``redis_lua`` its scripts, ``metrics`` its Prometheus
series).
"""

from __future__ import annotations

from .local import TRIAL_WAIT, Block, BlockCause, RoutingState, StateSnapshot, TargetStatus, Ticket
from .metrics import PrometheusSignalMetrics, PrometheusStoreMetrics
from .redis import RedisStore, StoreEvent, StoreMetricsHook, StoreStats
from .signals import HeadroomBlock, LatencyKind, SignalBook, SignalSettings, SignalView
from .store import LocalStore, RoutingStore

__all__ = [
    "TRIAL_WAIT",
    "Block",
    "BlockCause",
    "HeadroomBlock",
    "LatencyKind",
    "LocalStore",
    "PrometheusSignalMetrics",
    "PrometheusStoreMetrics",
    "RedisStore",
    "RoutingState",
    "RoutingStore",
    "SignalBook",
    "SignalSettings",
    "SignalView",
    "StateSnapshot",
    "StoreEvent",
    "StoreMetricsHook",
    "StoreStats",
    "TargetStatus",
    "Ticket",
]
