"""Routing state under concurrent bursts (``asyncio.gather`` of routed calls over FakeProviders),
on every store (the ``stores`` fixture: this process's state, and Redis).

Time is the router's fake clock; concurrency comes from the fakes yielding to the event loop on
every call (and from ``hold()`` where a call must stay in flight), so nothing here depends on
how fast the machine is.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from muxer_litellm import FallbackExhaustedError, ProviderUnavailableError, RateLimitError
from muxer_litellm.host import ChatCompletionResponse, LLMProvider, MessageInput
from muxer_litellm.testing import BareFakeProvider
from tests.unit.routing.conftest import Stores
from tests.unit.routing.helpers import (
    CHEAP,
    COMPLETION_TOKENS,
    MESSAGES,
    MID,
    PROMPT_TOKENS,
    Clock,
    bare,
    called,
    combo,
)

UNAVAILABLE = ProviderUnavailableError("upstream answered 503", 503)


async def route_many(router: Any, providers: dict[str, LLMProvider], count: int, strategy: str = "c") -> list[Any]:
    """``count`` routed calls at once; each result is the response or the exception it raised."""
    return await asyncio.gather(
        *(router.route_request(MESSAGES, providers, strategy) for _ in range(count)), return_exceptions=True
    )


async def test_a_burst_of_50_at_a_half_open_target_sends_it_one_trial(stores: Stores) -> None:
    clock = Clock()
    flaky = bare("a", {"flaky": CHEAP}, script={"flaky": [UNAVAILABLE, "recovered"]})
    good = bare("b", {"good": MID})
    providers: dict[str, LLMProvider] = {"a": flaky, "b": good}
    router = stores.router(combo("a/flaky", "b/good", breaker_threshold=1, breaker_cooldown=30), clock)
    await router.route_request(MESSAGES, providers, "c")  # the 503 opens a/flaky's breaker
    assert await router.store.breaker_state("a/flaky") == "open"

    clock.now = 30.0  # half-open
    trial_done = flaky.hold("flaky")  # the trial stays in flight until the others have routed
    burst = asyncio.ensure_future(route_many(router, providers, 50))
    await good.wait_for_calls(49)
    assert flaky.call_count("flaky") == 2  # the opening failure and one trial
    trial_done.set()
    results = await burst

    assert all(isinstance(r, ChatCompletionResponse) for r in results)
    answered = sorted(r.router_metadata.selected_provider for r in results)
    assert answered == ["a"] + ["b"] * 49
    assert await router.store.breaker_state("a/flaky") == "closed"  # the trial succeeded


async def test_a_failing_trial_in_a_burst_of_50_is_the_only_call_the_broken_target_gets(stores: Stores) -> None:
    clock = Clock()
    broken = bare("a", {"broken": CHEAP}, script={"broken": [UNAVAILABLE]})
    good = bare("b", {"good": MID})
    providers: dict[str, LLMProvider] = {"a": broken, "b": good}
    router = stores.router(combo("a/broken", "b/good", breaker_threshold=1, breaker_cooldown=30), clock)
    await router.route_request(MESSAGES, providers, "c")

    clock.now = 30.0
    results = await route_many(router, providers, 50)

    assert all(isinstance(r, ChatCompletionResponse) for r in results)
    assert called(broken) == ["broken", "broken"]  # the opening failure and one trial
    assert await router.store.breaker_state("a/broken") == "open"


class Timed(BareFakeProvider):
    """Records the router's clock at every chat call, to count calls per cooldown window."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.times: list[float] = []

    async def chat_completion(
        self, messages: list[MessageInput], model: str, *args: Any, **kwargs: Any
    ) -> ChatCompletionResponse:
        self.times.append(self.clock.now)
        return await super().chat_completion(messages, model, *args, **kwargs)


class Together(BareFakeProvider):
    """Holds each chat call until ``together`` calls are in it (when set): every call of such a
    burst was admitted before any of them failed, whatever the store's round trips."""

    together: asyncio.Barrier | None = None

    async def chat_completion(
        self, messages: list[MessageInput], model: str, *args: Any, **kwargs: Any
    ) -> ChatCompletionResponse:
        if self.together is not None:
            await self.together.wait()
        return await super().chat_completion(messages, model, *args, **kwargs)


@pytest.mark.parametrize("workers", [1, 20])
async def test_a_rate_limited_first_target_gets_one_probe_per_cooldown_window(stores: Stores, workers: int) -> None:
    clock = Clock()
    limited = Timed("a", {"limited": CHEAP}, clock=clock, script={"limited": [RateLimitError("429", retry_after=1.0)]})
    cheap = bare("b", {"cheap": MID})
    providers: dict[str, LLMProvider] = {"a": limited, "b": cheap}
    router = stores.router(combo("a/limited", "b/cheap"), clock)

    async def worker(calls: int) -> None:
        for _ in range(calls):
            response = await router.route_request(MESSAGES, providers, "c")
            assert response.router_metadata.selected_model == "cheap"
            # 200 calls take 12.5 s of router time: twelve 1-second windows. A binary fraction, so
            # the clock adds up exactly (a store keeping ms would see 2.9999999999999973 as 3.0).
            clock.now += 0.0625

    await asyncio.gather(*(worker(200 // workers) for _ in range(workers)))

    windows: dict[int, int] = {}
    for t in limited.times:
        windows[int(t)] = windows.get(int(t), 0) + 1
    first = windows.pop(0)
    # Before the first 429 nothing is known, so every call already in flight tries it (one per
    # worker); after that, each window's end admits one probe, not the crowd.
    assert first <= workers
    assert all(n == 1 for n in windows.values()), windows
    assert len(limited.times) <= workers + 12
    assert cheap.call_count() == 200


async def test_three_concurrent_transient_failures_on_the_last_healthy_target_do_not_fail_the_next_calls(
    stores: Stores,
) -> None:
    clock = Clock()
    dead = bare("a", {"dead": CHEAP}, script={"dead": [UNAVAILABLE]})
    healthy = Together("b", {"healthy": MID}, prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS)
    providers: dict[str, LLMProvider] = {"a": dead, "b": healthy}
    router = stores.router(combo("a/dead", "b/healthy", breaker_threshold=3), clock)
    for _ in range(3):
        await router.route_request(MESSAGES, providers, "c")
    assert await router.store.breaker_state("a/dead") == "open"

    healthy.script["healthy"] = [UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, "fine again"]
    healthy.together = asyncio.Barrier(3)
    blip = await asyncio.wait_for(route_many(router, providers, 3), 10)  # three calls in flight together, all 503
    healthy.together = None
    assert all(isinstance(r, FallbackExhaustedError) for r in blip)
    assert await router.store.breaker_state("b/healthy") == "closed"  # one burst is one failure, not three

    clock.now = 1.0
    results = await route_many(router, providers, 200)
    assert all(isinstance(r, ChatCompletionResponse) for r in results)
    assert {r.router_metadata.selected_model for r in results} == {"healthy"}


async def test_even_an_opened_breaker_on_the_last_healthy_target_does_not_fail_the_next_calls(stores: Stores) -> None:
    clock = Clock()
    dead = bare("a", {"dead": CHEAP}, script={"dead": [UNAVAILABLE]})
    healthy = bare("b", {"healthy": MID}, script={"healthy": [UNAVAILABLE, "fine again"]})
    providers: dict[str, LLMProvider] = {"a": dead, "b": healthy}
    router = stores.router(combo("a/dead", "b/healthy", breaker_threshold=1), clock)
    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, providers, "c")  # both fail once: both breakers open
    assert [await router.store.breaker_state(k) for k in ("a/dead", "b/healthy")] == ["open", "open"]

    clock.now = 1.0
    results = await route_many(router, providers, 200)

    # Open breakers are all that stand in the way: the targets are still called, and the healthy
    # one answers (closing its breaker); the dead one fails as before.
    assert all(isinstance(r, ChatCompletionResponse) for r in results)
    assert {r.router_metadata.selected_model for r in results} == {"healthy"}
    assert await router.store.breaker_state("b/healthy") == "closed"
    assert "breaker open, but no other candidate can serve this request" in results[0].router_metadata.routing_reason
