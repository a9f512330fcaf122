"""What a router remembers between requests: cooldowns, breakers, trial gates, provider health, turns.

All mutable routing state of one process lives here, behind a few named operations; routing
reaches it through a :class:`~muxer_litellm.routing.state.store.RoutingStore` (``store.py``: this state
as is, or ``redis.py``: the same rules in Redis, shared by gateway replicas):

- planning reads :meth:`RoutingState.snapshot` once per decision;
- execution calls :meth:`~RoutingState.admit` right before calling a target (it takes the
  half-open trial gate when one is due) and reports the outcome with :meth:`~RoutingState.record_success`,
  :meth:`~RoutingState.record_failure`, :meth:`~RoutingState.cool_down` or :meth:`~RoutingState.release`;
- combos take turns with :meth:`~RoutingState.next_turn`; health checks write
  :meth:`~RoutingState.set_provider_health`.

Rules, per target (``provider/model``):

- A 429 blocks the target for its Retry-After (capped at ``max_cooldown``).
- Retryable failures open its breaker for ``breaker_cooldown`` after ``breaker_threshold`` of them
  *in a row*, where failures of calls that were admitted before the last counted failure was
  recorded belong to the same burst and count once: ten concurrent 500s are one failure, not ten.
- When a block ends the target is *half-open*: :meth:`admit` lets exactly one call through as a
  trial and refuses the others until that trial resolves (a success closes it; a retryable
  failure of a breaker trial reopens it at once; a 429 blocks it again; anything else frees the
  gate for the next trial).
- Results of calls admitted before the target's latest block began are stale: they were in
  flight when it opened, so they neither reopen, extend, nor close it.
- A request whose usable targets are all behind open breakers may call them anyway (``forced``:
  planning decides that, see ``select.py``); a 429's wait and a failed health check always hold.

Plain synchronous state (one event loop, no awaits inside), so every method is atomic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .signals import SignalBook, SignalView

__all__ = [
    "DEFAULT_TENANT",
    "TRIAL_WAIT",
    "Block",
    "BlockCause",
    "RoutingState",
    "StateSnapshot",
    "TargetStatus",
    "Ticket",
    "block_status",
    "health_status",
    "scoped_key",
]

#: The wait reported for a target whose half-open trial is still in flight: the trial usually
#: resolves within one call's time, after which the target is either closed or blocked again.
TRIAL_WAIT = 1.0

#: The tenant of requests made with each provider's own key (no per-call key, no tenant id).
DEFAULT_TENANT = "_"


def scoped_key(tenant: str | None, what: str) -> str:
    """The record that blocks ``what`` (a provider name, or a target's ``provider/model``) for
    one tenant only: ``@{tenant}|{what}``. Tenant labels are ids or keyed hashes, never keys;
    ``@`` starts no target key, so the two never meet."""
    return f"@{tenant or DEFAULT_TENANT}|{what}"


BlockCause = Literal["rate_limit", "breaker", "health"]
_Kind = Literal["cooldown", "breaker"]


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """Why a target may not be called now, and for how much longer.

    ``cause``: ``rate_limit`` (a 429's wait), ``breaker`` (ejected for retryable failures: the
    only block a request may override when nothing else can serve it) or ``health`` (its
    provider failed ``health_check()``). ``trial_in_flight``: the block has ended but another
    call is the half-open trial (``remaining`` is then :data:`TRIAL_WAIT`)."""

    reason: str
    remaining: float
    cause: BlockCause = "rate_limit"
    trial_in_flight: bool = False


@dataclass(frozen=True, slots=True)
class Ticket:
    """One admitted call. ``seq`` orders it against the target's state changes (a call
    admitted before a block began is stale); ``trial``: it holds the half-open gate;
    ``forced``: admitted past an open breaker because nothing else could serve the request.
    ``shared``: issued by a shared store (its ``seq`` is that store's), not by this process's state."""

    key: str
    seq: int
    trial: bool = False
    forced: bool = False
    shared: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """A target's block as a store hands it to another (``cause`` ``rate_limit`` or ``breaker``):
    what a replica keeps when the shared store goes away, and publishes when it is back."""

    key: str
    cause: BlockCause
    remaining: float
    reason: str


def block_status(cause: BlockCause, reason: str, left: float, trial_in_flight: bool) -> TargetStatus | None:
    """Why a target blocked for ``left`` more seconds (<= 0: its block ended) may not be called,
    or None when it is half-open with no trial in flight. One wording for every store."""
    if left > 0:
        return TargetStatus(f"{reason}, {left:.1f}s left", left, cause)
    if trial_in_flight:
        return TargetStatus(
            f"half-open after '{reason}': a trial call is in flight", TRIAL_WAIT, cause, trial_in_flight=True
        )
    return None


def health_status(provider: str, error: str, left: float) -> TargetStatus:
    return TargetStatus(f"provider {provider!r} failed its health check: {error}", left, "health")


@dataclass(slots=True)
class _Record:
    kind: _Kind | None = None  # why the target was last blocked; None: closed
    until: float = 0.0  # blocked until then; half-open after it (while kind is set)
    reason: str = ""
    mark: int = 0  # the last seq issued when the block began: tickets up to it are stale
    trial: int | None = None  # seq of the half-open trial in flight
    streak: int = 0  # counted retryable failures in a row
    burst_mark: int = 0  # the last seq issued when the last failure was counted


class StateSnapshot:
    """Planning's one read of the state for a decision: what is blocked, at one instant.
    Targets not listed are callable (closed, or half-open with no trial in flight).
    ``turn``: the round-robin turn read (or taken) with it, when planning asked for one.
    ``tenant``: whose request it is read for: a target is also blocked for it when that tenant
    is cooling on the target or its whole provider (:func:`scoped_key` records, read with the
    rest: still one read). ``signals``: the live signals read with it (latency, load, errors,
    headroom: ``signals.py``)."""

    __slots__ = ("_providers", "_targets", "now", "signals", "tenant", "turn")

    def __init__(
        self,
        now: float,
        targets: Mapping[str, TargetStatus],
        providers: Mapping[str, TargetStatus],
        turn: int | None = None,
        tenant: str = DEFAULT_TENANT,
        signals: SignalView | None = None,
    ) -> None:
        self.now = now
        self._targets = targets
        self._providers = providers
        self.turn = turn
        self.tenant = tenant
        self.signals = signals

    def for_tenant(self, tenant: str | None) -> StateSnapshot:
        """The same read, for ``tenant``'s request (None: the providers' own keys)."""
        return StateSnapshot(
            self.now, self._targets, self._providers, self.turn, tenant or DEFAULT_TENANT, self.signals
        )

    @property
    def empty(self) -> bool:
        """Nothing is blocked: a decision can skip the per-candidate checks."""
        return not self._targets and not self._providers

    def status(self, key: str, provider: str) -> TargetStatus | None:
        found = self._providers.get(provider) or self._targets.get(key)
        if found is None and self._targets:
            targets, tenant = self._targets, self.tenant
            found = targets.get(f"@{tenant}|{provider}") or targets.get(f"@{tenant}|{key}")
        return found


class RoutingState:
    """In-process routing state (the default store). Keep one per router; see the module doc."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        breaker_threshold: int = 3,
        breaker_cooldown: float = 30.0,
        health_ttl: float = 60.0,
        max_cooldown: float = 300.0,
        signals: SignalBook | None = None,
    ) -> None:
        self._clock = clock
        #: This process's live signals (``signals.py``): execution writes them, snapshots carry them.
        self.signals = signals or SignalBook(clock=clock)
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown = breaker_cooldown
        self.health_ttl = health_ttl
        self.max_cooldown = max_cooldown
        self._records: dict[str, _Record] = {}
        self._provider_down: dict[str, tuple[float, str]] = {}
        self._turns: dict[str, int] = {}
        self._seq = 0

    def now(self) -> float:
        return self._clock()

    # ------------------------------------------------------------------ planning

    def snapshot(self, keys: Iterable[str] | None = None) -> StateSnapshot:
        """Every blocked target and provider now (at least those of ``keys`` when given:
        an in-process store lists all, which costs only the blocked ones)."""
        now = self._clock()
        targets: dict[str, TargetStatus] = {}
        ended: list[str] = []
        for key, record in self._records.items():
            if record.kind is not None and (status := self._status(record, now)) is not None:
                targets[key] = status
            elif key[:1] == "@":
                ended.append(key)  # a tenant's wait is over: nothing to remember
        for key in ended:
            del self._records[key]
        providers = {p: status for p in list(self._provider_down) if (status := self._down(p, now)) is not None}
        return StateSnapshot(now, targets, providers, signals=self.signals.view())

    # ------------------------------------------------------------------ execution

    def admit(
        self, key: str, provider: str, *, forced: bool = False, tenant: str | None = None
    ) -> Ticket | TargetStatus:
        """A ticket to call ``key`` now, or why not. Takes the half-open trial gate when the
        target's block has ended (one trial at a time). ``forced`` passes an open breaker (not a
        429's wait, a down provider, or another call's trial gate... unless that gate is a
        breaker's): planning sets it when nothing else can serve the request. ``tenant``'s own
        waits on the target or its provider hold too (they have no trial: they just end)."""
        now = self._clock()
        down = self._down(provider, now) or self._tenant_wait(key, provider, tenant, now)
        if down is not None:
            return down
        record = self._records.get(key)
        if record is None or record.kind is None:
            return Ticket(key, self._next())
        if forced and record.kind == "breaker":
            return Ticket(key, self._next(), forced=True)
        if record.until > now or record.trial is not None:
            status = self._status(record, now)
            assert status is not None  # blocked or trial in flight
            return status
        record.trial = self._next()
        return Ticket(key, record.trial, trial=True)

    def try_acquire_trial(self, key: str) -> Ticket | None:
        """The half-open gate alone: a trial ticket when ``key``'s block has ended and no trial
        is in flight; None otherwise (also when it is closed: there is nothing to try)."""
        record = self._records.get(key)
        if record is None or record.kind is None or record.until > self._clock() or record.trial is not None:
            return None
        record.trial = self._next()
        return Ticket(key, record.trial, trial=True)

    def ticket_now(self, key: str) -> Ticket:
        """A ticket for a call to ``key`` admitted just now (a call another store admitted)."""
        return Ticket(key, self._next())

    def record_success(self, ticket: Ticket) -> None:
        """The call answered: its target works, so it closes (unless the call is stale)."""
        record = self._records.get(ticket.key)
        if record is None or ticket.seq <= record.mark:
            return
        del self._records[ticket.key]

    def record_failure(self, ticket: Ticket) -> bool:
        """A retryable failure (not a 429). Returns True when it opened (or reopened) the breaker."""
        record = self._records.setdefault(ticket.key, _Record())
        if ticket.seq <= record.mark:
            return False  # in flight when the target was blocked: that block already covers it
        now = self._clock()
        if record.kind is not None:
            if record.until > now:
                return False  # a forced call failed while the breaker is open: no second opening
            if record.kind == "breaker":
                self._block(record, "breaker", self.breaker_cooldown, "circuit open again after a failed trial")
                return True
            # A probe after a 429 wait failed otherwise: the rate limit is over; count it as any failure.
            record.kind, record.trial = None, None
        if ticket.seq <= record.burst_mark:
            return False  # admitted before the last counted failure: the same burst
        record.streak += 1
        record.burst_mark = self._seq
        if record.streak >= self.breaker_threshold:
            why = f"circuit open after {record.streak} failure(s) in a row"
            self._block(record, "breaker", self.breaker_cooldown, why)
            return True
        return False

    def cool_down(self, key: str, seconds: float, why: str, *, ticket: Ticket | None = None) -> float:
        """Block ``key`` for ``seconds`` (capped at ``max_cooldown``); returns the wait used.
        With the ``ticket`` of the call that got the 429, a stale one (admitted before the
        current block began: the same rate-limit episode) changes nothing and returns 0."""
        seconds = min(max(0.0, seconds), self.max_cooldown)
        record = self._records.setdefault(key, _Record())
        if ticket is not None and ticket.seq <= record.mark:
            return 0.0
        if record.kind is not None and record.until > self._clock() + seconds:
            return seconds  # already blocked for longer
        self._block(record, "cooldown", seconds, why, reset_streak=False)
        return seconds

    def release(self, ticket: Ticket) -> None:
        """The call ended without saying whether the target works (cancelled, a model- or
        request-scoped error): free the trial gate it held, if any."""
        record = self._records.get(ticket.key)
        if record is not None and record.trial == ticket.seq:
            record.trial = None

    # ------------------------------------------------------------------ reading

    def status(self, key: str, provider: str, tenant: str | None = None) -> TargetStatus | None:
        """None when the target may be called now (for ``tenant``); else why not."""
        now = self._clock()
        down = self._down(provider, now) or self._tenant_wait(key, provider, tenant, now)
        if down is not None:
            return down
        record = self._records.get(key)
        return None if record is None or record.kind is None else self._status(record, now)

    def shortest_wait(self, targets: Iterable[tuple[str, str]], tenant: str | None = None) -> float | None:
        """The shortest wait until one of ``(key, provider)`` may be called (for ``tenant``), when
        every one of them is blocked now; None when some may be called already (or there are none)."""
        waits = []
        for key, provider in targets:
            status = self.status(key, provider, tenant)
            if status is None:
                return None
            waits.append(status.remaining)
        return min(waits) if waits else None

    def breaker_state(self, key: str) -> str:
        """``open`` (blocked: breaker or 429 wait), ``half-open`` (its block ended: the next call
        is a trial) or ``closed``, for CLIs and dashboards."""
        record = self._records.get(key)
        if record is None or record.kind is None:
            return "closed"
        return "open" if record.until > self._clock() else "half-open"

    # ------------------------------------------------------------------ providers

    def set_provider_health(self, provider: str, healthy: bool, error: str | None = None) -> None:
        if healthy:
            self._provider_down.pop(provider, None)
        else:
            self._provider_down[provider] = (self._clock() + self.health_ttl, error or "unhealthy")

    # ------------------------------------------------------------------ round robin

    def next_turn(self, name: str, size: int, *, advance: bool = True) -> int:
        """The start index for combo ``name`` this time (0, 1, ... size-1, 0, ...); a preview
        passes ``advance=False`` to see it without taking the turn."""
        turn = self.turn(name, advance=advance)
        return turn % size if size else 0

    def turn(self, name: str, *, advance: bool = True) -> int:
        """Combo ``name``'s turn counter (0, 1, 2, ...): taken when ``advance``, else only read."""
        turn = self._turns.get(name, 0)
        if advance:
            self._turns[name] = turn + 1
        return turn

    # ------------------------------------------------------------------ hand-over between stores

    def export_blocks(self) -> list[Block]:
        """Every target blocked now, with the time it has left (a half-open one is not blocked)."""
        now = self._clock()
        return [
            Block(key, "breaker" if r.kind == "breaker" else "rate_limit", r.until - now, r.reason)
            for key, r in self._records.items()
            if r.kind is not None and r.until > now
        ]

    def export_provider_marks(self) -> dict[str, tuple[float, str]]:
        """Providers failing their health check now: name -> (seconds left, error)."""
        now = self._clock()
        return {p: (until - now, error) for p, (until, error) in self._provider_down.items() if until > now}

    def import_block(self, block: Block) -> None:
        """Block ``block.key`` for its remaining time, unless it is blocked longer already; calls
        admitted before count as in flight when it began (their results are stale)."""
        record = self._records.setdefault(block.key, _Record())
        now = self._clock()
        if record.kind is not None and record.until >= now + block.remaining:
            return
        kind: _Kind = "breaker" if block.cause == "breaker" else "cooldown"
        self._block(record, kind, block.remaining, block.reason, reset_streak=kind == "breaker")

    def import_provider_mark(self, provider: str, seconds: float, error: str) -> None:
        """Leave ``provider`` out for ``seconds`` (what another store knew of its health)."""
        self._provider_down[provider] = (self._clock() + seconds, error)

    def clear(self) -> None:
        """Forget every block, count, gate, health mark and turn (tickets issued keep ordering)."""
        self._records.clear()
        self._provider_down.clear()
        self._turns.clear()

    # ------------------------------------------------------------------ internals

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _block(self, record: _Record, kind: _Kind, seconds: float, why: str, *, reset_streak: bool = True) -> None:
        record.kind = kind
        record.until = self._clock() + seconds
        record.reason = why
        record.mark = self._seq
        record.trial = None
        if reset_streak:
            record.streak = 0
            record.burst_mark = self._seq

    def _tenant_wait(self, key: str, provider: str, tenant: str | None, now: float) -> TargetStatus | None:
        """``tenant``'s own wait on ``provider`` or on ``key``, if one holds now."""
        for scoped in (scoped_key(tenant, provider), scoped_key(tenant, key)):
            record = self._records.get(scoped)
            if record is None:
                continue
            if record.kind is not None and record.until > now:
                return self._status(record, now)
            del self._records[scoped]
        return None

    def _down(self, provider: str, now: float) -> TargetStatus | None:
        down = self._provider_down.get(provider)
        if down is None:
            return None
        if down[0] <= now:
            del self._provider_down[provider]
            return None
        return health_status(provider, down[1], down[0] - now)

    @staticmethod
    def _status(record: _Record, now: float) -> TargetStatus | None:
        cause: BlockCause = "breaker" if record.kind == "breaker" else "rate_limit"
        return block_status(cause, record.reason, record.until - now, record.trial is not None)
