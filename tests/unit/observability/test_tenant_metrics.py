"""Per-tenant metrics: calls labelled by the tenant id given or a keyed hash of the key (never the
key), the first ``max_tenants`` tenants with their own series and the rest as ``other``, a
tenant's own limits counted by scope; calls with the provider's own key carry no tenant."""

from __future__ import annotations

import httpx
import pytest
import respx
from prometheus_client import CollectorRegistry

from muxer_litellm import CallRecord, LiteLLMProvider, PrometheusMetrics, RateLimitError, TenantBusyError
from tests.unit.replies import API_KEY, BASE_URL, chat_body, error_body, final_chunk, sse

MESSAGES = [{"role": "user", "content": "hi"}]
NS = "muxer_litellm"
TENANT_KEY = "sk-tenant-metrics-9f8e7d"
LIMIT = "Rate limit exceeded for api_key: abc. Limit type: requests. Current limit: 1, Remaining: 0."


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(f"{NS}_{name}", labels)


def every_label(registry: CollectorRegistry) -> set[str]:
    return {v for metric in registry.collect() for s in metric.samples for v in s.labels.values()}


async def test_calls_are_counted_per_tenant_with_bounded_labels(proxy: respx.MockRouter) -> None:
    registry = CollectorRegistry()
    records: list[CallRecord] = []
    metrics = PrometheusMetrics(registry, max_tenants=2)

    def hook(record: CallRecord) -> None:
        records.append(record)
        metrics(record)

    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=chat_body(), headers={"x-litellm-response-cost": "0.002"})
    )
    async with LiteLLMProvider(BASE_URL, API_KEY, metrics=hook, tenant_hash_key="metrics-secret") as provider:
        await provider.chat_completion(MESSAGES, "m", tenant_id="acme")
        await provider.chat_completion(MESSAGES, "m", api_key=TENANT_KEY)
        await provider.chat_completion(MESSAGES, "m", tenant_id="globex")  # the third tenant: "other"
        await provider.chat_completion(MESSAGES, "m")  # the provider's own key: no tenant
        label = provider.tenant_of(TENANT_KEY)
        proxy.post("/v1/chat/completions").mock(
            return_value=httpx.Response(429, json=error_body(LIMIT, "throttling_error", "429"))
        )
        with pytest.raises(RateLimitError):
            await provider.chat_completion(MESSAGES, "m", tenant_id="acme")
    assert [r.tenant for r in records] == ["acme", label, "globex", None, "acme"]
    assert records[-1].scope == "tenant"
    assert sample(registry, "tenant_requests_total", tenant="acme", status="ok") == 1
    assert sample(registry, "tenant_requests_total", tenant="acme", status="error") == 1
    assert sample(registry, "tenant_requests_total", tenant=label, status="ok") == 1
    assert sample(registry, "tenant_requests_total", tenant="other", status="ok") == 1
    assert sample(registry, "tenant_cost_usd_total", tenant="acme") == pytest.approx(0.002)
    assert sample(registry, "tenant_limited_total", tenant="acme", scope="tenant") == 1
    labels = every_label(registry)
    assert "globex" not in labels
    assert not any(TENANT_KEY in v for v in labels)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_max_tenants_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="max_tenants"):
        PrometheusMetrics(CollectorRegistry(), max_tenants=bad)  # type: ignore[arg-type]


async def test_a_call_over_the_in_flight_cap_is_counted_as_limited(proxy: respx.MockRouter) -> None:
    registry = CollectorRegistry()
    body = sse(final_chunk(3, 1, 0.001))
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    metrics = PrometheusMetrics(registry)
    async with LiteLLMProvider(BASE_URL, API_KEY, metrics=metrics, max_tenant_in_flight=1) as provider:
        stream = provider.stream_chat_completion(MESSAGES, "m", tenant_id="acme")
        await anext(stream)
        with pytest.raises(TenantBusyError):
            await provider.chat_completion(MESSAGES, "m", tenant_id="acme")
        await stream.aclose()
    assert sample(registry, "tenant_limited_total", tenant="acme", scope="tenant") == 1
    assert sample(registry, "tenant_requests_total", tenant="acme", status="error") == 1
