"""The integration tests' proxy launcher: the package's own (``muxer_litellm.proxy.process``).

Re-exported under the names the integration conftest imports, so the demo and the tests
start the proxy with one implementation.
"""

from __future__ import annotations

import os

import httpx

from muxer_litellm.proxy.process import (
    STARTUP_TIMEOUT,
    LiteLLMProxy,
    ProxyStartError,
    free_port,
    litellm_executable,
)
from muxer_litellm.proxy.versions import parse_version

__all__ = [
    "STARTUP_TIMEOUT",
    "LiteLLMProxy",
    "ProxyStartError",
    "free_port",
    "litellm_executable",
    "read_proxy_version",
]


def read_proxy_version(proxy: LiteLLMProxy) -> tuple[int, int, int]:
    """A running proxy's LiteLLM version, as its ``/health/readiness`` reports it (the pinned one
    under ``make test``; under ``make test-compat``, the one ``MUXER_TEST_PROXY_VERSION`` names)."""
    # Newer proxies show it only to a key (/health/readiness/details); older ones publicly.
    auth = {"Authorization": f"Bearer {proxy.master_key}"}
    reply = httpx.get(f"{proxy.base_url}/health/readiness/details", headers=auth, timeout=30, trust_env=False)
    if reply.status_code == 404:
        reply = httpx.get(f"{proxy.base_url}/health/readiness", timeout=30, trust_env=False)
    version = parse_version(reply.json().get("litellm_version"))
    assert version is not None, reply.text[:300]
    expected = os.environ.get("MUXER_TEST_PROXY_VERSION")
    assert expected is None or version == parse_version(expected), f"the proxy runs {version}, not {expected}"
    return version
