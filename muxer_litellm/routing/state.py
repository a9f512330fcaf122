"""What a router remembers between requests: cooldowns, breakers, provider health, turns.

Per target (``provider/model``): a 429 cools it down for its Retry-After; repeated
retryable failures open a breaker for a while; a success closes it. Per provider: a failed
``health_check()`` excludes it until ``health_ttl`` passes. Plain synchronous state (one
event loop, no awaits inside), read on every routing decision, so it must stay cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TargetState", "TargetStatus"]


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """Why a target may not be called now, and for how much longer."""

    reason: str
    remaining: float


class TargetState:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        breaker_threshold: int = 3,
        breaker_cooldown: float = 30.0,
        health_ttl: float = 60.0,
        max_cooldown: float = 300.0,
    ) -> None:
        self._clock = clock
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown = breaker_cooldown
        self.health_ttl = health_ttl
        self.max_cooldown = max_cooldown
        self._blocked_until: dict[str, tuple[float, str]] = {}
        self._failures: dict[str, int] = {}
        self._tripped: set[str] = set()
        self._provider_down: dict[str, tuple[float, str]] = {}
        self._turns: dict[str, int] = {}

    def now(self) -> float:
        return self._clock()

    def has_blocks(self) -> bool:
        """False when nothing is cooling down or down: lets a decision skip per-target checks."""
        return bool(self._blocked_until or self._provider_down)

    # -- targets
    def cool_down(self, key: str, seconds: float, why: str) -> float:
        """Block ``key`` for ``seconds`` (capped at ``max_cooldown``); returns the wait used."""
        seconds = min(max(0.0, seconds), self.max_cooldown)
        until = self._clock() + seconds
        current = self._blocked_until.get(key)
        if current is None or current[0] < until:
            self._blocked_until[key] = (until, why)
        return seconds

    def record_success(self, key: str) -> None:
        self._failures.pop(key, None)
        self._tripped.discard(key)
        self._blocked_until.pop(key, None)

    def record_failure(self, key: str) -> bool:
        """Count a retryable failure; returns True when this one opened the breaker.

        After a breaker's cooldown the target is *half-open*: the first call is a trial, and
        one more failure opens the breaker again at once (a success closes it)."""
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        if count >= self.breaker_threshold or key in self._tripped:
            self._failures[key] = 0
            self._tripped.add(key)
            self.cool_down(key, self.breaker_cooldown, f"circuit open after {count} failure(s) in a row")
            return True
        return False

    def status(self, key: str, provider: str) -> TargetStatus | None:
        """None when the target may be called; else why not."""
        now = self._clock()
        down = self._provider_down.get(provider)
        if down is not None:
            if down[0] > now:
                return TargetStatus(f"provider {provider!r} failed its health check: {down[1]}", down[0] - now)
            del self._provider_down[provider]
        blocked = self._blocked_until.get(key)
        if blocked is not None:
            if blocked[0] > now:
                return TargetStatus(f"{blocked[1]}, {blocked[0] - now:.1f}s left", blocked[0] - now)
            del self._blocked_until[key]
        return None

    def breaker_state(self, key: str) -> str:
        """``open`` (blocked: breaker or 429 cooldown), ``half-open`` (its breaker opened
        before and the next failure reopens it) or ``closed``, for CLIs and dashboards."""
        blocked = self._blocked_until.get(key)
        if blocked is not None and blocked[0] > self._clock():
            return "open"
        return "half-open" if key in self._tripped else "closed"

    # -- providers
    def set_provider_health(self, provider: str, healthy: bool, error: str | None = None) -> None:
        if healthy:
            self._provider_down.pop(provider, None)
        else:
            self._provider_down[provider] = (self._clock() + self.health_ttl, error or "unhealthy")

    # -- round robin
    def next_turn(self, name: str, size: int, *, advance: bool = True) -> int:
        """The start index for combo ``name`` this time (0, 1, ... size-1, 0, ...); a preview
        passes ``advance=False`` to see it without taking the turn."""
        turn = self._turns.get(name, 0)
        if advance:
            self._turns[name] = turn + 1
        return turn % size if size else 0
