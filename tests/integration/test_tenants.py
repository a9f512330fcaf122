"""Several tenants on one provider, against a real LiteLLM proxy that holds several virtual keys
without a database (``tests/tenant_hooks.py``: a ``custom_auth`` hook with each key's rpm limit
and allowed models, and a ``CustomLogger`` that records what the proxy saw for each call).

Per-call keys share the provider's one pool; attribution lands where the docs say; a tenant over
its own rpm limit waits alone while another tenant keeps being served by the same model with
zero fallbacks; a key limited to some models is routed only to those; a deployment's own rpm
(``usage-based-routing-v2``) still cools the model for everyone; and the tenant case holds across
two replica processes sharing routing state through Redis.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from muxer_litellm import (
    Attribution,
    AuthenticationError,
    LiteLLMProvider,
    NoRouteError,
    ProviderError,
)
from muxer_litellm._utils import tenant_label
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from tests.conftest import require_redis_server
from tests.integration.test_replicas import Replica
from tests.litellm_proxy import LiteLLMProxy, litellm_executable
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _key(name: str) -> str:
    return f"sk-{name}-{secrets.token_hex(8)}"


#: Each tenant's key and what the custom_auth hook grants it.
KEYS = {
    "busy": _key("busy"),  # tenant A: 3 requests a minute
    "calm": _key("calm"),  # tenant B: plenty
    "other": _key("other"),  # tenant C: plenty
    "narrow": _key("narrow"),  # may call dear-chat only
    "shared": _key("shared"),  # tenant A of the replica test: 2 a minute
}
GRANTS: dict[str, dict[str, Any]] = {
    KEYS["busy"]: {"rpm_limit": 3},
    KEYS["calm"]: {"rpm_limit": 10_000},
    KEYS["other"]: {"rpm_limit": 10_000},
    KEYS["narrow"]: {"rpm_limit": 10_000, "models": ["dear-chat"]},
    KEYS["shared"]: {"rpm_limit": 2},
}


def _mock(name: str, price: float, **params: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {
            "model": "openai/gpt-4o-mini",
            "mock_response": f"answer from {name}",
            "input_cost_per_token": price,
            "output_cost_per_token": price,
            **params,
        },
    }


def tenant_proxy_config() -> dict[str, Any]:
    return {
        "model_list": [
            _mock("shared-chat", 1e-7),  # the cheapest: every tenant's first choice
            _mock("dear-chat", 1e-6),
            _mock("rpm-chat", 5e-8, rpm=1),  # a deployment with its own rpm
        ],
        "litellm_settings": {"num_retries": 0, "telemetry": False, "callbacks": ["tenant_hooks.recorder"]},
        "router_settings": {"num_retries": 0, "routing_strategy": "usage-based-routing-v2"},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "custom_auth": "tenant_hooks.custom_auth"},
    }


class TenantProxy:
    def __init__(self, proxy: LiteLLMProxy, record: Path) -> None:
        self.proxy = proxy
        self.record = record

    def seen(self, request_id: str, within: float = 30.0) -> dict[str, Any]:
        """What the proxy's logger recorded for the call carrying ``request_id``."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.record.exists():
                for line in self.record.read_text().splitlines():
                    row: dict[str, Any] = json.loads(line)
                    if (row.get("spend_logs_metadata") or {}).get("request_id") == request_id:
                        return row
            time.sleep(0.1)
        raise AssertionError(f"the proxy recorded no call with request_id {request_id}")


@pytest.fixture(scope="module")
def tenant_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantProxy]:
    if litellm_executable() is None:
        pytest.skip("litellm[proxy] is not installed; run `make test`")
    work = tmp_path_factory.mktemp("tenant-proxy")
    shutil.copy(ROOT / "tests" / "tenant_hooks.py", work / "tenant_hooks.py")
    record = work / "record.jsonl"
    env = {"MUXER_TEST_TENANTS": json.dumps(GRANTS), "MUXER_TEST_RECORD": str(record)}
    proxy = LiteLLMProxy(tenant_proxy_config(), work, env=env)
    proxy.start()
    yield TenantProxy(proxy, record)
    proxy.stop()


@pytest.fixture
async def provider(tenant_proxy: TenantProxy) -> AsyncIterator[LiteLLMProvider]:
    async with LiteLLMProvider(tenant_proxy.proxy.base_url, tenant_proxy.proxy.master_key) as p:
        yield p


async def test_per_call_keys_on_one_provider_concurrently(provider: LiteLLMProvider) -> None:
    client = provider._transport.client
    wrong = _key("wrong")

    async def call(key: str | None) -> Any:
        try:
            return await provider.chat_completion(MESSAGES, "shared-chat", api_key=key)
        except ProviderError as exc:
            return exc

    results = await asyncio.gather(*(call(k) for k in [KEYS["calm"], wrong, None] * 4))
    for i, result in enumerate(results):
        if i % 3 == 1:
            assert isinstance(result, AuthenticationError), result
            assert wrong not in str(result)
            assert wrong not in repr(result)
        else:
            assert not isinstance(result, Exception), result
            assert result.choices[0].message.content == "answer from shared-chat"
    calm = results[0].router_metadata.key
    assert calm is not None
    assert calm.rpm_limit == 10_000
    assert calm.remaining_requests is not None
    assert results[2].router_metadata.key is None or results[2].router_metadata.key.rpm_limit != 10_000
    # One pool for every key, and the provider's own key is still fine.
    assert provider._transport.client is client
    assert await provider.health_check() is True


async def test_attribution_arrives_as_documented(tenant_proxy: TenantProxy, provider: LiteLLMProvider) -> None:
    request_id = uuid.uuid4().hex
    attribution = Attribution(
        user="end-user-7",
        tags=("team-red", "batch"),
        metadata={"cost_center": "cc-42"},
        request_id=request_id,
        traceparent=TRACEPARENT,
    )
    reply = await provider.chat_completion(MESSAGES, "shared-chat", api_key=KEYS["calm"], attribution=attribution)
    assert reply.router_metadata.request_id == request_id
    seen = tenant_proxy.seen(request_id)
    assert seen["end_user"] == "end-user-7"
    assert {"team-red", "batch"} <= set(seen["tags"])
    assert seen["spend_logs_metadata"] == {"cost_center": "cc-42", "request_id": request_id}
    assert seen["trace_id"] == TRACEPARENT.split("-")[1]


async def test_a_routed_request_and_stream_carry_the_tenant(
    tenant_proxy: TenantProxy, provider: LiteLLMProvider
) -> None:
    router = HeuristicRouter(RoutingConfig(default_strategy="cost_optimized"))
    providers = {"litellm": provider}
    routed = await router.route_request(MESSAGES, providers, api_key=KEYS["calm"], attribution={"user": "u-routed"})
    meta = routed.router_metadata
    assert meta.request_id is not None
    assert meta.key is not None
    assert meta.key.rpm_limit == 10_000
    seen = tenant_proxy.seen(meta.request_id)
    assert seen["end_user"] == "u-routed"
    assert len(seen["trace_id"]) == 32

    stream = router.route_stream(MESSAGES, providers, api_key=KEYS["calm"])
    async with stream:
        chunks = [c async for c in stream]
    assert chunks
    assert stream.metadata is not None
    assert stream.metadata.key is not None
    assert stream.metadata.key.rpm_limit == 10_000
    assert stream.metadata.request_id is not None


async def test_a_tenant_over_its_own_limit_leaves_the_model_to_the_others(provider: LiteLLMProvider) -> None:
    router = HeuristicRouter(RoutingConfig(default_strategy="cost_optimized"))
    providers = {"litellm": provider}

    async def route(key: str) -> Any:
        try:
            return await router.route_request(MESSAGES, providers, api_key=key)
        except ProviderError as exc:
            return exc

    busy = await asyncio.gather(*(route(KEYS["busy"]) for _ in range(10)))
    answered = [r for r in busy if not isinstance(r, ProviderError)]
    refused = [r for r in busy if isinstance(r, ProviderError)]
    assert len(answered) <= 3
    assert refused
    assert any(r.scope == "tenant" for r in refused), [repr(r) for r in refused]
    assert all(r.retryable for r in refused)

    # The model is not cooling for anyone but tenant A...
    assert await router.store.status("litellm/shared-chat", "litellm") is None
    calm = await asyncio.gather(*(route(KEYS["calm"]) for _ in range(10)))
    for reply in calm:
        assert not isinstance(reply, ProviderError), reply
        meta = reply.router_metadata
        assert meta.selected_model == "shared-chat"
        assert [(a.model, a.outcome) for a in meta.attempts] == [("shared-chat", "ok")]  # zero fallbacks
    # ...and tenant A itself is told how long to wait, without another call to the proxy.
    again = await route(KEYS["busy"])
    assert isinstance(again, NoRouteError)
    assert again.retry_after is not None
    assert again.retry_after > 0


async def test_a_key_limited_to_some_models_is_routed_only_to_them(provider: LiteLLMProvider) -> None:
    router = HeuristicRouter(RoutingConfig(default_strategy="cost_optimized"))
    providers = {"litellm": provider}
    narrow = await router.route_request(MESSAGES, providers, api_key=KEYS["narrow"])
    assert narrow.router_metadata.selected_model == "dear-chat"
    plan = await router.plan(MESSAGES, providers, api_key=KEYS["narrow"])
    assert {c.model for c in plan.candidates} == {"dear-chat"}
    calm = await router.route_request(MESSAGES, providers, api_key=KEYS["calm"])
    assert calm.router_metadata.selected_model in ("rpm-chat", "shared-chat")  # the cheap ones
    assert await provider.allowed_models(KEYS["narrow"]) == frozenset({"dear-chat"})


async def test_a_deployments_own_rpm_cools_the_model_for_every_tenant(provider: LiteLLMProvider) -> None:
    config = RoutingConfig(combos={"rpm-first": {"targets": ["litellm/rpm-chat", "litellm/dear-chat"]}})
    router = HeuristicRouter(config)
    providers = {"litellm": provider}
    fell_back = None
    for _ in range(5):  # rpm 1: the second call in the same minute is over it
        reply = await router.route_request(MESSAGES, providers, "rpm-first", api_key=KEYS["calm"])
        if reply.router_metadata.selected_model == "dear-chat":
            fell_back = reply
            break
    assert fell_back is not None, "the deployment's rpm never refused a call"
    failed = fell_back.router_metadata.attempts[0]
    assert (failed.model, failed.outcome, failed.error) == ("rpm-chat", "failed", "RateLimitError")
    # Cooling for everyone: the model's own state, and another tenant skips it without a call.
    status = await router.store.status("litellm/rpm-chat", "litellm")
    assert status is not None
    assert status.cause == "rate_limit"
    plan = await router.plan(MESSAGES, providers, "rpm-first", api_key=KEYS["other"])
    assert "litellm/rpm-chat" in plan.excluded
    other = await router.route_request(MESSAGES, providers, "rpm-first", api_key=KEYS["other"])
    assert [(a.model, a.outcome) for a in other.router_metadata.attempts] == [("dear-chat", "ok")]


def test_the_tenant_case_across_two_replicas_sharing_redis(
    tenant_proxy: TenantProxy, redis_server: RedisServer, tmp_path: Path
) -> None:
    require_redis_server()
    import redis

    prefix = f"tenants:{uuid.uuid4().hex[:10]}"
    hash_key = secrets.token_hex(16)
    config = {
        "default_strategy": "cost_optimized",
        "state_backend": "redis",
        "redis_url": redis_server.url,
        "redis_prefix": prefix,
        "redis_timeout": 5.0,
        "tenant_hash_key": hash_key,
    }
    replicas = [Replica(name, tenant_proxy.proxy, config, tmp_path) for name in ("a", "b")]
    try:
        for replica in replicas:
            assert replica.receive(timeout=120) == {"ready": True}
        a, b = replicas
        shared = KEYS["shared"]
        results = a.call({"op": "route", "strategy": "cost_optimized", "n": 8, "concurrency": 8, "api_key": shared})
        rows = results["results"]
        assert sum(1 for r in rows if "error" not in r) <= 2
        assert any(r.get("scope") == "tenant" for r in rows), rows
        label = tenant_label(shared, hash_key.encode())
        # Replica b sees tenant A waiting on the provider, and nobody else waiting at all.
        mine = b.call({"op": "state", "key": "litellm/shared-chat", "tenant": label})
        assert mine["blocked"] is not None
        assert mine["blocked"]["remaining"] > 0
        assert b.call({"op": "state", "key": "litellm/shared-chat"})["blocked"] is None
        refused = b.call({"op": "route", "strategy": "cost_optimized", "api_key": shared})["results"][0]
        assert refused["error"] == "NoRouteError"
        calm = b.call({"op": "route", "strategy": "cost_optimized", "n": 6, "concurrency": 3, "api_key": KEYS["calm"]})
        for row in calm["results"]:
            assert row.get("model") == "shared-chat", row
            assert row["attempts"] == [["shared-chat", "ok"]]
        # The shared state names tenants by keyed hash only, never by key.
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        try:
            names = [str(n) for n in client.scan_iter(match="{" + prefix + "}*")]
            members = client.zrange("{" + prefix + "}:idx", 0, -1)
        finally:
            client.close()
        assert any(label in n for n in names)
        assert not any(k in n for n in [*names, *members] for k in KEYS.values())
    finally:
        for replica in replicas:
            replica.close()
