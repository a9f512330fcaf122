"""``register(providers)`` and the ``modelmuxer.providers`` entry point."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import httpx
import pytest
import respx

import muxer_litellm
from muxer_litellm import (
    LiteLLMProvider,
    LiteLLMSettings,
)
from muxer_litellm.host import LLMProvider
from muxer_litellm.hosts.registration import create_provider
from tests.unit.routing.helpers import (
    card,
    catalog,
)

# ---------------------------------------------------------------------------- register() and the entry point

ENV_URL = "http://gateway-proxy.test:4000"
ENV_KEY = "sk-env-SECRET-77aa"


@pytest.fixture
def litellm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_BASE_URL", f"{ENV_URL}/v1/")
    monkeypatch.setenv("LITELLM_API_KEY", ENV_KEY)


async def key_of(provider: LiteLLMProvider) -> str | None:
    """The key the provider sends (its public behaviour, not its private state)."""
    with respx.mock(assert_all_mocked=True, using="httpx") as mock:
        route = mock.get(f"{provider.base_url}/v1/models").mock(
            return_value=httpx.Response(200, json={"data": [{"id": "m"}]})
        )
        await provider.get_available_models()
    auth = route.calls.last.request.headers.get("authorization")
    return auth.removeprefix("Bearer ") if auth is not None else None


@pytest.mark.usefixtures("litellm_env")
async def test_register_adds_a_provider_configured_from_the_environment() -> None:
    native = catalog("native", [card("m", 0.001, 0.002)])
    providers: dict[str, LLMProvider] = {"native": native}
    provider = muxer_litellm.register(providers)
    try:
        assert isinstance(provider, LiteLLMProvider)
        assert providers["litellm"] is provider
        assert providers["native"] is native
        assert list(providers) == ["native", "litellm"]
        assert provider.base_url == ENV_URL  # normalised
        assert await key_of(provider) == ENV_KEY
        assert ENV_KEY not in repr(provider)
        assert "***" in repr(provider)
    finally:
        await provider.aclose()


@pytest.mark.usefixtures("litellm_env")
async def test_register_refuses_to_overwrite_unless_replace() -> None:
    providers: dict[str, LLMProvider] = {}
    first = muxer_litellm.register(providers)
    try:
        with pytest.raises(ValueError, match="'litellm' is already registered"):
            muxer_litellm.register(providers)
        assert providers["litellm"] is first
        second = muxer_litellm.register(providers, replace=True)
        try:
            assert providers["litellm"] is second
            assert second is not first
        finally:
            await second.aclose()
    finally:
        await first.aclose()


@pytest.mark.usefixtures("litellm_env")
async def test_register_under_a_custom_name_with_explicit_settings() -> None:
    providers: dict[str, LLMProvider] = {}
    settings = LiteLLMSettings(base_url="http://other-proxy.test:4000", api_key=None)
    provider = muxer_litellm.register(providers, settings, name="proxy-eu")
    try:
        assert list(providers) == ["proxy-eu"]
        assert provider.base_url == "http://other-proxy.test:4000"
        assert await key_of(provider) is None
    finally:
        await provider.aclose()


@pytest.mark.parametrize("name", ["", "   ", None, 3])
def test_register_with_a_blank_name_is_a_value_error(name: Any) -> None:
    providers: dict[str, LLMProvider] = {}
    with pytest.raises(ValueError, match="provider name"):
        muxer_litellm.register(providers, name=name)
    assert providers == {}


@pytest.mark.usefixtures("litellm_env")
async def test_entry_point_loads_create_provider_which_reads_the_environment() -> None:
    entries = importlib.metadata.entry_points(group="modelmuxer.providers", name="litellm")
    assert len(entries) == 1
    [entry] = list(entries)
    factory = entry.load()
    assert factory is create_provider
    provider = factory()
    try:
        assert isinstance(provider, LiteLLMProvider)
        assert provider.base_url == ENV_URL
        assert await key_of(provider) == ENV_KEY
    finally:
        await provider.aclose()
