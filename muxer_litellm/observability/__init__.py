"""Optional tracing and metrics around each proxy call (off by default, free when off).

``metrics`` holds the :class:`CallRecord` a metrics hook receives and :class:`PrometheusMetrics`;
``observer`` holds the :class:`Observer` a provider uses to open OpenTelemetry spans and report
each call.
"""

from __future__ import annotations

from .metrics import CallRecord, MetricsHook, PrometheusMetrics
from .observer import CONTENT_LIMIT_BYTES, Observer

__all__ = ["CONTENT_LIMIT_BYTES", "CallRecord", "MetricsHook", "Observer", "PrometheusMetrics"]
