"""The integration tests' proxy config and provider fixtures.

The proxy itself (one per test session, in front of a fake upstream on loopback) is started
by ``tests/conftest.py``, so the ModelMuxer tests in ``tests/hosts`` share it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from muxer_litellm import LiteLLMProvider
from tests.litellm_proxy import LiteLLMProxy

# Prices the proxy is told about, per token; tests derive expected costs from these.
# cheap-chat is the cheapest priced model (cheaper than mock-chat's gpt-4o-mini cost-map
# price), so cost-aware routing has one clear answer.
CHEAP_IN, CHEAP_OUT = 1e-07, 4e-07
REFUSE_IN, REFUSE_OUT = 1.5e-07, 6e-07
SMART_IN, SMART_OUT = 3e-06, 1.5e-05
TOOL_IN, TOOL_OUT = 1e-06, 2e-06
EMBED_IN = 1e-07


def proxy_config(upstream: str, master_key: str) -> dict[str, Any]:
    def fake(name: str, upstream_model: str, **extra: Any) -> dict[str, Any]:
        params = {"model": f"openai/{upstream_model}", "api_base": upstream, "api_key": "fake"}
        params.update(extra.pop("params", {}))
        entry: dict[str, Any] = {"model_name": name, "litellm_params": params}
        if extra:
            entry["model_info"] = extra
        return entry

    return {
        "model_list": [
            fake(
                "cheap-chat",
                "fake-chat-cheap",
                params={"input_cost_per_token": CHEAP_IN, "output_cost_per_token": CHEAP_OUT},
                max_input_tokens=16000,
                max_output_tokens=4096,
                supports_function_calling=True,
            ),
            fake(
                "smart-chat",
                "fake-chat-smart",
                params={"rpm": 60},
                input_cost_per_token=SMART_IN,
                output_cost_per_token=SMART_OUT,
                max_input_tokens=128000,
                max_output_tokens=8192,
                supports_function_calling=True,
                supports_vision=True,
                supports_reasoning=True,
            ),
            # routing_tier, not tier: LiteLLM drops a model whose model_info.tier is a number.
            fake("mystery-chat", "fake-chat-mystery", routing_tier=3),
            fake(
                "tool-chat",
                "fake-tool",
                params={"input_cost_per_token": TOOL_IN, "output_cost_per_token": TOOL_OUT},
                supports_function_calling=True,
            ),
            fake(
                "refuse-chat",
                "fake-refuse",
                params={"input_cost_per_token": REFUSE_IN, "output_cost_per_token": REFUSE_OUT},
                max_input_tokens=16000,
            ),
            fake("ratelimited-chat", "fake-ratelimit"),
            fake("broken-chat", "fake-broken"),
            fake("midstream-chat", "fake-midstream"),
            fake("tiny-chat", "fake-tiny", max_input_tokens=64),
            fake("policy-chat", "fake-policy"),
            fake("embed", "fake-embed", params={"input_cost_per_token": EMBED_IN}, mode="embedding"),
            {
                "model_name": "mock-chat",
                "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "hello from mock"},
            },
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30, "telemetry": False},
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": master_key},
    }


@pytest.fixture
async def provider(litellm_proxy: LiteLLMProxy) -> AsyncIterator[LiteLLMProvider]:
    async with LiteLLMProvider(litellm_proxy.base_url, litellm_proxy.master_key) as p:
        yield p
