"""The routing-state store: the one interface planning and execution use to read and change
routing state, so a gateway can keep it in its own process or share it between replicas.

:class:`LocalStore` (the default) is this process's :class:`~.local.RoutingState` behind
coroutines that never wait, so an in-process router pays one ``await`` of a finished coroutine
per operation and nothing else. ``redis.RedisStore`` keeps the same state in Redis for
several gateway replicas (``state_backend: redis``).

Operations, in the order a request uses them:

- :meth:`RoutingStore.snapshot` once per decision (with the round-robin turn when the strategy
  takes one), and :meth:`~RoutingStore.cached_snapshot` for synchronous decisions
  (``select_model``) that may read the last one;
- :meth:`~RoutingStore.admit` right before each call, then exactly one of
  :meth:`~RoutingStore.record_success`, :meth:`~RoutingStore.record_failure`,
  :meth:`~RoutingStore.cool_down` or :meth:`~RoutingStore.release` with its ticket;
- :meth:`~RoutingStore.shortest_wait` when a route is exhausted;
- :meth:`~RoutingStore.set_provider_health` after health checks;
- :meth:`~RoutingStore.status` / :meth:`~RoutingStore.breaker_state` for dashboards and tests.

The rules behind them are :mod:`.local`'s; every store follows the same ones (one test suite,
``tests/unit/routing/state/test_state.py``, runs against each).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from .local import RoutingState, StateSnapshot, TargetStatus, Ticket

__all__ = ["LocalStore", "RoutingStore"]


class RoutingStore(ABC):
    """Where a router keeps cooldowns, breakers, half-open trial gates, provider health and
    round-robin turns. ``backend`` names it (``local``, ``redis``); ``local`` is this process's
    own :class:`RoutingState` (a shared store falls back to it when the shared copy is out of
    reach)."""

    backend: str
    local: RoutingState

    @abstractmethod
    async def snapshot(self, *, turn: str | None = None, advance: bool = False) -> StateSnapshot:
        """What is blocked now, for one decision. With ``turn``, also combo ``turn``'s round-robin
        counter in ``snapshot.turn`` (taken when ``advance``, else only read)."""

    @abstractmethod
    def cached_snapshot(self) -> StateSnapshot:
        """A snapshot without waiting, for synchronous decisions: the local state's now, or the
        last one a shared store read."""

    @abstractmethod
    async def admit(
        self, key: str, provider: str, *, forced: bool = False, tenant: str | None = None
    ) -> Ticket | TargetStatus:
        """A ticket to call ``key`` now (taking its half-open trial gate when one is due), or why
        not; ``tenant``'s own waits on the target or its provider hold too."""

    @abstractmethod
    async def record_success(self, ticket: Ticket) -> None:
        """The call answered: its target works."""

    @abstractmethod
    async def record_failure(self, ticket: Ticket) -> bool:
        """A retryable failure (not a 429); True when it opened (or reopened) the breaker."""

    @abstractmethod
    async def cool_down(self, key: str, seconds: float, why: str, *, ticket: Ticket | None = None) -> float:
        """Block ``key`` for ``seconds`` (capped at ``max_cooldown``); returns the wait used (0
        when the ticket's call was already in flight when the current block began). ``key`` may
        be a tenant's own record (:func:`~.local.scoped_key`): then only that tenant waits."""

    @abstractmethod
    async def release(self, ticket: Ticket) -> None:
        """The call ended without saying whether its target works: free its trial gate, if any."""

    @abstractmethod
    async def shortest_wait(self, targets: Iterable[tuple[str, str]], tenant: str | None = None) -> float | None:
        """The shortest wait until one of ``(key, provider)`` may be called (for ``tenant``) when
        all are blocked; None when some may be called now (or there are none)."""

    @abstractmethod
    async def set_provider_health(self, provider: str, healthy: bool, error: str | None = None) -> None:
        """A failed health check leaves ``provider`` out for ``health_ttl``; a passed one ends that."""

    @abstractmethod
    async def status(self, key: str, provider: str, tenant: str | None = None) -> TargetStatus | None:
        """None when the target may be called now (for ``tenant``); else why not."""

    @abstractmethod
    async def breaker_state(self, key: str) -> str:
        """``open``, ``half-open`` or ``closed``."""

    async def aclose(self) -> None:
        """Release connections (a local store has none)."""
        return None

    def signals_changed(self, key: str | None = None) -> None:
        """This process's live signals (``local.signals``) changed (a call on ``key`` started or
        ended): a shared store publishes them, at most every ``publish_interval``, or at once
        when ``key`` is near its rate limit; the local store has nothing to do."""
        return None


class LocalStore(RoutingStore):
    """This process's :class:`RoutingState`, as a store: each coroutine calls the state's method
    and returns without waiting, so the in-process default costs what the state itself costs."""

    backend = "local"

    def __init__(self, state: RoutingState) -> None:
        self.local = state

    async def snapshot(self, *, turn: str | None = None, advance: bool = False) -> StateSnapshot:
        view = self.local.snapshot()
        if turn is not None:
            view.turn = self.local.turn(turn, advance=advance)
        return view

    def cached_snapshot(self) -> StateSnapshot:
        return self.local.snapshot()

    async def admit(
        self, key: str, provider: str, *, forced: bool = False, tenant: str | None = None
    ) -> Ticket | TargetStatus:
        return self.local.admit(key, provider, forced=forced, tenant=tenant)

    async def record_success(self, ticket: Ticket) -> None:
        self.local.record_success(ticket)

    async def record_failure(self, ticket: Ticket) -> bool:
        return self.local.record_failure(ticket)

    async def cool_down(self, key: str, seconds: float, why: str, *, ticket: Ticket | None = None) -> float:
        return self.local.cool_down(key, seconds, why, ticket=ticket)

    async def release(self, ticket: Ticket) -> None:
        self.local.release(ticket)

    async def shortest_wait(self, targets: Iterable[tuple[str, str]], tenant: str | None = None) -> float | None:
        return self.local.shortest_wait(targets, tenant)

    async def set_provider_health(self, provider: str, healthy: bool, error: str | None = None) -> None:
        self.local.set_provider_health(provider, healthy, error)

    async def status(self, key: str, provider: str, tenant: str | None = None) -> TargetStatus | None:
        return self.local.status(key, provider, tenant)

    async def breaker_state(self, key: str) -> str:
        return self.local.breaker_state(key)
