"""``router.py``, the ``HeuristicRouter`` facade: request validation, strategy names, kwargs
passed through to the providers, the default strategy."""

from __future__ import annotations

import pytest

from muxer_litellm import (
    BadRequestError,
    ProviderUnavailableError,
    RoutingConfigError,
)
from muxer_litellm.routing import RoutingConfig
from muxer_litellm.testing import BareFakeProvider
from tests.unit.routing.helpers import (
    MESSAGES,
    combo,
    make_router,
    two_providers,
)

# ---------------------------------------------------------------------------- helpers


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
        await router.route_request(MESSAGES, providers, "quickest")
    message = str(info.value)
    assert "'quickest'" in message
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
    assert isinstance(a, BareFakeProvider)
    assert isinstance(b, BareFakeProvider)
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
