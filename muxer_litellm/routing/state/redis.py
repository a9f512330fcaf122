"""Routing state shared by gateway replicas through Redis (``state_backend: redis``).

The same rules as :mod:`.local` (one half-open trial, bursts counted once, stale results
ignored, 429 waits), kept in Redis so that a 429 seen by one replica keeps every replica off
the target, a breaker opened by failures spread over replicas lets exactly one trial through
from all of them, and round-robin turns are counted once for all.

Cost per request (round trips to Redis): planning reads everything a decision needs with one
script (:meth:`RedisStore.snapshot`, round-robin turn included; once more the first time a
record another replica wrote is new to this one, see ``redis_lua.SNAPSHOT``); a call to a closed target is
admitted from that read without another trip, and its success writes nothing unless the target
had something to forget. State changes (a failure, a 429, a trial gate taken or freed, a health
mark) cost one script each. See ``redis_lua.py`` for the data model and the scripts.

Live signals (``signals.py``: latency, in flight, errors, headroom) ride on the same read: each
replica's snapshot script also publishes this replica's aggregate when ``publish_interval`` has
passed since its last publish and it changed, and returns the other replicas' aggregates. A
replica that routes nothing for a while publishes what its ending calls changed with one
script after ``publish_interval`` (never more often). All keys share one hash tag and every key
a script touches is passed to it, so the store works on Redis Cluster (``redis_cluster``).

Redis trouble never fails a request: every trip has a short timeout; when one fails, the store
logs once, counts it (:attr:`RedisStore.stats`, and the metrics hook), keeps what it last read
as this process's local state and routes on that (:class:`~.local.RoutingState`), retrying
Redis every ``retry_interval``. When Redis answers again it publishes the blocks this replica
learned meanwhile (cooldowns and open breakers, with the time they have left) and shares again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ..._utils import strip_url_credentials
from .local import (
    TRIAL_WAIT,
    Block,
    BlockCause,
    RoutingState,
    StateSnapshot,
    TargetStatus,
    Ticket,
    block_status,
    health_status,
    scoped_key,
)
from .redis_lua import ADMIT, COOL_DOWN, FAILURE, HEALTH, PUBLISH, PUBLISH_SIGNALS, RELEASE, SNAPSHOT, SUCCESS
from .signals import SignalView
from .store import RoutingStore

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisStore", "StoreEvent", "StoreMetricsHook", "StoreStats", "safe_url"]

logger = logging.getLogger("muxer_litellm.routing")

T = TypeVar("T")

#: A turn counter is forgotten a day after its combo's last turn.
TURN_TTL_MS = 86_400_000
#: Seconds a record unseen in the index stays on the list a replica passes to the snapshot, so a
#: target that comes back (a new cooldown, say) is read at once, without a second read.
_FORGET_AFTER = 3600.0
#: A snapshot read at most this long ago admits calls to closed targets without a round trip.
VIEW_FRESH = 0.1


class StoreMetricsHook(Protocol):
    """Called on each :class:`StoreEvent` (``metrics.PrometheusStoreMetrics`` is one)."""

    def __call__(self, event: StoreEvent, /) -> None: ...


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """``kind``: ``down`` (Redis went out of reach), ``up`` (sharing again), ``fallback`` (one
    operation served by the local state instead); ``operation`` names it (``snapshot``, ``admit``...)."""

    backend: str
    kind: str
    operation: str


@dataclass(slots=True)
class StoreStats:
    """What a shared store did: ``outages`` (times Redis went out of reach), ``recoveries``,
    ``fallbacks`` per operation served locally, ``published`` blocks handed back to Redis,
    ``shared``: whether it shares right now; ``reads``: snapshot round trips; ``signal_publishes``:
    publishes of this replica's signals (``signals_on_reads`` of them rode on a snapshot read,
    ``signals_at_once`` were sent at once for a target near its limit)."""

    shared: bool = True
    outages: int = 0
    recoveries: int = 0
    published: int = 0
    reads: int = 0
    signal_publishes: int = 0
    signals_on_reads: int = 0
    signals_at_once: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Rec:
    """A target's record as last read (times in the store's ms)."""

    kind: str
    until: int
    reason: str
    trial: int
    lease: int
    streak: int


@dataclass(slots=True)
class _View:
    """The last read: when (this process's monotonic clock), Redis's time and event counter
    then, and the records that exist."""

    read_at: float
    now_ms: int
    seq: int
    targets: dict[str, _Rec]
    providers: dict[str, tuple[int, str]]
    #: Other replicas' signals: (replica id, aggregate, age in seconds when read).
    signals: tuple[tuple[str, dict[str, Any], float], ...] = ()


def safe_url(url: str) -> str:
    """``url`` without its credentials, query or fragment (a password may sit in either), for logs."""
    return strip_url_credentials(url.split("?", 1)[0].split("#", 1)[0])


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password or None
    except ValueError:
        return None


def _text(value: Any) -> str:
    """A reply string (a client made without ``decode_responses`` gives bytes)."""
    return value if isinstance(value, str) else value.decode() if isinstance(value, bytes) else str(value)


def _rec(fields: list[Any]) -> _Rec | None:
    """A record from a script's ``view`` reply: {found, kind, until, reason, trial, lease, streak}."""
    if not int(fields[0]):
        return None
    return _Rec(_text(fields[1]), int(fields[2]), _text(fields[3]), int(fields[4]), int(fields[5]), int(fields[6]))


def _rec_from_fields(fields: list[Any]) -> _Rec:
    """A record from the snapshot's fields: {kind, until, reason, trial, lease, streak}."""
    kind, until, reason, trial, lease, streak = fields
    return _Rec(
        _text(kind or ""), int(until or 0), _text(reason or ""), int(trial or 0), int(lease or 0), int(streak or 0)
    )


def _cause(kind: str) -> BlockCause:
    return "breaker" if kind == "breaker" else "rate_limit"


class RedisStore(RoutingStore):
    """Routing state in Redis, shared by every replica using the same Redis and ``prefix``.

    ``local`` is this process's :class:`RoutingState`: its settings (threshold, cooldowns,
    health TTL, cooldown cap) are the rules applied, and it serves routing while Redis is out of
    reach. ``timeout``: the limit for each trip to Redis; ``retry_interval``: how long after a
    failed trip the next one is tried (meanwhile the local state serves, and one operation
    probes when it is due). ``trial_lease``: the longest a half-open trial holds the gate for
    every replica (so a replica that dies mid-trial does not keep it shut). ``clock``: for tests
    only, a fake clock (seconds) shared by every store in the test instead of Redis's TIME.
    ``publish_interval``: the least time between two publishes of this replica's live signals;
    ``shared_ttl``: how long a replica's signals count after it last published;
    ``publish_below``: while a target has at most this many requests left, a call starting on it
    or a reading from it is published at once (off the request's path), not after the interval.
    """

    backend = "redis"

    def __init__(
        self,
        client: Redis,
        *,
        local: RoutingState,
        prefix: str = "muxer:routing",
        timeout: float = 0.2,
        retry_interval: float = 2.0,
        trial_lease: float = 60.0,
        metrics: StoreMetricsHook | None = None,
        url: str = "redis",
        clock: Callable[[], float] | None = None,
        publish_interval: float = 0.1,
        shared_ttl: float = 10.0,
        publish_below: int = 20,
    ) -> None:
        self.client = client
        self.local = local
        self.prefix = prefix
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.trial_lease = trial_lease
        self.metrics = metrics
        self.url = safe_url(url)
        self._password = _password(url)
        self.stats = StoreStats()
        self._clock = clock
        self._base = "{" + prefix + "}"
        self._seq_key = f"{self._base}:seq"
        self._idx_key = f"{self._base}:idx"
        # Records outlive their block by this much, so a failure streak and a half-open target
        # are remembered for a while; then they expire (closed, counts forgotten).
        self._memory_ms = round(max(60.0, local.breaker_cooldown) * 1000)
        self._view: _View | None = None
        self._down = False
        self._probing = False
        self._retry_at = 0.0
        #: The idx members (records) this replica reads, by when each was last seen live.
        self._members: dict[str, float] = {}
        self._forget_at = 0.0
        self._snapshot = client.register_script(SNAPSHOT)
        self._admit = client.register_script(ADMIT)
        self._failure = client.register_script(FAILURE)
        self._cool_down = client.register_script(COOL_DOWN)
        self._success = client.register_script(SUCCESS)
        self._release = client.register_script(RELEASE)
        self._health = client.register_script(HEALTH)
        self._publish = client.register_script(PUBLISH)
        self._publish_signals = client.register_script(PUBLISH_SIGNALS)
        self.publish_interval = publish_interval
        self.shared_ttl = shared_ttl
        self._signals_ttl_ms = max(1, round(shared_ttl * 1000))  # how long Redis keeps this replica's signals
        self.publish_below = publish_below
        self.replica = uuid.uuid4().hex[:16]
        self._sig_key = f"{self._base}:sig"
        self._sigt_key = f"{self._base}:sigt"
        self._published_at = -math.inf  # monotonic time of the last publish of this replica's signals
        self._published_version = 0  # the book's version then (0: an empty book, nothing to say)
        self._flush: asyncio.Task[None] | None = None
        self._at_once: asyncio.Task[None] | None = None  # a publish for a target near its limit
        self._again = False  # something else near its limit changed while it was on its way
        self._decoded: dict[str, tuple[str, dict[str, Any]]] = {}  # replica -> (raw, decoded)

    @classmethod
    def from_url(
        cls, url: str, *, local: RoutingState, timeout: float = 0.2, cluster: bool = False, **options: Any
    ) -> RedisStore:
        """A store on a new ``redis.asyncio`` client for ``url`` (``redis://``, ``rediss://``,
        ``unix://``), which never retries on its own: the store decides what a failed trip means.
        ``cluster``: ``url`` names a node of a Redis Cluster (redis-py's cluster client)."""
        if cluster:
            return cls(_cluster_client(url, timeout), local=local, timeout=timeout, url=url, **options)
        try:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:  # pragma: no cover - the [redis] extra is missing
            raise ImportError(
                "state_backend: redis needs the redis client: pip install 'muxer-litellm[redis]'"
            ) from exc
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            decode_responses=True,
        )
        return cls(client, local=local, timeout=timeout, url=url, **options)

    async def aclose(self) -> None:
        for task in (self._flush, self._at_once):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._flush = self._at_once = None
        await self.client.aclose()

    # ------------------------------------------------------------------ keys and time

    def _target_key(self, key: str) -> str:
        """A target's record key; a record this replica writes is one its snapshots read."""
        self._members.setdefault(f"t:{key}", time.monotonic())
        return f"{self._base}:t:{key}"

    def _provider_key(self, provider: str) -> str:
        self._members.setdefault(f"p:{provider}", time.monotonic())
        return f"{self._base}:p:{provider}"

    def _now_arg(self) -> str:
        return "" if self._clock is None else str(round(self._clock() * 1000))

    def _view_now(self, view: _View) -> int:
        """The store's time now, estimated from the last read (or the test clock)."""
        if self._clock is not None:
            return round(self._clock() * 1000)
        return view.now_ms + round((time.monotonic() - view.read_at) * 1000)

    def _fresh_view(self) -> _View | None:
        view = self._view
        if view is None or self._down or time.monotonic() - view.read_at > VIEW_FRESH:
            return None
        return view

    # ------------------------------------------------------------------ reaching Redis

    async def _run(self, operation: str, trip: Callable[[], Awaitable[T]]) -> T | None:
        """``trip`` against Redis within ``timeout``; None when Redis is out of reach (or is
        not being tried yet), after which the caller serves the operation locally."""
        if self._down and (self._probing or time.monotonic() < self._retry_at):
            self._fallback(operation)
            return None
        probing = self._down
        self._probing = self._probing or probing
        try:
            async with asyncio.timeout(self.timeout):
                if probing:
                    await self._publish_local()
                result = await trip()
        except Exception as exc:  # any client, protocol, connection or timeout error
            if not _is_redis_trouble(exc):
                raise
            self._went_down(operation, exc)
            self._fallback(operation)
            return None
        finally:
            if probing:
                self._probing = False
        if probing:
            self._came_back()
        return result

    def _went_down(self, operation: str, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + self.retry_interval
        if self._down:
            logger.debug("routing state: Redis at %s still out of reach (%s)", self.url, type(exc).__name__)
            return
        self._down = True
        self.stats.shared = False
        self.stats.outages += 1
        kept = self._keep_last_view()
        logger.warning(
            "routing state: Redis at %s is out of reach (%s during %s: %s); routing on this replica's own "
            "state (%d block(s) kept from the last read) until it answers again, retrying every %.1fs",
            self.url,
            type(exc).__name__,
            operation,
            self._scrub(str(exc))[:200] or "no detail",
            kept,
            self.retry_interval,
        )
        self._emit("down", operation)

    def _scrub(self, text: str) -> str:
        """An error text without the URL's password (a client error may quote what it was given)."""
        return text.replace(self._password, "***") if self._password else text

    def _came_back(self) -> None:
        self._down = False
        self.stats.shared = True
        self.stats.recoveries += 1
        logger.warning("routing state: Redis at %s answers again; sharing routing state again", self.url)
        self._emit("up", "probe")

    def _fallback(self, operation: str) -> None:
        self.stats.fallbacks[operation] = self.stats.fallbacks.get(operation, 0) + 1
        self._emit("fallback", operation)

    def _emit(self, kind: str, operation: str) -> None:
        if self.metrics is None:
            return
        try:
            self.metrics(StoreEvent(self.backend, kind, operation))
        except Exception:  # a metrics hook never breaks routing
            logger.exception("routing state: the store metrics hook failed")

    def _keep_last_view(self) -> int:
        """Copy the blocks and health marks of the last read into the local state, so the
        replica keeps honouring them while Redis is out of reach."""
        view = self._view
        self._view = None
        if view is None:
            return 0
        now = self._view_now(view)
        kept = 0
        for key, rec in view.targets.items():
            if rec.kind and rec.until > now:
                self.local.import_block(Block(key, _cause(rec.kind), (rec.until - now) / 1000, rec.reason))
                kept += 1
        for provider, (until, error) in view.providers.items():
            if until > now:
                self.local.import_provider_mark(provider, (until - now) / 1000, error)
        return kept

    async def _publish_local(self) -> None:
        """Hand the blocks learned while Redis was out of reach back to it (one pipeline), then
        forget the local state: from now on Redis holds it all."""
        blocks = self.local.export_blocks()
        marks = self.local.export_provider_marks()
        if blocks or marks:
            pipe = self.client.pipeline(transaction=False)
            now = self._now_arg()
            for b in blocks:
                kind = "breaker" if b.cause == "breaker" else "cooldown"
                args: list[str | int] = [
                    now,
                    f"t:{b.key}",
                    kind,
                    max(1, round(b.remaining * 1000)),
                    b.reason,
                    self._memory_ms,
                ]
                keys = [self._seq_key, self._idx_key, self._target_key(b.key)]
                await self._publish(keys=keys, args=args, client=pipe)
            for provider, (left, error) in marks.items():
                args = [now, f"p:{provider}", "0", max(1, round(left * 1000)), error, "keep-longer"]
                await self._health(keys=[self._provider_key(provider), self._idx_key], args=args, client=pipe)
            await pipe.execute()
            self.stats.published += len(blocks)
        self.local.clear()

    # ------------------------------------------------------------------ reading

    async def _read(self, turn: str | None, advance: bool) -> tuple[_View, int | None]:
        payload, version = self._due_signals()
        reply = await self._read_once(turn, advance, payload, version)
        if payload:
            self._published(version, on_read=True)
        if reply[5]:  # records new to this replica: read again, now naming them (the turn stays)
            self._learn(reply[5])
            again = await self._read_once(turn, False, "", version)
            self._learn(again[5])
            reply = [again[0], again[1], reply[2], again[3], again[4]]
        targets: dict[str, _Rec] = {}
        providers: dict[str, tuple[int, str]] = {}
        records = json.loads(reply[3]) or ()  # an empty Lua table encodes as {}
        now = time.monotonic()
        known = self._members
        for i in range(0, len(records) - 1, 2):
            member, fields = records[i], records[i + 1]
            known[member] = now
            if member.startswith("t:"):
                targets[member[2:]] = _rec_from_fields(fields)
            elif member.startswith("p:"):
                providers[member[2:]] = (int(fields[0]), _text(fields[1] or "unhealthy"))
        view = _View(now, int(reply[0]), int(reply[1]), targets, providers, self._heard(reply))
        self._view = view
        number = int(reply[2])
        return view, (number if turn is not None and number >= 0 else None)

    async def _read_once(self, turn: str | None, advance: bool, payload: str, version: int) -> list[Any]:
        """One SNAPSHOT script: the records this replica knows of are passed by name."""
        self._forget()
        members = list(self._members)
        keys = [self._seq_key, self._idx_key, self._sig_key, self._sigt_key, *(f"{self._base}:{m}" for m in members)]
        if turn is not None:
            keys.append(f"{self._base}:turn:{turn}")
        args = [self._now_arg(), "1" if advance else "0", TURN_TTL_MS, self.replica, payload, self._signals_ttl_ms]
        reply: list[Any] = await self._snapshot(keys=keys, args=[*args, version, len(members), *members])
        self.stats.reads += 1
        return reply

    def _learn(self, members: Iterable[Any]) -> None:
        now = time.monotonic()
        for member in members:
            self._members[_text(member)] = now

    def _forget(self) -> None:
        """Drop records not seen live for :data:`_FORGET_AFTER` (expired long ago); looked at
        once a minute."""
        now = time.monotonic()
        if now < self._forget_at:
            return
        self._forget_at = now + 60.0
        cutoff = now - _FORGET_AFTER
        self._members = {m: seen for m, seen in self._members.items() if seen >= cutoff}

    # ------------------------------------------------------------------ live signals

    def _due_signals(self) -> tuple[str, int]:
        """This replica's signals to publish now ('' when not due: published within
        ``publish_interval``, or unchanged since), with the book's version."""
        version = self.local.signals.version
        if version == self._published_version or time.monotonic() - self._published_at < self.publish_interval:
            return "", version
        return self._signals_now()

    def _signals_now(self) -> tuple[str, int]:
        """This replica's signals as published (compact JSON), with the book's version."""
        book = self.local.signals
        return json.dumps(book.aggregate(), separators=(",", ":")), book.version

    def _published(self, version: int, *, on_read: bool) -> None:
        self._published_at = time.monotonic()
        self._published_version = max(self._published_version, version)
        self.stats.signal_publishes += 1
        self.stats.signals_on_reads += on_read

    def _heard(self, reply: list[Any]) -> tuple[tuple[str, dict[str, Any], float], ...]:
        """Other replicas' signals from a snapshot reply, decoded once per publish."""
        raw = reply[4] if len(reply) > 4 else []
        now = int(reply[0])
        heard: list[tuple[str, dict[str, Any], float]] = []
        decoded: dict[str, tuple[str, dict[str, Any]]] = {}
        for i in range(0, len(raw) - 2, 3):
            replica, stamp, payload = _text(raw[i]), raw[i + 1], _text(raw[i + 2])
            cached = self._decoded.get(replica)
            if cached is not None and cached[0] == payload:
                aggregate = cached[1]
            else:
                try:
                    loaded = json.loads(payload)
                except ValueError:
                    continue
                if not isinstance(loaded, dict):
                    continue
                aggregate = loaded
            decoded[replica] = (payload, aggregate)
            heard.append((replica, aggregate, max(0.0, (now - float(stamp)) / 1000)))
        self._decoded = decoded
        return tuple(heard)

    def _signals_of(self, view: _View) -> SignalView:
        since = 0.0 if self._clock is not None else time.monotonic() - view.read_at
        return self.local.signals.view(
            [a for _, a, _ in view.signals],
            age=[age + since for _, _, age in view.signals],
            ids=[replica for replica, _, _ in view.signals],
            me=self.replica,
        )

    def signals_changed(self, key: str | None = None) -> None:
        if self._down:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if key is not None and self._near_limit(key):
            if self._at_once is not None:
                self._again = True
            else:
                self._at_once = loop.create_task(self._publish_at_once())
            return
        if self._flush is None:
            self._flush = loop.create_task(self._flush_later())

    @property
    def publishing(self) -> bool:
        """A publish for a target near its limit is on its way."""
        return self._at_once is not None

    def _near_limit(self, key: str) -> bool:
        """``key`` has a known count of requests left, at most ``publish_below`` (as this
        replica sees it: its own readings and the others' from the last read)."""
        view = self._view
        if view is None:
            return False
        left = self._signals_of(view).remaining(key)[0]
        return left is not None and left <= self.publish_below

    async def _publish_at_once(self) -> None:
        """Publish this replica's signals now (a call started on, or a reading came from, a
        target near its limit), and again while more such changes came meanwhile."""
        try:
            while True:
                self._again = False
                payload, version = self._signals_now()
                if not await self._send_signals(payload, version):
                    return
                self.stats.signals_at_once += 1
                if not self._again:
                    return
        finally:
            self._at_once = None

    async def _send_signals(self, payload: str, version: int) -> bool:
        done = await self._run(
            "publish_signals",
            lambda: self._publish_signals(
                keys=[self._sig_key, self._sigt_key],
                args=[self._now_arg(), self.replica, payload, self._signals_ttl_ms, version],
            ),
        )
        if done is None:
            return False
        self._published(version, on_read=False)
        return True

    async def _flush_later(self) -> None:
        """Publish what changed since the last publish, once ``publish_interval`` has passed
        (a snapshot read in the meantime may have carried it already)."""
        try:
            # At least one interval from the change: a snapshot read meanwhile usually carries it.
            wait = max(self.publish_interval, self._published_at + self.publish_interval - time.monotonic())
            await asyncio.sleep(wait)
            payload, version = self._due_signals()
            if payload:
                await self._send_signals(payload, version)
        finally:
            self._flush = None
        if self.local.signals.version != self._published_version and not self._down:
            self.signals_changed()

    def _snapshot_of(self, view: _View, turn: int | None) -> StateSnapshot:
        now = self._view_now(view)
        targets: dict[str, TargetStatus] = {}
        for key, rec in view.targets.items():
            if rec.kind and (status := self._rec_status(rec, now)) is not None:
                targets[key] = status
        providers = {
            p: health_status(p, error, (until - now) / 1000)
            for p, (until, error) in view.providers.items()
            if until > now
        }
        return StateSnapshot(self.local.now(), targets, providers, turn, signals=self._signals_of(view))

    @staticmethod
    def _rec_status(rec: _Rec, now: int) -> TargetStatus | None:
        return block_status(_cause(rec.kind), rec.reason, (rec.until - now) / 1000, rec.trial != 0 and rec.lease > now)

    def _remember(self, key: str, fields: list[Any], seq: int) -> None:
        """Mirror a script's result for ``key`` in the last read, so this replica's next
        admissions see its own writes at once."""
        view = self._view
        if view is None:
            return
        rec = _rec(fields)
        if rec is None:
            view.targets.pop(key, None)
        else:
            view.targets[key] = rec
        view.seq = max(view.seq, seq)

    async def snapshot(self, *, turn: str | None = None, advance: bool = False) -> StateSnapshot:
        read = await self._run("snapshot", lambda: self._read(turn, advance))
        if read is None:
            view = self.local.snapshot()
            if turn is not None:
                view.turn = self.local.turn(turn, advance=advance)
            return view
        return self._snapshot_of(*read)

    def cached_snapshot(self) -> StateSnapshot:
        view = self._view
        if self._down or view is None:
            return self.local.snapshot()
        return self._snapshot_of(view, None)

    async def shortest_wait(self, targets: Iterable[tuple[str, str]], tenant: str | None = None) -> float | None:
        view = (await self.snapshot()).for_tenant(tenant)
        waits = []
        for key, provider in targets:
            status = view.status(key, provider)
            if status is None:
                return None
            waits.append(status.remaining)
        return min(waits) if waits else None

    async def status(self, key: str, provider: str, tenant: str | None = None) -> TargetStatus | None:
        return (await self.snapshot()).for_tenant(tenant).status(key, provider)

    async def breaker_state(self, key: str) -> str:
        read = await self._run("breaker_state", lambda: self._read(None, False))
        if read is None:
            return self.local.breaker_state(key)
        view = read[0]
        rec = view.targets.get(key)
        if rec is None or not rec.kind:
            return "closed"
        return "open" if rec.until > self._view_now(view) else "half-open"

    # ------------------------------------------------------------------ execution

    async def admit(
        self, key: str, provider: str, *, forced: bool = False, tenant: str | None = None
    ) -> Ticket | TargetStatus:
        scoped = (scoped_key(tenant, provider), scoped_key(tenant, key))
        view = self._fresh_view()
        if view is not None:
            quick = self._admit_from(view, key, provider, forced, scoped)
            if quick is not None:
                return quick
        reply = await self._run("admit", lambda: self._admit_trip(key, provider, forced, scoped))
        return self.local.admit(key, provider, forced=forced, tenant=tenant) if reply is None else reply

    def _admit_from(
        self, view: _View, key: str, provider: str, forced: bool, scoped: tuple[str, str]
    ) -> Ticket | TargetStatus | None:
        """Admission from a fresh read, without a trip: a closed target (or a forced call past
        an open breaker) gets a ticket ordered after what was read; a blocked target (or one the
        tenant waits on) is refused. None when it is half-open: its trial gate must be taken in Redis."""
        now = self._view_now(view)
        mark = view.providers.get(provider)
        if mark is not None and mark[0] > now:
            return health_status(provider, mark[1], (mark[0] - now) / 1000)
        for name in scoped:
            own = view.targets.get(name)
            if own is not None and own.kind and own.until > now:
                return self._rec_status(own, now)
        rec = view.targets.get(key)
        if rec is None or not rec.kind:
            return Ticket(key, view.seq, shared=True)
        if forced and rec.kind == "breaker":
            return Ticket(key, view.seq, forced=True, shared=True)
        return self._rec_status(rec, now)

    async def _admit_trip(
        self, key: str, provider: str, forced: bool, scoped: tuple[str, str]
    ) -> Ticket | TargetStatus:
        keys = [self._seq_key, self._idx_key, self._target_key(key), self._provider_key(provider)]
        keys.extend(self._target_key(name) for name in scoped)
        reply = await self._admit(
            keys=keys,
            args=[self._now_arg(), f"t:{key}", "1" if forced else "0", round(self.trial_lease * 1000), self._memory_ms],
        )
        code, now, seq, extra, fields = _text(reply[0]), int(reply[1]), int(reply[2]), _text(reply[3]), reply[4]
        if code == "down":
            return health_status(provider, extra, (int(fields[2]) - now) / 1000)
        if code == "scoped":
            name = scoped[int(extra) - 1]
            self._remember(name, fields, seq)
            own = _rec(fields)
            assert own is not None  # the tenant's record that blocks
            status = self._rec_status(own, now)
            assert status is not None  # it blocks now
            return status
        self._remember(key, fields, seq if code != "trial" else 0)
        if code == "ok":
            return Ticket(key, seq, shared=True)
        if code == "forced":
            return Ticket(key, seq, forced=True, shared=True)
        if code == "trial":
            return Ticket(key, seq, trial=True, shared=True)
        rec = _rec(fields)
        assert rec is not None  # blocked or busy: it exists
        if code == "busy":
            return TargetStatus(
                f"half-open after '{rec.reason}': a trial call is in flight",
                TRIAL_WAIT,
                _cause(rec.kind),
                trial_in_flight=True,
            )
        status = self._rec_status(rec, now)
        assert status is not None  # blocked
        return status

    def _seq_arg(self, ticket: Ticket) -> str:
        """A shared ticket's order; a local one (issued while Redis was out of reach) reads as
        admitted now."""
        return str(ticket.seq) if ticket.shared else ""

    def _as_local(self, ticket: Ticket) -> Ticket:
        """A shared ticket reported while Redis is out of reach reads locally as a call admitted now."""
        return self.local.ticket_now(ticket.key) if ticket.shared else ticket

    async def record_success(self, ticket: Ticket) -> None:
        if not self._down and not ticket.trial and not ticket.forced:
            view = self._view
            if view is not None and ticket.key not in view.targets:
                return  # nothing to close or forget: no write
        args = [self._seq_arg(ticket)]
        reply = await self._run("record_success", lambda: self._trip(self._success, ticket.key, args))
        if reply is None:
            self.local.record_success(self._as_local(ticket))

    async def record_failure(self, ticket: Ticket) -> bool:
        args = [self._seq_arg(ticket), self.local.breaker_threshold, round(self.local.breaker_cooldown * 1000)]
        reply = await self._run(
            "record_failure", lambda: self._trip(self._failure, ticket.key, [*args, self._memory_ms])
        )
        if reply is None:
            return self.local.record_failure(self._as_local(ticket))
        return bool(int(reply[0]))

    async def cool_down(self, key: str, seconds: float, why: str, *, ticket: Ticket | None = None) -> float:
        seconds = min(max(0.0, seconds), self.local.max_cooldown)
        seq = "" if ticket is None else self._seq_arg(ticket)
        reply = await self._run(
            "cool_down",
            lambda: self._trip(self._cool_down, key, [seq, max(0, round(seconds * 1000)), why, self._memory_ms]),
        )
        if reply is None:
            local_ticket = ticket if ticket is not None and not ticket.shared else None
            return self.local.cool_down(key, seconds, why, ticket=local_ticket)
        return 0.0 if _text(reply[0]) == "stale" else seconds

    async def release(self, ticket: Ticket) -> None:
        if not ticket.trial:
            return  # only a trial holds anything to free
        if not ticket.shared:
            self.local.release(ticket)
            return
        await self._run("release", lambda: self._trip(self._release, ticket.key, [str(ticket.seq)]))
        # Out of reach: the shared gate frees itself when its lease ends.

    async def _trip(self, script: AsyncScript, key: str, args: list[Any]) -> list[Any]:
        reply: list[Any] = await script(
            keys=[self._seq_key, self._idx_key, self._target_key(key)], args=[self._now_arg(), f"t:{key}", *args]
        )
        self._remember(key, reply[4], int(reply[2]))
        return reply

    async def set_provider_health(self, provider: str, healthy: bool, error: str | None = None) -> None:
        ttl = round(self.local.health_ttl * 1000)
        args = [self._now_arg(), f"p:{provider}", "1" if healthy else "0", ttl, error or "unhealthy", ""]
        reply = await self._run(
            "set_provider_health",
            lambda: self._health(keys=[self._provider_key(provider), self._idx_key], args=args),
        )
        if reply is None:
            self.local.set_provider_health(provider, healthy, error)
            return
        if self._view is not None:
            if healthy:
                self._view.providers.pop(provider, None)
            else:
                self._view.providers[provider] = (self._view_now(self._view) + ttl, error or "unhealthy")


def _cluster_client(url: str, timeout: float) -> Any:
    try:
        from redis.asyncio.cluster import RedisCluster
    except ImportError as exc:  # pragma: no cover - the [redis] extra is missing
        raise ImportError("redis_cluster needs the redis client: pip install 'muxer-litellm[redis]'") from exc
    return RedisCluster.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)


def _is_redis_trouble(exc: BaseException) -> bool:
    """Errors that mean "Redis is out of reach or misbehaving", as opposed to a bug here."""
    if isinstance(exc, (TimeoutError, OSError, ConnectionError)):
        return True
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, RedisError)
