"""Fixtures for the unit tests: a respx-mocked proxy and a provider pointed at it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import respx

from muxer_litellm import LiteLLMProvider
from tests.unit.replies import API_KEY, BASE_URL


@pytest.fixture(autouse=True)
def _no_litellm_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own LITELLM_* variables and .env out of the unit tests."""
    for name in list(os.environ):
        if name.startswith("LITELLM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def proxy() -> Iterator[respx.MockRouter]:
    """A mocked proxy at BASE_URL; any request without a route fails the test.

    ``using="httpx"`` mocks at the httpx client, above any transport: respx's default mocks
    httpcore, which the provider's default (aiohttp) transport never calls."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True, using="httpx") as router:
        yield router


@pytest.fixture
async def provider(proxy: respx.MockRouter) -> AsyncIterator[LiteLLMProvider]:
    async with LiteLLMProvider(BASE_URL, API_KEY) as p:
        yield p
