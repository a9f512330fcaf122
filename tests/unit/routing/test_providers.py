"""``providers.py``: ``check_health`` (timeouts, raising checks, ``last_health_error``, the
exclusion for ``health_ttl``) and catalog refreshes before planning (a failed one keeps the
old catalog, an empty catalog says why)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from muxer_litellm import (
    NoRouteError,
    ProviderUnavailableError,
)
from muxer_litellm.host import LLMProvider
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from muxer_litellm.testing import BareFakeProvider, FakeProvider
from tests.unit.routing.helpers import (
    CHEAP,
    COMPLETION_TOKENS,
    MESSAGES,
    MID,
    PROMPT_TOKENS,
    Clock,
    answered_cost,
    bare,
    called,
    card,
    catalog,
    combo,
    make_router,
    order,
)

# ---------------------------------------------------------------------------- helpers


# ---------------------------------------------------------------------------- check_health


class RaisingHealth(BareFakeProvider):
    async def health_check(self) -> bool:
        raise ProviderUnavailableError("connection refused")


class CrashingHealth(BareFakeProvider):
    async def health_check(self) -> bool:
        raise RuntimeError("bug in a health check")


@pytest.mark.parametrize(
    "make_a",
    [
        pytest.param(lambda: bare("native-a", {"m1": CHEAP}, healthy=False), id="returns-false"),
        pytest.param(lambda: RaisingHealth("native-a", {"m1": CHEAP}), id="raises-provider-error"),
        pytest.param(lambda: CrashingHealth("native-a", {"m1": CHEAP}), id="raises-other-error"),
    ],
)
async def test_failed_health_check_excludes_the_provider_for_health_ttl(make_a: Callable[[], FakeProvider]) -> None:
    clock = Clock()
    a = make_a()
    b = bare("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/m1", "b/m3", health_ttl=20), clock)

    assert await router.check_health(providers) == {"a": False, "b": True}

    plan = await router.plan(MESSAGES, providers, "c")
    assert order(plan) == ["b/m3"]
    assert "health check" in plan.excluded["a/m1"]
    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert meta.selected_provider == "b"
    assert called(a) == []

    clock.now = 19.9
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]
    clock.now = 20.0
    assert order(await router.plan(MESSAGES, providers, "c")) == ["a/m1", "b/m3"]


async def test_a_later_passing_health_check_readmits_the_provider_before_the_ttl() -> None:
    clock = Clock()
    a = bare("native-a", {"m1": CHEAP}, healthy=False)
    b = bare("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/m1", "b/m3", health_ttl=60), clock)

    await router.check_health(providers)
    assert order(await router.plan(MESSAGES, providers, "c")) == ["b/m3"]

    clock.now = 1.0
    a.healthy = True
    assert await router.check_health(providers) == {"a": True, "b": True}
    assert order(await router.plan(MESSAGES, providers, "c")) == ["a/m1", "b/m3"]
    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert meta.selected_provider == "a"


async def test_unhealthy_provider_is_skipped_by_cost_optimized_routing_too() -> None:
    a = bare("native-a", {"cheapest": (0.0001, 0.0001)}, healthy=False)
    b = bare("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(RoutingConfig())
    await router.check_health(providers)

    meta = (await router.route_request(MESSAGES, providers, "cost_optimized")).router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("b", "m3")
    assert called(a) == []


async def test_health_exclusion_reason_carries_the_providers_last_health_error() -> None:
    a = bare("native-a", {"m1": CHEAP}, healthy=False, health_error="HTTP 503 from /health/liveliness")
    b = bare("native-b", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": a, "b": b}
    router = make_router(combo("a/m1", "b/m3"))
    await router.check_health(providers)

    plan = await router.plan(MESSAGES, providers, "c")
    assert "HTTP 503 from /health/liveliness" in plan.excluded["a/m1"]


async def test_every_provider_unhealthy_raises_no_route_with_retry_after() -> None:
    clock = Clock()
    a = bare("native-a", {"m1": CHEAP}, healthy=False)
    router = make_router(combo("a/m1", health_ttl=20), clock)
    await router.check_health({"a": a})
    clock.now = 5.0
    with pytest.raises(NoRouteError) as info:
        await router.route_request(MESSAGES, {"a": a}, "c")
    assert info.value.retry_after == pytest.approx(15.0)


# ---------------------------------------------------------------------------- catalog refresh


class FailingRefresh(FakeProvider):
    async def refresh_models(self, *, force: bool = False) -> list[Any]:
        self.refreshes += 1
        raise ProviderUnavailableError("proxy down while refreshing", 503)


@pytest.mark.parametrize("strategy", ["c", "heuristic", "cost_optimized"])
async def test_route_request_refreshes_catalogs(strategy: str) -> None:
    cat = catalog("proxy", [card("chat", *CHEAP), card("big", *MID)])
    native = bare("native", {"m3": MID})
    providers: dict[str, LLMProvider] = {"proxy": cat, "native": native}
    router = make_router(combo("proxy/chat", "native/m3"))

    await router.route_request(MESSAGES, providers, strategy)
    assert cat.refreshes == 1
    await router.route_request(MESSAGES, providers, strategy)
    assert cat.refreshes == 2
    assert called(cat) == ["chat", "chat"]


async def test_failed_catalog_refresh_does_not_break_routing() -> None:
    cat = FailingRefresh(
        "proxy", [card("chat", *CHEAP)], prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS
    )
    native = bare("native", {"m3": MID})
    providers: dict[str, LLMProvider] = {"proxy": cat, "native": native}
    router = make_router(combo("proxy/chat", "native/m3"))

    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata

    assert cat.refreshes == 1
    assert (meta.selected_provider, meta.selected_model) == ("proxy", "chat")
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP))


class HangingHealth(BareFakeProvider):
    async def health_check(self) -> bool:
        await asyncio.Event().wait()  # never set: the router's timeout must end it
        return True


async def test_check_health_bounds_a_hanging_provider_and_names_the_cause() -> None:
    slow = HangingHealth("slow", {"m1": CHEAP})
    fine = bare("fine", {"m3": MID})
    providers: dict[str, LLMProvider] = {"a": slow, "b": fine}
    router = HeuristicRouter(RoutingConfig(health_check_timeout=0.05))
    assert await router.check_health(providers) == {"a": False, "b": True}
    plan = await router.plan(MESSAGES, providers, "heuristic")
    assert order(plan) == ["b/m3"]
    assert "health_check() took longer than 0.05s" in plan.excluded["a/m1"]


async def test_a_raising_health_check_puts_the_exception_in_the_exclusion_reason() -> None:
    class Broken(BareFakeProvider):
        async def health_check(self) -> bool:
            raise RuntimeError("socket exploded")

    providers: dict[str, LLMProvider] = {"a": Broken("x", {"m1": CHEAP}), "b": bare("y", {"m3": MID})}
    router = HeuristicRouter()
    await router.check_health(providers)
    plan = await router.plan(MESSAGES, providers, "heuristic")
    assert "health_check() raised RuntimeError: socket exploded" in plan.excluded["a/m1"]


async def test_an_empty_catalog_after_a_failed_refresh_says_why() -> None:
    class DeadProxy(FakeProvider):
        async def refresh_models(self, *, force: bool = False) -> list[Any]:
            raise ProviderUnavailableError("LiteLLM proxy not reachable at http://127.0.0.1:9")

    providers: dict[str, LLMProvider] = {"litellm": DeadProxy("litellm", [])}
    with pytest.raises(NoRouteError, match=r"catalog refresh failed \(litellm: ProviderUnavailableError: LiteLLM"):
        await HeuristicRouter().route_request(MESSAGES, providers, "heuristic")
