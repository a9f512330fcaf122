"""``router.py``, the ``HeuristicRouter`` facade: request validation, strategy names, kwargs
passed through to the providers, the default strategy."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from muxer_litellm import (
    BadRequestError,
    ProviderUnavailableError,
    RoutingConfigError,
)
from muxer_litellm.host import LLMProvider
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from tests.unit.routing.helpers import FakeProvider, Outcome, user

QUESTION = "What is the capital of France?"
MESSAGES = user(QUESTION)

CHEAP = (0.0005, 0.0015)
MID = (0.003, 0.004)
EXPENSIVE = (0.01, 0.03)


# ---------------------------------------------------------------------------- helpers


class Clock:
    """A fake monotonic clock: ``clock.now += 7`` moves time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def combo(
    *targets: str | Mapping[str, Any], strategy: str = "priority", name: str = "c", **fields: Any
) -> RoutingConfig:
    return RoutingConfig(combos={name: {"targets": list(targets), "strategy": strategy}}, **fields)


def make_router(config: RoutingConfig, clock: Clock | None = None, seed: int | None = None) -> HeuristicRouter:
    rng = random.Random(seed) if seed is not None else None
    return HeuristicRouter(config, clock=clock or Clock(), rng=rng)


def two_providers(
    a_script: Mapping[str, Sequence[Outcome]] | None = None,
    b_script: Mapping[str, Sequence[Outcome]] | None = None,
) -> tuple[FakeProvider, FakeProvider, dict[str, LLMProvider]]:
    """``a`` offers m1 (cheap) and m2 (mid); ``b`` offers m3 (mid) and m4 (expensive)."""
    a = FakeProvider("native-a", {"m1": CHEAP, "m2": MID}, script=a_script)
    b = FakeProvider("native-b", {"m3": MID, "m4": EXPENSIVE}, script=b_script)
    return a, b, {"a": a, "b": b}


# ---------------------------------------------------------------------------- request validation and kwargs


async def test_route_request_refuses_stream_true() -> None:
    a, b, providers = two_providers()
    with pytest.raises(BadRequestError, match="route_stream"):
        await make_router(combo("a/m1")).route_request(MESSAGES, providers, "c", stream=True)
    assert a.calls == b.calls == []


async def test_unknown_strategy_is_a_config_error_listing_the_valid_names() -> None:
    _, _, providers = two_providers()
    router = make_router(combo("a/m1", name="fast"))
    with pytest.raises(RoutingConfigError) as info:
        await router.route_request(MESSAGES, providers, "fastest")
    message = str(info.value)
    assert "'fastest'" in message
    for name in ("heuristic", "cost_optimized", "cascade", "hybrid", "fast"):
        assert name in message


@pytest.mark.parametrize("strategy", ["c", "heuristic", "cost_optimized"])
async def test_empty_providers_is_a_config_error(strategy: str) -> None:
    with pytest.raises(RoutingConfigError, match="providers is empty"):
        await make_router(combo("a/m1")).route_request(MESSAGES, {}, strategy)


async def test_kwargs_are_passed_through_to_every_called_target() -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    _, _, providers = two_providers(a_script={"m1": [ProviderUnavailableError("503", 503)]})
    a, b = providers["a"], providers["b"]
    assert isinstance(a, FakeProvider)
    assert isinstance(b, FakeProvider)
    router = make_router(combo("a/m1", "b/m3"))

    await router.route_request(MESSAGES, providers, "c", temperature=0.3, max_tokens=50, tools=tools)

    expected = {"max_tokens": 50, "temperature": 0.3, "tools": tools}
    assert a.calls == [("m1", expected)]
    assert b.calls == [("m3", expected)]


async def test_default_strategy_from_config_is_used_when_none_given() -> None:
    _a, _b, providers = two_providers()
    config = RoutingConfig(combos={"pinned": {"targets": ["b/m4"]}}, default_strategy="pinned")
    meta = (await make_router(config).route_request(MESSAGES, providers)).router_metadata
    assert (meta.selected_provider, meta.selected_model, meta.routing_strategy) == ("b", "m4", "pinned")
