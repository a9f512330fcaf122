"""Ctrl-C, SIGTERM and SIGHUP for the demo: the first one ends it, the proxy stopped first.

The demo owns a server process, so a signal it loses leaves the user waiting and one that
lands mid-statement can leave the proxy running. The ways that happened, and what closes each:

* **An inherited ignore.** A shell without job control starts a background command with SIGINT
  ignored (``(make test &)``, a script's ``cmd &``); Python keeps it ignored, so ``asyncio.run``
  installs no handler either, and SIGINT did nothing at all. The demo failed its Ctrl-C test
  exactly this way (still running 60 s later). :meth:`Shutdown.installed` handles SIGINT
  whatever the caller's disposition was.
* **Between fork and bookkeeping.** An exception raised in ``Popen`` after the fork leaves a
  proxy nothing knows to stop. :meth:`Shutdown.held` records a signal there and raises it once
  the block is done.
* **Inside the event loop.** ``asyncio.run``'s own handler drops a SIGINT that lands after the
  main task finished (or before it resets its counter), and no Python handler runs while the
  main thread sleeps in ``epoll`` if the OS gave the signal to another thread: the demo then
  waits for the next event (a 60 s read timeout); and an exception raised in asyncio's own
  code while the loop starts or closes leaves a half-built or half-closed loop. :meth:`Shutdown.run`
  cancels the demo at its current ``await`` (so ``finally`` and ``async with`` clean up),
  holds a signal that lands outside the demo's task, wakes the loop through a wakeup fd
  whichever thread took the signal, and raises the signal after ``asyncio.run`` whatever the
  task did.
* **Repeats.** A second Ctrl-C, or the SIGTERM that often follows a hang-up, is ignored, so it
  cannot cut the clean-up short.

POSIX, main thread only (elsewhere signals belong to the host and these are no-ops).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

__all__ = ["SIGNALS", "Shutdown", "Terminated"]

#: The signals that end the demo: Ctrl-C, ``kill``, the terminal closing.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_T = TypeVar("_T")


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised like KeyboardInterrupt is for SIGINT, so ``finally`` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Shutdown:
    """The first of :data:`SIGNALS` received while :meth:`installed`; see the module docstring."""

    def __init__(self) -> None:
        #: The first signal received, else None.
        self.signum: int | None = None
        self._held = 0
        self._cancel: Callable[[], object] | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle :data:`SIGNALS` for the duration, then restore what was there."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.signal(signum, self._handle) for signum in SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def check(self) -> None:
        """Raise what the received signal means (KeyboardInterrupt or Terminated), if any."""
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.signum is not None:
            raise Terminated(self.signum)

    @contextlib.contextmanager
    def held(self, *, deliver: bool = True) -> Iterator[None]:
        """A block no signal interrupts: one that arrives is recorded and, with ``deliver``,
        raised when the block ends (replacing the block's own exception, if any). Without
        ``deliver`` (the final clean-up) it is only recorded."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if deliver and not self._held:
                self.check()

    def run(self, main: Coroutine[Any, Any, _T]) -> _T:
        """``asyncio.run(main)``; a signal cancels ``main`` where it awaits and is raised here.

        Outside ``main`` (the loop starting, or closing after ``main`` ended) a signal is held
        until ``asyncio.run`` returns: raised in the loop's own code it would leave the loop
        half-closed. One that lands as ``main`` finishes still ends the demo."""
        with self.held():
            try:
                return asyncio.run(self._cancellable(main))
            except asyncio.CancelledError:
                if self.signum is None:
                    raise
        raise AssertionError("unreachable: held() raises the signal that cancelled main")

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            return  # the shutdown has begun: a repeat must not cut the clean-up short
        self.signum = signum
        if self._cancel is not None:
            self._cancel()  # inside the event loop: cancel at an await, never mid-statement
        elif not self._held:
            self.check()

    async def _cancellable(self, main: Coroutine[Any, Any, _T]) -> _T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - asyncio.run always runs a task
            raise RuntimeError("Shutdown.run needs a task")
        with _loop_wakeup(loop):
            self._cancel = lambda: loop.call_soon_threadsafe(task.cancel)
            try:
                if self.signum is not None:  # it came while the loop was starting: do not start
                    main.close()
                    raise asyncio.CancelledError
                return await main
            finally:
                self._cancel = None


@contextlib.contextmanager
def _loop_wakeup(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Make every signal write a byte the loop reads: Python runs signal handlers in the main
    thread only, and only between bytecodes, so a signal the OS gives to another thread would
    otherwise wait until the loop wakes for some other reason."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    loop.add_reader(reader.fileno(), _drain, reader)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        loop.remove_reader(reader.fileno())
        reader.close()
        writer.close()


def _drain(sock: socket.socket) -> None:
    """Empty the wakeup socket; waking the loop was the point (the handler runs on its own)."""
    with contextlib.suppress(OSError):
        while sock.recv(512):
            pass
