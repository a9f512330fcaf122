"""One fake upstream and one real LiteLLM proxy per test session (a proxy takes ~12 s of a
2-core machine to start), shared by ``tests/integration`` and ``tests/hosts``; started only
when a test asks for them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.fake_upstream import FakeUpstream
from tests.integration.conftest import proxy_config
from tests.litellm_proxy import LiteLLMProxy, litellm_executable


def pytest_report_header(config: pytest.Config) -> str | None:
    """One line when the ModelMuxer tests cannot run here (they are skipped, or fail under CI)."""
    from tests.hosts.conftest import missing_reason

    reason = missing_reason()
    return None if reason is None else f"tests/hosts: {reason}"


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def litellm_proxy(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMProxy]:
    if litellm_executable() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the litellm CLI is missing: `make test` installs .[dev,proxy]")
        pytest.skip("litellm[proxy] is not installed; run `make test` (or pip install -e '.[dev,proxy]')")
    master_key = f"sk-test-{secrets.token_hex(8)}"
    proxy = LiteLLMProxy(proxy_config(fake_upstream.base_url, master_key), tmp_path_factory.mktemp("proxy"), master_key)
    proxy.start()
    yield proxy
    proxy.stop()
