"""Routed calls in flight, so a router's ``aclose()`` can drain them: refuse new calls at once,
let those in flight finish for up to a drain timeout, then stop them with ProviderClosedError."""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import ProviderClosedError

__all__ = ["InFlight", "RoutedCall", "closed_error"]


def closed_error() -> ProviderClosedError:
    return ProviderClosedError("this router was closed with aclose(); create a new one")


class RoutedCall:
    """One routed call. It sets ``task`` while it waits (on planning, a provider, a chunk);
    :meth:`stop` cancels that task, and :meth:`stopped_us` tells that cancellation from any other."""

    __slots__ = ("_cancelling", "stopped", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.stopped = False
        self._cancelling = 0

    def stop(self) -> None:
        self.stopped = True
        task = self.task
        if task is not None and not task.done():
            self._cancelling = task.cancelling()
            task.cancel()

    def stopped_us(self) -> bool:
        """Inside ``except CancelledError``: True when the cancellation was our stop (only)."""
        task = self.task
        return self.stopped and task is not None and task.uncancel() <= self._cancelling


class InFlight:
    """The calls a router is serving."""

    def __init__(self) -> None:
        self.calls: set[RoutedCall] = set()
        self.closing = False
        self._idle: asyncio.Event | None = None

    def enter(self) -> RoutedCall:
        if self.closing:
            raise closed_error()
        call = RoutedCall()
        self.calls.add(call)
        return call

    def leave(self, call: RoutedCall) -> None:
        self.calls.discard(call)
        if self._idle is not None and not self.calls:
            self._idle.set()

    async def drain(self, seconds: float) -> None:
        """Refuse new calls; wait up to ``seconds`` for those in flight; stop the rest."""
        self.closing = True
        if self.calls and seconds > 0:
            self._idle = asyncio.Event()
            try:
                async with asyncio.timeout(seconds):
                    await self._idle.wait()
            except TimeoutError:
                pass
        for call in list(self.calls):
            call.stop()
        await asyncio.sleep(0)  # let the stopped calls unwind before the caller closes what they use
