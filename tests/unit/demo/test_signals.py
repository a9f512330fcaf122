"""The demo's signal handling, in-process: each window where a Ctrl-C was lost, delayed or
could leave the proxy running, hit on purpose (tests/integration/test_demo.py does the same
with the real demo and proxy)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from muxer_litellm.demo.signals import SIGNALS, Shutdown, Terminated

#: Well under the 30 s the loop would otherwise sleep, well over a slow machine's wake-up.
PROMPT = 10.0


@pytest.fixture(autouse=True)
def _restore_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)


async def sleep_long() -> str:
    await asyncio.sleep(30)
    return "slept"


def test_ctrl_c_works_even_when_the_caller_ignored_it() -> None:
    # What a shell without job control does to `cmd &`, and how the demo test once hung.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    shutdown = Shutdown()
    with shutdown.installed(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # the caller's choice, back after


@pytest.mark.parametrize(("signum", "raised"), [(signal.SIGTERM, Terminated), (signal.SIGHUP, Terminated)])
def test_sigterm_and_sighup_raise_terminated(signum: int, raised: type[BaseException]) -> None:
    shutdown = Shutdown()
    with shutdown.installed(), pytest.raises(raised) as caught:
        signal.raise_signal(signum)
    assert isinstance(caught.value, Terminated)
    assert caught.value.signum == signum


def test_a_signal_while_the_proxy_is_created_waits_for_the_block_to_finish() -> None:
    shutdown = Shutdown()
    done: list[str] = []
    with shutdown.installed(), pytest.raises(KeyboardInterrupt), shutdown.held():
        signal.raise_signal(signal.SIGINT)  # mid-Popen, say
        done.append("the proxy is recorded")  # not cut short
    assert done == ["the proxy is recorded"]


def test_a_signal_wins_over_the_blocks_own_error() -> None:
    shutdown = Shutdown()
    with shutdown.installed(), pytest.raises(KeyboardInterrupt) as caught, shutdown.held():
        signal.raise_signal(signal.SIGINT)
        raise RuntimeError("the launch failed too")
    assert isinstance(caught.value.__context__, RuntimeError)


def test_repeats_are_ignored_and_the_clean_up_is_not_cut_short() -> None:
    shutdown = Shutdown()
    cleaned: list[str] = []
    with shutdown.installed():
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C again
            signal.raise_signal(signal.SIGTERM)  # and the SIGTERM that follows a hang-up
            with shutdown.held(deliver=False):
                signal.raise_signal(signal.SIGHUP)
                cleaned.append("stopped")
    assert cleaned == ["stopped"]
    assert shutdown.signum == signal.SIGINT


def test_a_first_signal_during_the_final_clean_up_is_only_recorded() -> None:
    shutdown = Shutdown()
    with shutdown.installed(), shutdown.held(deliver=False):
        signal.raise_signal(signal.SIGTERM)
    assert shutdown.signum == signal.SIGTERM


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_event_loop_cancels_at_the_await_and_runs_finally(signum: int) -> None:
    shutdown = Shutdown()
    cleaned: list[str] = []

    async def demo() -> str:
        asyncio.get_running_loop().call_later(0.2, signal.raise_signal, signum)
        try:
            return await sleep_long()
        finally:
            cleaned.append("closed")

    started = time.monotonic()
    with shutdown.installed(), pytest.raises((KeyboardInterrupt, Terminated)):
        shutdown.run(demo())
    assert time.monotonic() - started < PROMPT
    assert cleaned == ["closed"]
    assert shutdown.signum == signum


def test_a_signal_another_thread_took_still_wakes_the_loop() -> None:
    """The OS may hand a process signal to any thread; Python runs the handler in the main
    thread only, which asyncio.run alone leaves asleep in epoll until its next timer."""

    def take_it() -> None:
        time.sleep(0.3)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # to this helper thread

    helper = threading.Thread(target=take_it)
    shutdown = Shutdown()
    started = time.monotonic()
    with shutdown.installed(), pytest.raises(KeyboardInterrupt):
        helper.start()
        shutdown.run(sleep_long())
    helper.join()
    assert time.monotonic() - started < PROMPT


def test_a_signal_as_the_task_finishes_still_ends_the_demo() -> None:
    shutdown = Shutdown()

    async def almost_done() -> str:
        signal.raise_signal(signal.SIGINT)  # lands with nothing left to await
        return "done"

    with shutdown.installed(), pytest.raises(KeyboardInterrupt):
        shutdown.run(almost_done())


@pytest.fixture
def loops(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    """The event loops asyncio.run creates, to check they were closed."""
    made: list[asyncio.AbstractEventLoop] = []
    real = asyncio.events.new_event_loop

    def new_event_loop() -> asyncio.AbstractEventLoop:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(asyncio.events, "new_event_loop", new_event_loop)
    return made


def test_a_signal_while_the_loop_starts_stops_the_demo_before_it_begins(
    loops: list[asyncio.AbstractEventLoop], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = asyncio.events.new_event_loop

    def starting() -> asyncio.AbstractEventLoop:
        loop = real()
        signal.raise_signal(signal.SIGINT)  # before the demo's task has run at all
        return loop

    monkeypatch.setattr(asyncio.events, "new_event_loop", starting)
    began: list[str] = []

    async def demo() -> str:
        began.append("demo")
        return await sleep_long()

    shutdown = Shutdown()
    started = time.monotonic()
    with shutdown.installed(), pytest.raises(KeyboardInterrupt):
        shutdown.run(demo())
    assert time.monotonic() - started < PROMPT
    assert began == []
    assert [loop.is_closed() for loop in loops] == [True]  # raised in asyncio's start-up, it would leak


def test_a_signal_while_the_loop_closes_lets_it_finish_closing(loops: list[asyncio.AbstractEventLoop]) -> None:
    steps: list[str] = []

    async def demo() -> str:
        loop = asyncio.get_running_loop()
        asyncgens, executor = loop.shutdown_asyncgens, loop.shutdown_default_executor

        async def shutting_down() -> None:  # the first step of asyncio.run's teardown
            signal.raise_signal(signal.SIGINT)
            steps.append("async generators")
            await asyncgens()

        async def executor_down() -> None:  # the last one
            steps.append("executor")
            await executor()

        loop.shutdown_asyncgens = shutting_down  # type: ignore[method-assign]
        loop.shutdown_default_executor = executor_down  # type: ignore[method-assign]
        return "done"

    shutdown = Shutdown()
    with shutdown.installed(), pytest.raises(KeyboardInterrupt):
        shutdown.run(demo())
    assert steps == ["async generators", "executor"]  # raised mid-teardown, it would skip the rest
    assert [loop.is_closed() for loop in loops] == [True]


def test_without_a_signal_run_returns_the_result() -> None:
    async def quick() -> str:
        await asyncio.sleep(0)
        return "done"

    shutdown = Shutdown()
    with shutdown.installed():
        assert shutdown.run(quick()) == "done"
    assert shutdown.signum is None
