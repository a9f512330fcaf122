"""Live signals per target: latency, in-flight calls, recent errors and rate-limit headroom.

A :class:`SignalBook` holds this process's own measurements (execution writes them, see
``execute.py``); a :class:`SignalView` is what one decision reads: the book merged with what
other replicas published through a shared store (``redis.py``). Everything here is plain
synchronous state on one event loop.

- *Latency*, per kind (``ttft``: time to the first data chunk of a stream; ``total``: a chat
  call's whole time; ``per_token``: total per output token): a histogram over log-spaced buckets
  whose weights decay by ``1 - alpha`` at each new sample (so percentiles follow the last few
  dozen calls), a decaying mean, a slower *baseline* mean (a target "slows down" when its mean
  rises above ``slow_factor`` times it), and a raw sample count: below ``min_samples`` the
  latency is *unknown*. Histograms of several replicas merge by adding weights.
- *In flight*: calls started and not ended; summed over replicas.
- *Errors*: a decaying failure rate (0..1) with its count.
- *Headroom*: the remaining requests/tokens the upstream deployment last reported with their
  reset time (:class:`~muxer_litellm.host.Headroom`), per deployment. An observation is valid
  until its reset (or ``headroom_ttl`` when it gave none); calls started after the observed
  call count against it. Absent numbers are unknown and never block.
- *Share* (several replicas): each replica publishes how many calls it started (or would have
  started but for its share) on each target lately, a count decaying over ``SHARE_SECONDS``.
  The requests left under a shared reading are split among the replicas calling that target by
  those shares (largest remainders, ties by replica id, so every replica computes the same
  split): a replica calls only while its own share of what is left, minus its calls the others
  have not seen yet, is at least one. Replicas that decide at the same instant therefore never
  together exceed what is left.

Times are seconds on the book's clock (monotonic); a shared store translates them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ...host import Headroom

__all__ = [
    "LATENCY_KINDS",
    "HeadroomBlock",
    "LatencyKind",
    "SignalBook",
    "SignalSettings",
    "SignalView",
    "bucket_of",
    "bucket_ms",
]

LatencyKind = Literal["ttft", "total", "per_token"]
LATENCY_KINDS: tuple[LatencyKind, ...] = ("ttft", "total", "per_token")

#: Histogram buckets: bucket ``i`` holds latencies around ``_BASE * _RATIO ** i`` ms (0.1 ms .. ~8 h).
_RATIO = 1.05
_BASE = 0.1
_LOG_RATIO = math.log(_RATIO)
_BUCKETS = 400
_PRUNE = 1e-4
#: A replica's share of a target's calls counts its starts over about this many seconds.
SHARE_SECONDS = 10.0
#: Remainders this close to the largest tie when a split hands out its last units.
_NEAR = 0.15
#: The share weight of a replica that has published no call (or demand) on the target yet.
_NEWCOMER = 1e-6


def bucket_of(ms: float) -> int:
    """The histogram bucket of a latency (ms)."""
    if ms <= _BASE:
        return 0
    return min(_BUCKETS - 1, round(math.log(ms / _BASE) / _LOG_RATIO))


def bucket_ms(index: int) -> float:
    """A bucket's representative latency (ms): within 2.5% of every latency it holds."""
    return _BASE * _RATIO**index


@dataclass(frozen=True, slots=True)
class SignalSettings:
    """How signals are kept (``adaptive`` in routing.yaml; defaults documented in docs/adaptive-routing.md)."""

    alpha: float = 0.2
    baseline_alpha: float = 0.02
    min_samples: int = 3
    headroom_ttl: float = 1.0
    stale_after: float = 60.0


@dataclass(slots=True)
class _Latency:
    weights: dict[int, float] = field(default_factory=dict)
    count: int = 0
    mean: float = 0.0
    baseline: float = 0.0
    last: float = 0.0

    def add(self, ms: float, now: float, settings: SignalSettings) -> None:
        keep = 1.0 - settings.alpha
        weights = self.weights
        for b in list(weights):
            w = weights[b] * keep
            if w < _PRUNE:
                del weights[b]
            else:
                weights[b] = w
        b = bucket_of(ms)
        weights[b] = weights.get(b, 0.0) + 1.0
        if self.count == 0:
            self.mean = self.baseline = ms
        else:
            self.mean += settings.alpha * (ms - self.mean)
            self.baseline += settings.baseline_alpha * (ms - self.baseline)
        self.count += 1
        self.last = now

    def dump(self) -> list[Any]:
        return [
            self.count,
            round(self.mean, 3),
            round(self.baseline, 3),
            {str(b): round(w, 5) for b, w in self.weights.items()},
        ]


@dataclass(slots=True)
class _Observation:
    """One deployment's last report: counts left, when they are back (book clock), and the
    target's start counter when the reported call started (later starts count against it)."""

    requests: int | None
    tokens: int | None
    requests_reset: float
    tokens_reset: float
    started: int


@dataclass(slots=True)
class _Target:
    latency: dict[str, _Latency] = field(default_factory=dict)
    in_flight: int = 0
    starts: int = 0
    errors: float = 0.0
    outcomes: int = 0
    headroom: dict[str, _Observation] = field(default_factory=dict)
    last_probe: float = -math.inf
    #: Recent starts (decaying over SHARE_SECONDS) and when last updated.
    recent: float = 0.0
    recent_at: float = 0.0
    #: At the last aggregate (what the other replicas know): starts, and recent starts as published.
    shared_starts: int = 0
    shared_recent: float = 0.0

    def recent_now(self, now: float) -> float:
        return self.recent * math.exp(-(now - self.recent_at) / SHARE_SECONDS)


@dataclass(frozen=True, slots=True)
class HeadroomBlock:
    """A target that will run out before its limit resets: ``left`` requests (or tokens) and
    ``reset`` seconds until the reset."""

    kind: Literal["requests", "tokens"]
    left: int
    reset: float
    #: Set when the requests left are shared: (replicas calling the target, this one's share).
    share: tuple[int, int] | None = None

    def detail(self) -> str:
        text = f"{self.left} {self.kind} left until reset in {self.reset:.1f} s"
        if self.share is not None:
            text += f", this replica's share {self.share[1]} ({self.share[0]} replicas calling it)"
        return text

    def reason(self, key: str) -> str:
        return f"skipped {key}: {self.detail()}"


class SignalBook:
    """This process's measurements, by target key (``provider/model``)."""

    def __init__(self, settings: SignalSettings | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or SignalSettings()
        self.clock = clock
        self._targets: dict[str, _Target] = {}
        #: Bumped on each change: a shared store publishes when it moved since the last publish.
        self.version = 0

    def _target(self, key: str) -> _Target:
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = _Target()
        return target

    # ------------------------------------------------------------------ writing (execution)

    def started(self, key: str) -> int:
        """A call to ``key`` starts; returns its start number (for :meth:`observe_headroom`)."""
        target = self._target(key)
        target.in_flight += 1
        target.starts += 1
        self.wanted(key)
        return target.starts

    def wanted(self, key: str) -> None:
        """A call to ``key`` started, or would have but for this replica's share of its
        headroom: either counts in the share of recent calls this replica publishes (demand,
        so a replica kept out by the split gets its part at the next split)."""
        target = self._target(key)
        now = self.clock()
        target.recent = target.recent_now(now) + 1.0
        target.recent_at = now
        self.version += 1

    def ended(self, key: str, *, ok: bool | None) -> None:
        """The call ended: ``ok`` True (answered), False (failed, counts in the error rate) or
        None (cancelled, or the request's own fault: says nothing about the target)."""
        target = self._target(key)
        target.in_flight = max(0, target.in_flight - 1)
        if ok is not None:
            target.errors += self.settings.alpha * ((0.0 if ok else 1.0) - target.errors)
            target.outcomes += 1
        self.version += 1

    def record_latency(self, key: str, kind: LatencyKind, ms: float, *, deployment: str | None = None) -> None:
        """One latency sample (ms) for ``key`` (and for ``key@deployment`` when the proxy named it)."""
        if not math.isfinite(ms) or ms < 0:
            return
        now = self.clock()
        self._target(key).latency.setdefault(kind, _Latency()).add(ms, now, self.settings)
        if deployment:
            self._target(f"{key}@{deployment}").latency.setdefault(kind, _Latency()).add(ms, now, self.settings)
        self.version += 1

    def observe_headroom(self, key: str, headroom: Headroom, started: int, *, at: float | None = None) -> None:
        """What the deployment that answered the call numbered ``started`` said of its limits.
        ``at``: when that call started (book clock); resets count from then, since the upstream
        counted the call on its way in and a call sent at ``at + reset`` arrives after the reset."""
        if headroom.remaining_requests is None and headroom.remaining_tokens is None:
            return
        now = self.clock() if at is None else at
        ttl = self.settings.headroom_ttl
        target = self._target(key)
        deployment = headroom.deployment or ""
        old = target.headroom.get(deployment)
        if old is not None and old.started > started and old.requests_reset > self.clock():
            return  # a later call already reported on this window
        target.headroom[deployment] = _Observation(
            headroom.remaining_requests,
            headroom.remaining_tokens,
            now + (headroom.reset_requests if headroom.reset_requests is not None else ttl),
            now + (headroom.reset_tokens if headroom.reset_tokens is not None else ttl),
            started,
        )
        self.version += 1

    def mark_probe(self, key: str) -> None:
        self._target(key).last_probe = self.clock()

    def forget(self) -> None:
        self._targets.clear()
        self.version += 1

    # ------------------------------------------------------------------ publishing

    def aggregate(self) -> dict[str, Any]:
        """This process's signals as plain data (what a shared store publishes): per target,
        latency histograms, in-flight and error rate, and headroom as counts left now with the
        seconds until their reset."""
        now = self.clock()
        out: dict[str, Any] = {}
        for key, t in self._targets.items():
            entry: dict[str, Any] = {}
            if t.latency:
                entry["l"] = {kind: lat.dump() for kind, lat in t.latency.items()}
            if t.in_flight:
                entry["f"] = t.in_flight
            if t.outcomes:
                entry["e"] = [round(t.errors, 4), t.outcomes]
            rooms = [
                [
                    dep,
                    _left(o.requests, t.starts - o.started),
                    round(o.requests_reset - now, 3),
                    o.tokens,
                    round(o.tokens_reset - now, 3),
                ]
                for dep, o in t.headroom.items()
                if max(o.requests_reset, o.tokens_reset) > now
            ]
            if rooms:
                entry["h"] = rooms
            # Coarse, so that replicas calling at one rate tie exactly (then the replica id decides).
            recent = round(t.recent_now(now), 1)
            if recent > 0:
                entry["w"] = recent
            t.shared_starts, t.shared_recent = t.starts, recent
            if entry:
                out[key] = entry
        return out

    # ------------------------------------------------------------------ reading

    def view(
        self,
        remote: Iterable[Mapping[str, Any]] = (),
        *,
        age: Iterable[float] = (),
        ids: Iterable[str] = (),
        me: str = "",
    ) -> SignalView:
        """What a decision reads: this book, plus ``remote`` aggregates of other replicas
        (``age``: seconds since each was published; ``ids``: their replica ids, ``me``: this
        one's, which order the split of shared headroom)."""
        return SignalView(self, tuple(remote), tuple(age), tuple(ids), me)


def _left(count: int | None, since: int) -> int | None:
    return None if count is None else count - since


class SignalView:
    """One decision's read of the signals (this process's book live, other replicas' as last
    published). Every number is None when unknown."""

    __slots__ = ("_ages", "_book", "_ids", "_me", "_remote", "now")

    def __init__(
        self,
        book: SignalBook,
        remote: tuple[Mapping[str, Any], ...],
        ages: tuple[float, ...],
        ids: tuple[str, ...] = (),
        me: str = "",
    ) -> None:
        self._book = book
        self._remote = remote
        self._ages = ages if len(ages) == len(remote) else tuple(0.0 for _ in remote)
        self._ids = ids if len(ids) == len(remote) else tuple(f"{i:08d}" for i in range(len(remote)))
        self._me = me
        self.now = book.clock()

    @property
    def settings(self) -> SignalSettings:
        return self._book.settings

    @property
    def shared(self) -> int:
        """How many other replicas' signals this view holds."""
        return len(self._remote)

    def _remote_entries(self, key: str) -> Iterable[tuple[Mapping[str, Any], float, str]]:
        """Each other replica's entry for ``key``: (entry, seconds since published, replica id)."""
        for aggregate, age, replica in zip(self._remote, self._ages, self._ids, strict=True):
            entry = aggregate.get(key)
            if isinstance(entry, Mapping):
                yield entry, age, replica

    # ------------------------------------------------------------------ latency

    def samples(self, key: str, kind: LatencyKind) -> int:
        """Latency samples of ``kind`` for ``key`` over every replica (recent ones: a target
        unmeasured for ``stale_after`` seconds counts as untried again)."""
        local = self._book._targets.get(key)
        lat = local.latency.get(kind) if local is not None else None
        n = lat.count if lat is not None and self.now - lat.last <= self.settings.stale_after else 0
        for entry, age, _ in self._remote_entries(key):
            dump = _dump(entry, kind)
            if dump is not None and age <= self.settings.stale_after:
                n += int(dump[0])
        return n

    def latency(self, key: str, kind: LatencyKind, percentile: float = 0.5) -> float | None:
        """The ``percentile`` (0..1) latency in ms over recent samples; None below ``min_samples``."""
        if self.samples(key, kind) < self.settings.min_samples:
            return None
        weights = self._weights(key, kind)
        total = sum(weights.values())
        if total <= 0:
            return None
        goal = percentile * total
        running = 0.0
        for b in sorted(weights):
            running += weights[b]
            if running >= goal - 1e-9:
                return bucket_ms(b)
        return bucket_ms(max(weights))

    def _weights(self, key: str, kind: LatencyKind) -> dict[int, float]:
        merged: dict[int, float] = {}
        local = self._book._targets.get(key)
        lat = local.latency.get(kind) if local is not None else None
        if lat is not None:
            merged.update(lat.weights)
        for entry, _, _ in self._remote_entries(key):
            dump = _dump(entry, kind)
            if dump is None or not isinstance(dump[3], Mapping):
                continue
            for b, w in dump[3].items():
                try:
                    index, weight = int(b), float(w)
                except (TypeError, ValueError):
                    continue
                if 0 <= index < _BUCKETS and weight > 0:
                    merged[index] = merged.get(index, 0.0) + weight
        return merged

    def slowing(self, key: str, kind: LatencyKind, factor: float) -> bool:
        """Its recent median latency is above ``factor`` times its long-run (baseline) mean: a
        median, so one slow call among fast ones is not a slowdown."""
        baselines: list[tuple[float, int]] = []
        local = self._book._targets.get(key)
        lat = local.latency.get(kind) if local is not None else None
        if lat is not None and lat.count:
            baselines.append((lat.baseline, lat.count))
        for entry, _, _ in self._remote_entries(key):
            dump = _dump(entry, kind)
            if dump is not None and int(dump[0]) > 0:
                baselines.append((float(dump[2]), int(dump[0])))
        n = sum(b[1] for b in baselines)
        median = self.latency(key, kind, 0.5)
        if median is None or n <= 0:
            return False
        baseline = sum(b[0] * b[1] for b in baselines) / n
        return baseline > 0 and median > factor * baseline

    def probe_due(self, key: str, interval: float) -> bool:
        """No probe of ``key`` from this replica for ``interval`` seconds and none in flight anywhere."""
        local = self._book._targets.get(key)
        last = local.last_probe if local is not None else -math.inf
        return self.now - last >= interval and self.in_flight(key) == 0

    def mark_probe(self, key: str) -> None:
        self._book.mark_probe(key)

    # ------------------------------------------------------------------ load and errors

    def in_flight(self, key: str) -> int:
        local = self._book._targets.get(key)
        n = local.in_flight if local is not None else 0
        for entry, _, _ in self._remote_entries(key):
            n += _int(entry.get("f"))
        return n

    def error_rate(self, key: str) -> float | None:
        """The recent share of failed calls (0..1); None below ``min_samples`` outcomes."""
        rates: list[tuple[float, int]] = []
        local = self._book._targets.get(key)
        if local is not None and local.outcomes:
            rates.append((local.errors, local.outcomes))
        for entry, _, _ in self._remote_entries(key):
            e = entry.get("e")
            if isinstance(e, list) and len(e) == 2:
                try:
                    rates.append((float(e[0]), int(e[1])))
                except (TypeError, ValueError):
                    continue
        n = sum(r[1] for r in rates)
        if n < self.settings.min_samples:
            return None
        return sum(r[0] * r[1] for r in rates) / n

    # ------------------------------------------------------------------ headroom

    def keys(self) -> set[str]:
        """Every target (and ``target@deployment``) with a signal here or from another replica."""
        found = set(self._book._targets)
        for aggregate in self._remote:
            found.update(k for k in aggregate if isinstance(k, str))
        return found

    def remaining(self, key: str) -> tuple[int | None, int | None]:
        """Requests and tokens left before the reset, summed over the deployments still in
        their window (None: unknown); requests net of calls started since they were reported."""
        rooms = self._rooms(key).values()
        requests = [r.requests for r in rooms if r.requests is not None and r.requests_reset > 0]
        tokens = [r.tokens for r in rooms if r.tokens is not None and r.tokens_reset > 0]
        return (max(0, sum(requests)) if requests else None, sum(tokens) if tokens else None)

    def headroom(self, key: str, *, tokens: int = 0, reserve: int = 0) -> HeadroomBlock | None:
        """Why ``key`` should be skipped until its limit resets, or None. Every deployment the
        target was seen on must be short: it has at most ``reserve`` requests left (net of calls
        started since it said so, here and in flight on other replicas), or this replica's share
        of the requests above ``reserve`` is used up, or it has fewer tokens left than
        ``tokens``. Unknown counts never block."""
        blocks: list[HeadroomBlock] = []
        for room in self._rooms(key).values():
            if room.requests is not None and room.requests_reset > 0:
                left = max(0, room.requests)
                if left <= reserve:
                    blocks.append(HeadroomBlock("requests", left, room.requests_reset))
                    continue
                share = self._share(key, left - reserve)
                if share is not None and share[1] < 1:
                    blocks.append(HeadroomBlock("requests", left, room.requests_reset, share))
                    self._book.wanted(key)
                    continue
            if room.tokens is not None and tokens > 0 and room.tokens_reset > 0 and room.tokens < tokens:
                blocks.append(HeadroomBlock("tokens", room.tokens, room.tokens_reset))
                continue
            return None  # this deployment can take the call (or says nothing we can use)
        return min(blocks, key=lambda b: b.reset) if blocks else None

    def _share(self, key: str, left: int) -> tuple[int, int] | None:
        """(replicas calling ``key``, the calls this one may still start) when other replicas
        call it too: ``left`` plus this replica's starts the others have not seen yet, split by
        the shares of recent calls as published, this replica's included (largest remainders,
        ties by replica id), minus those starts: every replica computes the same split from the
        same published numbers. None when no other replica called it lately."""
        weights: dict[str, float] = {}
        for entry, _, replica in self._remote_entries(key):
            w = _num(entry.get("w"))
            if w is not None and w > 0:
                weights[replica] = w
        if not weights:
            return None
        local = self._book._targets.get(key)
        unseen = 0
        mine = _NEWCOMER
        if local is not None:
            unseen = local.starts - local.shared_starts
            mine = max(_NEWCOMER, local.shared_recent)
        weights[self._me] = mine
        return len(weights), _apportion(left + unseen, weights, self._me) - unseen

    def _rooms(self, key: str) -> dict[str, _Room]:
        """Per deployment, the lowest reading of every replica: requests left net of the calls
        started since it was taken (by the replica that took it) and of the calls in flight on
        every other replica, with the seconds to their reset; tokens likewise, as reported."""
        local = self._book._targets.get(key)
        now = self.now
        own_flight = local.in_flight if local is not None else 0
        flights: list[int] = []
        readings: list[tuple[int, str, _Room]] = []  # (source: -1 this replica, else index), deployment
        if local is not None:
            for dep, o in local.headroom.items():
                room = _Room(
                    _left(o.requests, local.starts - o.started), o.requests_reset - now, o.tokens, o.tokens_reset - now
                )
                readings.append((-1, dep, room))
        for i, (entry, age, _) in enumerate(self._remote_entries(key)):
            flights.append(_int(entry.get("f")))
            rooms = entry.get("h")
            if not isinstance(rooms, list):
                continue
            for raw in rooms:
                parsed = _room(raw, age)
                if parsed is not None:
                    readings.append((i, parsed[0], parsed[1]))
        total = own_flight + sum(flights)
        lowest: dict[str, _Room] = {}
        for source, dep, room in readings:
            if room.requests is not None:
                # The reading's own replica counted its starts since; every other one's calls in flight count too.
                others = total - (own_flight if source < 0 else flights[source])
                room = _Room(room.requests - others, room.requests_reset, room.tokens, room.tokens_reset)
            seen = lowest.get(dep)
            lowest[dep] = room if seen is None else _lower(seen, room)
        return lowest


@dataclass(frozen=True, slots=True)
class _Room:
    requests: int | None
    requests_reset: float
    tokens: int | None
    tokens_reset: float


def _apportion(total: int, weights: Mapping[str, float], me: str) -> int:
    """``me``'s part of ``total`` split by ``weights``: every replica computing this from the
    same weights gets parts that add up to ``total``. The units left after the whole parts go to
    the largest remainders, where every remainder within ``_NEAR`` of the largest ties and the
    lower replica id wins: shares drift a little between two replicas' decisions (each publishes
    its own), and that must not move the last unit from a replica that passed it up to one that
    already decided it was not its own."""
    whole = sum(weights.values())
    exact = {replica: total * w / whole for replica, w in weights.items()}
    floors = {replica: math.floor(q + 1e-9) for replica, q in exact.items()}
    rest = total - sum(floors.values())
    parts = {replica: exact[replica] - floors[replica] for replica in exact}
    top = max(parts.values())
    order = sorted(parts, key=lambda r: (0, 0.0, r) if parts[r] >= top - _NEAR else (1, -parts[r], r))
    return floors[me] + (1 if me in order[: max(0, rest)] else 0)


def _dump(entry: Mapping[str, Any], kind: str) -> list[Any] | None:
    lat = entry.get("l")
    if not isinstance(lat, Mapping):
        return None
    dump = lat.get(kind)
    if not isinstance(dump, list) or len(dump) != 4:
        return None
    try:
        int(dump[0]), float(dump[1]), float(dump[2])
    except (TypeError, ValueError):
        return None
    return dump


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else None
    )


def _room(room: Any, age: float) -> tuple[str, _Room] | None:
    """A published headroom reading ``[deployment, requests, requests reset, tokens, tokens reset]``,
    its resets counted from now (``age`` seconds after it was published)."""
    if not isinstance(room, list) or len(room) != 5 or not isinstance(room[0], str):
        return None
    requests_reset, tokens_reset = _num(room[2]), _num(room[4])
    if requests_reset is None or tokens_reset is None:
        return None
    return room[0], _Room(_opt_int(room[1]), requests_reset - age, _opt_int(room[3]), tokens_reset - age)


def _lower(a: _Room, b: _Room) -> _Room:
    """Two readings of one deployment: within one window counts only go down, so the lower
    count is the later one (a reading whose reset has passed is of an older window)."""
    return _Room(
        *_later(a.requests, a.requests_reset, b.requests, b.requests_reset),
        *_later(a.tokens, a.tokens_reset, b.tokens, b.tokens_reset),
    )


def _later(a: int | None, a_reset: float, b: int | None, b_reset: float) -> tuple[int | None, float]:
    """One count of :func:`_lower`: the lower of two live readings, else the live one, else ``a``."""
    if b is None or b_reset <= 0:
        return a, a_reset
    if a is None or a_reset <= 0:
        return b, b_reset
    return (a, a_reset) if a <= b else (b, b_reset)
