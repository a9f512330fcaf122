"""What execution tells the live signals about each call (``state/signals.py``): that it started
and ended (in flight, error rate), how long it took (total and per output token for a chat call,
time to the first chunk for a stream) and what the upstream said of its rate limits
(:class:`~muxer_litellm.host.Headroom`, typed by the provider: routing reads no reply headers).

No I/O: a shared store publishes the book on its own schedule (``RoutingStore.signals_changed``:
off the call's path, at once when the target is near its rate limit).
"""

from __future__ import annotations

import time

from ..errors import ProviderError
from ..host import RouterMetadata, Usage
from .policy import error_verdict
from .state.store import RoutingStore

__all__ = ["CallSignals"]


class CallSignals:
    """One call's measurements; :meth:`end` exactly once (later calls do nothing)."""

    __slots__ = ("_at", "_ended", "_first", "_started", "key", "number", "store")

    def __init__(self, store: RoutingStore, key: str) -> None:
        self.store = store
        self.key = key
        self.number = store.local.signals.started(key)
        self._at = store.local.signals.clock()
        store.signals_changed(key)
        self._started = time.perf_counter()
        self._first = False
        self._ended = False

    def first_chunk(self, meta: RouterMetadata | None = None) -> None:
        """A stream's first data chunk arrived: its time to first chunk."""
        if not self._first:
            self._first = True
            ms = (time.perf_counter() - self._started) * 1000
            self.store.local.signals.record_latency(self.key, "ttft", ms, deployment=meta.model_id if meta else None)

    def answered(self, meta: RouterMetadata | None, usage: Usage | None, *, chat: bool = True) -> None:
        """The call answered: its latency (a chat call's), the upstream's headroom, ``ok``."""
        book = self.store.local.signals
        if chat:
            ms = (time.perf_counter() - self._started) * 1000
            deployment = meta.model_id if meta is not None else None
            book.record_latency(self.key, "total", ms, deployment=deployment)
            if usage is not None and usage.completion_tokens:
                book.record_latency(self.key, "per_token", ms / usage.completion_tokens, deployment=deployment)
        self.headroom(meta)
        self.end(ok=True)

    def headroom(self, meta: RouterMetadata | None) -> None:
        if meta is not None and meta.headroom is not None:
            self.store.local.signals.observe_headroom(self.key, meta.headroom, self.number, at=self._at)

    def end(self, *, ok: bool | None) -> None:
        """``ok``: answered (True), failed (False: counts in the error rate), or None (nothing learned)."""
        if self._ended:
            return
        self._ended = True
        self.store.local.signals.ended(self.key, ok=ok)
        self.store.signals_changed(self.key)

    def failed(self, exc: ProviderError, rate_limit_cooldown: float) -> None:
        """The call failed: an error about the target (a 429, a retryable failure) counts in its
        error rate; one about the request (a bad request, a refused key) says nothing of it."""
        verdict = error_verdict(exc, rate_limit_cooldown=rate_limit_cooldown)
        self.end(ok=False if verdict.effect in ("failure", "cool_down") else None)
