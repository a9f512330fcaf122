"""Adaptive routing: the decisions that use live signals (``state/signals.py``).

Applied by ``select.py`` to the candidates that passed every other rule, with one
:class:`~.state.signals.SignalView` per decision (it comes with the routing-state snapshot):

1. *Headroom*: a target whose upstream said it will run out before its limit resets is skipped
   until the reset (:func:`headroom_status`: an unavailable target, with the wait).
2. *Latency objective* (``adaptive.max_latency_ms`` on ``adaptive.latency_percentile``): a target
   measured slower than that is excluded; an unmeasured one is kept.
3. *Ties*: candidates whose estimated cost is within ``cost_tolerance`` of the cheapest (same
   price-known, capability and tier group) are ordered by speed: an untried (or long unmeasured)
   one first when a probe is due (one at a time, at most every ``probe_interval`` per replica),
   then measured ones fastest first, where latencies within ``latency_tolerance`` of each other
   tie and the least busy (fewest calls in flight) wins; error-prone ones (above
   ``max_error_rate``) last. A winner that is slowing down (mean above ``slow_factor`` times its
   baseline) and already holds ``slow_share`` of the tied calls in flight yields to the next one.
   The ``fastest`` strategy makes every adequate candidate within ``max_cost`` a tie.

The cheapest adequate candidate therefore still wins whenever it is cheaper than the others by
more than the tolerance and has headroom: cost and tiers decide what is adequate, signals decide
among near-equals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .candidates import Candidate
from .config import AdaptiveConfig
from .state.local import TargetStatus
from .state.signals import LatencyKind, SignalView

__all__ = ["AdaptiveRequest", "arrange", "headroom_status", "latency_kind"]


@dataclass(frozen=True, slots=True)
class AdaptiveRequest:
    """What one decision asks of the signals: ``fastest`` (the ``fastest`` strategy) and which
    latency compares targets (``ttft`` for a stream, ``total`` for a chat call, by default)."""

    fastest: bool = False
    kind: LatencyKind = "total"


def latency_kind(config: AdaptiveConfig, streaming: bool) -> LatencyKind:
    if config.latency_metric != "auto":
        return config.latency_metric
    return "ttft" if streaming else "total"


class _Item(Protocol):
    candidate: Candidate
    cost: float | None
    lead: int


S = TypeVar("S", bound=_Item)


def headroom_status(signals: SignalView, key: str, tokens: int, config: AdaptiveConfig) -> TargetStatus | None:
    """Why ``key`` is skipped until its rate limit resets (rule 1), or None."""
    block = signals.headroom(key, tokens=tokens, reserve=config.headroom_reserve)
    if block is None:
        return None
    return TargetStatus(block.detail(), block.reset, "rate_limit")


def arrange(
    scored: list[S],
    rank: Callable[[S], tuple[Any, ...]],
    signals: SignalView,
    config: AdaptiveConfig,
    request: AdaptiveRequest,
    excluded: dict[str, str],
) -> tuple[list[S], str | None]:
    """Rules 2 and 3 over ``scored`` (``rank``: select.py's order). Returns the candidates left
    (the ones that lead carry a negative ``lead``) and what the signals decided, for the reason."""
    kind = request.kind
    if config.max_latency_ms is not None:
        kept: list[S] = []
        pct = config.latency_percentile
        for s in scored:
            measured = signals.latency(s.candidate.key, kind, pct)
            if measured is not None and measured > config.max_latency_ms:
                excluded[s.candidate.key] = (
                    f"p{_pct(pct)} {_label(kind)} {measured:.0f} ms > max_latency_ms {config.max_latency_ms:g}"
                )
            else:
                kept.append(s)
        scored = kept
    if len(scored) < 2:
        return scored, None
    best = min(scored, key=rank)
    ties = _ties(scored, best, rank, config, request.fastest)
    if len(ties) < 2:
        return scored, None
    order, note = _order(ties, signals, config, kind)
    for i, s in enumerate(order):
        s.lead = i - len(order)
    if order[0] is best and note is None:
        return scored, None
    return scored, note


def _ties(
    scored: Sequence[S], best: S, rank: Callable[[S], tuple[Any, ...]], config: AdaptiveConfig, fastest: bool
) -> list[S]:
    group = rank(best)[1:5]  # price known, unsure, tier group, tier penalty
    if best.cost is None and not fastest:
        return [best]
    limit = (best.cost or 0.0) * (1.0 + config.cost_tolerance) + 1e-15
    ties = [s for s in scored if rank(s)[1:5] == group and (fastest or (s.cost is not None and s.cost <= limit))]
    return sorted(ties, key=rank)


def _order(ties: list[S], signals: SignalView, config: AdaptiveConfig, kind: LatencyKind) -> tuple[list[S], str | None]:
    """Rule 3's order of the tied candidates (cheapest first among equals), and its note."""
    min_samples = signals.settings.min_samples
    known: list[tuple[float, S]] = []
    untried: list[S] = []
    for s in ties:
        latency = signals.latency(s.candidate.key, kind, 0.5)
        if latency is None:
            untried.append(s)
        else:
            known.append((latency, s))
    flights = {s.candidate.key: signals.in_flight(s.candidate.key) for s in ties}
    if not known:
        # Nothing measured yet: the least measured first (a few probe calls each, spread over
        # the ties), then the least busy; stable, so cost order among equals.
        counts = {s.candidate.key: signals.samples(s.candidate.key, kind) for s in ties}
        order = sorted(ties, key=lambda s: (counts[s.candidate.key], flights[s.candidate.key]))
        first, cheapest = order[0].candidate.key, ties[0].candidate.key
        if first == cheapest:
            return order, None
        if counts[first] < counts[cheapest]:
            signals.mark_probe(first)
            return order, f"{first}: probe call ({counts[first]} of {min_samples} {_label(kind)} samples)"
        return order, f"least busy: {first} {flights[first]} in flight vs {flights[cheapest]}"
    erring = {
        s.candidate.key
        for _, s in known
        if (rate := signals.error_rate(s.candidate.key)) is not None and rate > config.max_error_rate
    }
    known.sort(key=lambda pair: (pair[1].candidate.key in erring, pair[0]))
    fastest = known[0][0]
    close = [
        pair
        for pair in known
        if pair[1].candidate.key not in erring and pair[0] <= fastest * (1.0 + config.latency_tolerance)
    ]
    close.sort(key=lambda pair: flights[pair[1].candidate.key])
    rest = [pair for pair in known if pair not in close]
    order = [s for _, s in close] + [s for _, s in rest]
    note: str | None = None
    probe = next((s for s in untried if signals.probe_due(s.candidate.key, config.probe_interval)), None)
    if probe is not None:
        signals.mark_probe(probe.candidate.key)
        samples = signals.samples(probe.candidate.key, kind)
        others = [s for s in untried if s is not probe]
        order = [probe, *order, *others]
        return order, f"{probe.candidate.key}: probe call ({samples} of {min_samples} {_label(kind)} samples)"
    order.extend(sorted(untried, key=lambda s: flights[s.candidate.key]))
    lat = {s.candidate.key: latency for latency, s in known}
    winner = order[0]
    capped = _share_capped(order, flights, signals, config, kind, lat)
    if capped:
        slow = order[0]
        order = [order[1], slow, *order[2:]]
        winner = order[0]
        note = (
            f"{slow.candidate.key} is slowing down with {flights[slow.candidate.key]} of "
            f"{sum(flights.values())} tied calls in flight: {winner.candidate.key} takes this one"
        )
        return order, note
    runner = next((s for s in order[1:] if s.candidate.key in lat), None)
    if runner is not None and winner.candidate.key in lat:
        a, b = lat[winner.candidate.key], lat[runner.candidate.key]
        if b > a * (1.0 + config.latency_tolerance):
            note = f"{winner.candidate.key}: p50 {_label(kind)} {a:.0f} ms vs {b:.0f} ms ({runner.candidate.key})"
        elif flights[winner.candidate.key] < flights[runner.candidate.key]:
            note = (
                f"least busy: {winner.candidate.key} {flights[winner.candidate.key]} in flight vs "
                f"{flights[runner.candidate.key]} ({runner.candidate.key}), p50 {_label(kind)} {a:.0f} vs {b:.0f} ms"
            )
    if winner is not ties[0] and note is None and winner.candidate.key in lat:
        note = f"{winner.candidate.key}: p50 {_label(kind)} {lat[winner.candidate.key]:.0f} ms"
    return order, note


def _share_capped(
    order: Sequence[_Item],
    flights: dict[str, int],
    signals: SignalView,
    config: AdaptiveConfig,
    kind: LatencyKind,
    lat: dict[str, float],
) -> bool:
    """The winner is slowing down, holds ``slow_share`` of the tied calls in flight, and the
    runner-up is not much slower (within ``slow_factor`` of the winner's median, or unmeasured)."""
    if len(order) < 2:
        return False
    key, runner = order[0].candidate.key, order[1].candidate.key
    total = sum(flights.values())
    mine = flights[key]
    if mine < 1 or mine < config.slow_share * total:
        return False
    if key in lat and runner in lat and lat[runner] > config.slow_factor * lat[key]:
        return False  # moving this call would make it slower still
    return signals.slowing(key, kind, config.slow_factor)


def _pct(fraction: float) -> str:
    value = fraction * 100
    return f"{value:.0f}" if math.isclose(value, round(value)) else f"{value:g}"


def _label(kind: LatencyKind) -> str:
    return {"ttft": "TTFT", "total": "latency", "per_token": "time per token"}[kind]
