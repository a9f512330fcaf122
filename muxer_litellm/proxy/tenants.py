"""What one provider keeps per tenant: in-flight calls (the fairness cap) and which models a
tenant's key may call (``/v1/models`` for that key, cached with the catalog's TTL).

Tenants are labelled by the id the caller gives or by a keyed hash of their key
(:func:`~muxer_litellm._utils.tenant_label`); neither holds the key itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from ..errors import TenantBusyError
from .replies import PROVIDER

__all__ = ["KeyModels", "TenantGate"]


class TenantGate:
    """At most ``limit`` calls in flight per tenant on the shared pool; one more raises
    :class:`TenantBusyError` (retryable after ``retry_after`` seconds) before anything is sent."""

    __slots__ = ("_in_flight", "limit", "retry_after")

    def __init__(self, limit: int, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self._in_flight: dict[str, int] = {}

    def enter(self, tenant: str, model: str | None) -> None:
        count = self._in_flight.get(tenant, 0)
        if count >= self.limit:
            raise TenantBusyError(
                f"tenant {tenant!r} already has {count} call(s) in flight on this provider "
                f"(max_tenant_in_flight={self.limit}); retry in {self.retry_after:g}s",
                None,
                PROVIDER,
                retry_after=self.retry_after,
                model=model,
                scope="tenant",
                entity="in_flight",
            )
        self._in_flight[tenant] = count + 1

    def leave(self, tenant: str) -> None:
        count = self._in_flight.get(tenant, 0) - 1
        if count > 0:
            self._in_flight[tenant] = count
        else:
            self._in_flight.pop(tenant, None)

    def in_flight(self, tenant: str) -> int:
        return self._in_flight.get(tenant, 0)


class KeyModels:
    """The model names each tenant's key may call, fetched once per ``ttl`` per tenant (callers
    asking at once share one request), for at most ``max_tenants`` tenants (least recently
    used forgotten first). A failed fetch is not cached."""

    def __init__(self, ttl: Callable[[], float], max_tenants: int = 1024) -> None:
        self._ttl = ttl
        self.max_tenants = max_tenants
        self._entries: OrderedDict[str, tuple[float, frozenset[str]]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[frozenset[str]]] = {}

    async def get(self, tenant: str, fetch: Callable[[], Awaitable[frozenset[str]]]) -> frozenset[str]:
        entry = self._entries.get(tenant)
        if entry is not None and time.monotonic() - entry[0] < self._ttl():
            self._entries.move_to_end(tenant)
            return entry[1]
        pending = self._pending.get(tenant)
        if pending is None:
            pending = asyncio.ensure_future(fetch())
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._pending[tenant] = pending
            pending.add_done_callback(lambda f: self._done(tenant, f))
        return await asyncio.shield(pending)

    def _done(self, tenant: str, future: asyncio.Future[frozenset[str]]) -> None:
        self._pending.pop(tenant, None)
        if future.cancelled() or future.exception() is not None:
            return
        self._entries[tenant] = (time.monotonic(), future.result())
        self._entries.move_to_end(tenant)
        while len(self._entries) > self.max_tenants:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
