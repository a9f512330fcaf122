"""Routed deadlines, and closing a router with routes in flight.

Deadlines: ``route_request``/``route_stream(deadline=...)`` bound the whole request;
each attempt gets the time that is left (a native provider's call is cancelled when it runs
out), an attempt with too little left is not started, and ``router_metadata`` records it."""

from __future__ import annotations

import asyncio
import time

import pytest

from muxer_litellm import FallbackExhaustedError, ProviderClosedError, ProviderTimeoutError, ProviderUnavailableError
from muxer_litellm.testing import BareFakeProvider, Outcome
from tests.unit.routing.helpers import CHEAP, MESSAGES, MID, attempt_rows, bare, combo, drain, make_router


def providers(a_latency: float, a_script: list[Outcome] | None = None) -> dict[str, BareFakeProvider]:
    a = bare("native-a", {"m1": CHEAP}, latency=a_latency, script={"m1": a_script} if a_script else None)
    b = bare("native-b", {"m3": MID})
    return {"a": a, "b": b}


async def test_a_stuck_attempt_is_cancelled_when_the_deadline_runs_out_and_no_later_one_starts() -> None:
    router = make_router(combo("a/m1", "b/m3"))
    found = providers(a_latency=30.0)
    started = time.monotonic()
    with pytest.raises(FallbackExhaustedError) as caught:
        await router.route_request(MESSAGES, found, "c", deadline=0.4)
    assert time.monotonic() - started < 0.4 + 0.5
    error = caught.value
    assert isinstance(error.last_error, ProviderTimeoutError)
    assert error.last_error.limit == "deadline"
    assert [(a["provider"], a["model"], a["outcome"]) for a in error.attempts] == [
        ("a", "m1", "failed"),
        ("b", "m3", "skipped"),
    ]
    assert "deadline" in (error.attempts[1]["detail"] or "")
    assert found["b"].calls == []
    # Running out of the request's time is not held against the target: it is still planned first.
    plan = await router.plan(MESSAGES, found, "c")
    assert plan.candidates[0].key == "a/m1"


async def test_each_attempt_gets_the_time_that_is_left_and_metadata_says_so() -> None:
    router = make_router(combo("a/m1", "b/m3"))
    found = providers(a_latency=0.3, a_script=[ProviderUnavailableError("503", 503)])
    reply = await router.route_request(MESSAGES, found, "c", deadline=2.0)
    meta = reply.router_metadata
    assert meta.deadline_ms == 2000.0
    assert attempt_rows(meta.attempts) == [("a", "m1", "failed", "ProviderUnavailableError"), ("b", "m3", "ok", None)]
    first, second = (a.time_left_ms for a in meta.attempts)
    assert first is not None
    assert second is not None
    assert 1800 < first <= 2000
    assert second < first - 250  # the first attempt used ~300 ms of it


async def test_without_a_deadline_nothing_is_recorded() -> None:
    router = make_router(combo("a/m1", "b/m3"))
    reply = await router.route_request(MESSAGES, providers(a_latency=0.0), "c")
    assert reply.router_metadata.deadline_ms is None
    assert [a.time_left_ms for a in reply.router_metadata.attempts] == [None]


async def test_a_routed_stream_is_bounded_by_its_deadline() -> None:
    router = make_router(combo("a/m1", "b/m3"))
    found = providers(a_latency=30.0)
    started = time.monotonic()
    with pytest.raises(FallbackExhaustedError) as caught:
        await drain(router.route_stream(MESSAGES, found, "c", deadline=0.4))
    assert time.monotonic() - started < 0.4 + 0.5
    assert isinstance(caught.value.last_error, ProviderTimeoutError)
    assert attempt_rows(caught.value.attempts) == [
        ("a", "m1", "failed", "ProviderTimeoutError"),
        ("b", "m3", "skipped", None),
    ]


@pytest.mark.parametrize("deadline", [0, -1.0, float("inf"), float("nan"), True, "5"])
async def test_a_deadline_that_is_not_a_positive_number_is_refused(deadline: object) -> None:
    router = make_router(combo("a/m1", "b/m3"))
    with pytest.raises(ValueError, match="deadline"):
        await router.route_request(MESSAGES, providers(0.0), "c", deadline=deadline)


# ---------------------------------------------------------------------------- closing the router


async def test_aclose_lets_a_route_in_flight_finish_and_refuses_new_ones() -> None:
    router = make_router(combo("a/m1", "b/m3"))
    found = providers(a_latency=0.3)
    in_flight = asyncio.ensure_future(router.route_request(MESSAGES, found, "c"))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(router.aclose(drain_timeout=5.0))
    await asyncio.sleep(0)
    with pytest.raises(ProviderClosedError, match="router was closed"):
        await router.route_request(MESSAGES, found, "c")
    reply = await in_flight
    assert reply.router_metadata.selected_model == "m1"
    await closing


async def test_aclose_stops_a_stuck_route_and_a_stuck_stream_after_the_drain() -> None:
    router = make_router(combo("a/m1"))
    found = providers(a_latency=30.0)
    stuck = asyncio.ensure_future(router.route_request(MESSAGES, found, "c"))
    stream = router.route_stream(MESSAGES, found, "c")
    reading = asyncio.ensure_future(drain(stream))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await router.aclose(drain_timeout=0.3)
    for call in (stuck, reading):
        with pytest.raises(ProviderClosedError):
            await call
    assert time.monotonic() - started < 0.3 + 0.5
