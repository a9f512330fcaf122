"""The integration tests' proxy launcher: the package's own (``muxer_litellm.proxy.process``).

Re-exported under the names the integration conftest imports, so the demo and the tests
start the proxy with one implementation.
"""

from __future__ import annotations

from muxer_litellm.proxy.process import (
    STARTUP_TIMEOUT,
    LiteLLMProxy,
    ProxyStartError,
    free_port,
    litellm_executable,
)

__all__ = ["STARTUP_TIMEOUT", "LiteLLMProxy", "ProxyStartError", "free_port", "litellm_executable"]
