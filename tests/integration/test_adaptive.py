"""Adaptive routing through a real LiteLLM proxy (``num_retries: 0``, its own cooldowns off) in
front of a rate-limited, latency-shaped upstream (``tests/limited_upstream.py``): a target whose
upstream announces 0 remaining requests is skipped before it ever answers 429, and of two models
at one price the slower one loses the traffic; three replica processes sharing a near-exhausted
limit through Redis never exceed it, with no periodic publish to learn it from."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from muxer_litellm import LiteLLMProvider
from muxer_litellm.host import LLMProvider
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from tests.integration.test_replicas import Replica, poll, together
from tests.limited_upstream import Behaviour, LimitedUpstream
from tests.litellm_proxy import LiteLLMProxy, litellm_executable
from tests.redis_server import RedisServer

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
LIMIT = 3
SHARED_LIMIT = 8


def _model(name: str, upstream: str, price: float) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {
            "model": f"openai/{name}",
            "api_base": upstream,
            "api_key": "fake",
            "input_cost_per_token": price,
            "output_cost_per_token": price * 2,
        },
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[LimitedUpstream]:
    server = LimitedUpstream(
        {
            # One window for the whole module: the reading never resets mid-test.
            "limited-cheap": Behaviour(limit=LIMIT, window=3600.0),
            "shared-cheap": Behaviour(limit=SHARED_LIMIT, window=3600.0),
            "shared-backup": Behaviour(),
            "backup-dear": Behaviour(),
            "fast-same": Behaviour(latency=0.02),
            "slow-same": Behaviour(latency=0.3),
        }
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def adaptive_proxy(upstream: LimitedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMProxy]:
    if litellm_executable() is None:
        pytest.skip("litellm[proxy] is not installed; run `make test` (or pip install -e '.[dev,proxy]')")
    config = {
        "model_list": [
            _model("limited-cheap", upstream.base_url, 1e-07),
            # Dearer than the others: the default strategy never reaches them.
            _model("shared-cheap", upstream.base_url, 3e-06),
            _model("shared-backup", upstream.base_url, 3e-05),
            _model("backup-dear", upstream.base_url, 1e-06),
            _model("fast-same", upstream.base_url, 2e-06),
            _model("slow-same", upstream.base_url, 2e-06),
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30, "telemetry": False},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    proxy = LiteLLMProxy(config, tmp_path_factory.mktemp("adaptive-proxy"))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def providers(adaptive_proxy: LiteLLMProxy) -> AsyncIterator[dict[str, LLMProvider]]:
    async with LiteLLMProvider(adaptive_proxy.base_url, adaptive_proxy.master_key) as provider:
        yield {"litellm": provider}


async def test_a_target_announcing_zero_remaining_requests_is_skipped_before_any_429(
    upstream: LimitedUpstream, providers: dict[str, LLMProvider]
) -> None:
    router = HeuristicRouter(RoutingConfig())
    answered = []
    reasons = []
    for _ in range(LIMIT + 3):
        response = await router.route_request(MESSAGES, providers)
        answered.append(response.router_metadata.selected_model)
        reasons.append(response.router_metadata.routing_reason)
    assert answered == ["limited-cheap"] * LIMIT + ["backup-dear"] * 3
    assert upstream.refused["limited-cheap"] == 0  # the upstream never had to say 429
    assert "litellm/limited-cheap (0 requests left until reset in" in reasons[-1]
    headroom = response.router_metadata.headroom
    assert headroom is None or headroom.remaining_requests is None  # the backup sent no limits


async def test_a_slower_model_at_the_same_price_loses_traffic(
    upstream: LimitedUpstream, providers: dict[str, LLMProvider]
) -> None:
    config = RoutingConfig(
        combos={"same-price": {"targets": ["litellm/slow-same", "litellm/fast-same"], "strategy": "cost"}}
    )
    router = HeuristicRouter(config)
    upstream.reset_counts()
    answered = [
        (await router.route_request(MESSAGES, providers, "same-price")).router_metadata.selected_model
        for _ in range(16)
    ]
    assert upstream.answered["fast-same"] >= 12, answered
    assert upstream.answered["slow-same"] <= 4, answered
    assert answered[-4:] == ["fast-same"] * 4
    plan = await router.plan(MESSAGES, providers, "same-price")
    assert [t.model for t in plan.candidates] == ["fast-same", "slow-same"]
    assert plan.decision is not None
    assert "litellm/fast-same: p50 latency" in plan.decision.reason


def test_replicas_sharing_a_near_exhausted_limit_respect_it_without_waiting_for_the_publish_interval(
    upstream: LimitedUpstream, adaptive_proxy: LiteLLMProxy, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = {
        "state_backend": "redis",
        "redis_url": redis_server.url,
        "redis_prefix": f"adaptive:{uuid.uuid4().hex[:10]}",
        "redis_timeout": 5.0,
        "combos": {"shared": {"targets": ["litellm/shared-cheap", "litellm/shared-backup"], "strategy": "cost"}},
        # Nothing periodic: what the replicas learn of each other's calls near the limit is
        # published as it happens.
        "adaptive": {"publish_interval": 60.0},
    }
    replicas = [Replica(name, adaptive_proxy, config, tmp_path) for name in "abc"]
    try:
        for replica in replicas:
            assert replica.receive(timeout=120) == {"ready": True}
        answered: list[str | None] = []
        for _ in range(5):  # each round: the three replicas route one request at the same moment
            for results in together(replicas, {"op": "route", "strategy": "shared", "n": 1}):
                answered.extend(r.get("model") for r in results["results"])
            for replica in replicas:  # what their calls changed has reached Redis
                poll(replica, {"op": "stats"}, lambda stats: not stats["publishing"], within=30.0)
        stats = [replica.call({"op": "stats"}) for replica in replicas]
    finally:
        for replica in replicas:
            replica.close()
    assert upstream.refused["shared-cheap"] == 0, answered  # never over the shared limit
    assert upstream.answered["shared-cheap"] >= SHARED_LIMIT - 1, answered  # and (almost) all of it used
    assert len(answered) == 15
    assert all(model in ("shared-cheap", "shared-backup") for model in answered), answered
    assert all(s["signals_at_once"] > 0 for s in stats), stats
