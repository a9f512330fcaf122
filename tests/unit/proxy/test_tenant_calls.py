"""Per-call credentials on the shared pool: a tenant's ``api_key`` replaces the provider's for
one call (never in the body, never printed), ``extra_headers`` and ``attribution`` go where the
proxy reads them, what a key may call is cached per key, and the per-tenant in-flight cap
refuses one call too many with a typed, retryable error."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from muxer_litellm import (
    Attribution,
    AuthenticationError,
    BadRequestError,
    LiteLLMProvider,
    TenantBusyError,
)
from tests.unit.replies import API_KEY, BASE_URL, chat_body, embedding_body, final_chunk, sse

MESSAGES = [{"role": "user", "content": "hi"}]
TENANT_A = "sk-tenant-A-7f3e9a1b"
TENANT_B = "sk-tenant-B-0c4d2e8f"
PRICED = {"x-litellm-response-cost": "0.001"}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def answered(request: httpx.Request) -> httpx.Response:
    """Answers with the bearer token it saw as the content, so a test can tell who was served."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    return httpx.Response(200, json=chat_body(token), headers=PRICED)


def sent(route: respx.Route, index: int = -1) -> tuple[httpx.Headers, dict[str, Any]]:
    request = route.calls[index].request
    return request.headers, json.loads(request.content)


async def test_a_per_call_key_replaces_the_providers_for_that_call_only(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = proxy.post("/v1/chat/completions").mock(side_effect=answered)
    reply = await provider.chat_completion(MESSAGES, "m", api_key=TENANT_A)
    headers, body = sent(route)
    assert headers["authorization"] == f"Bearer {TENANT_A}"
    assert "api_key" not in body
    assert TENANT_A not in route.calls[-1].request.content.decode()
    assert reply.choices[0].message.content == TENANT_A
    await provider.chat_completion(MESSAGES, "m")
    assert sent(route)[0]["authorization"] == f"Bearer {API_KEY}"


async def test_concurrent_calls_with_different_keys_share_one_pool(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    proxy.post("/v1/chat/completions").mock(side_effect=answered)
    client = provider._transport.client
    keys = [TENANT_A, TENANT_B, None] * 10
    replies = await asyncio.gather(*(provider.chat_completion(MESSAGES, "m", api_key=k) for k in keys))
    assert [r.choices[0].message.content for r in replies] == [k or API_KEY for k in keys]
    assert provider._transport.client is client
    assert len(provider._transport._templates) == 1  # no per-key header template kept


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("sk-tenant\nX-Injected: 1", id="newline"),
        pytest.param("sk-ténant", id="non-ascii"),
        pytest.param("   ", id="blank"),
        pytest.param("", id="empty"),
    ],
)
async def test_an_unusable_per_call_key_is_refused_before_anything_is_sent(
    proxy: respx.MockRouter, provider: LiteLLMProvider, key: str
) -> None:
    route = proxy.post("/v1/chat/completions").mock(side_effect=answered)
    with pytest.raises(AuthenticationError) as caught:
        await provider.chat_completion(MESSAGES, "m", api_key=key)
    assert not route.called
    if key.strip():
        assert key not in str(caught.value)


async def test_a_refused_per_call_key_is_never_printed(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    echoed = {
        "error": {"message": f"Authentication Error, invalid key {TENANT_A}", "type": "auth_error", "code": "401"}
    }
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(401, json=echoed))
    with pytest.raises(AuthenticationError) as caught:
        await provider.chat_completion(MESSAGES, "m", api_key=TENANT_A)
    assert TENANT_A not in str(caught.value)
    assert TENANT_A not in repr(caught.value)
    assert caught.value.__cause__ is None or TENANT_A not in str(caught.value.__cause__)


async def test_extra_headers_are_sent_and_reserved_ones_refused(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = proxy.post("/v1/chat/completions").mock(side_effect=answered)
    await provider.chat_completion(MESSAGES, "m", extra_headers={"x-litellm-tags": "a,b", "X-Org": "acme"})
    headers, _ = sent(route)
    assert (headers["x-litellm-tags"], headers["x-org"]) == ("a,b", "acme")
    for bad, why in (
        ({"Authorization": "Bearer other"}, "cannot be set per call"),
        ({"x-litellm-api-key": "sk-x"}, "cannot be set per call"),
        ({"x-note": "line\nbreak"}, "printable ASCII"),
        ({"bad header": "v"}, "not a valid header name"),
    ):
        with pytest.raises(BadRequestError, match=why) as caught:
            await provider.chat_completion(MESSAGES, "m", extra_headers=bad)
        assert "line\nbreak" not in str(caught.value)
    assert route.call_count == 1


async def test_attribution_goes_where_the_proxy_records_it(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = proxy.post("/v1/chat/completions").mock(side_effect=answered)
    attribution = Attribution(
        user="end-user-1", tags=("batch", "red"), metadata={"cc": "42"}, request_id="req-1", traceparent=TRACEPARENT
    )
    reply = await provider.chat_completion(
        MESSAGES, "m", attribution=attribution, metadata={"tags": ["mine"], "spend_logs_metadata": {"x": 1}}
    )
    headers, body = sent(route)
    assert body["user"] == "end-user-1"
    assert body["metadata"]["tags"] == ["mine", "batch", "red"]
    assert body["metadata"]["spend_logs_metadata"] == {"x": 1, "cc": "42", "request_id": "req-1"}
    assert headers["traceparent"] == TRACEPARENT
    assert reply.router_metadata.request_id == "req-1"
    # A plain mapping works too; a bad one is a BadRequestError naming the field.
    await provider.chat_completion(MESSAGES, "m", attribution={"user": "u2"})
    assert sent(route)[1]["user"] == "u2"
    with pytest.raises(BadRequestError, match="traceparent"):
        await provider.chat_completion(MESSAGES, "m", attribution={"traceparent": "not-a-trace"})
    with pytest.raises(BadRequestError, match="metadata must be a dict"):
        await provider.chat_completion(MESSAGES, "m", attribution=attribution, metadata="text")


def test_attribution_refuses_what_a_header_cannot_carry() -> None:
    with pytest.raises(ValidationError):
        Attribution(request_id="has space")
    with pytest.raises(ValidationError):
        Attribution(tags=("a,b",))
    with pytest.raises(ValidationError):
        Attribution(traceparent="00-xyz-00f067aa0ba902b7-01")


async def test_streams_and_embeddings_take_the_per_call_keywords(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    stream_route = proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(
            200, content=sse(final_chunk(3, 1, 0.001)), headers={"content-type": "text/event-stream"}
        )
    )
    async with provider.stream_chat_completion(
        MESSAGES, "m", api_key=TENANT_B, attribution={"user": "u", "request_id": "r-9"}
    ) as stream:
        _ = [c async for c in stream]
    headers, body = sent(stream_route)
    assert headers["authorization"] == f"Bearer {TENANT_B}"
    assert body["user"] == "u"
    assert stream.metadata is not None
    assert stream.metadata.request_id == "r-9"
    embed_route = proxy.post("/v1/embeddings").mock(
        return_value=httpx.Response(200, json=embedding_body([[0.1, 0.2]]), headers=PRICED)
    )
    await provider.embeddings("text", "e", api_key=TENANT_A, extra_headers={"x-team": "t"})
    headers, body = sent(embed_route)
    assert (headers["authorization"], headers["x-team"]) == (f"Bearer {TENANT_A}", "t")
    assert "api_key" not in body


async def test_allowed_models_are_read_per_key_and_cached(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    def models(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        if token == "sk-refused":
            return httpx.Response(401, json={"error": {"message": "unknown virtual key", "type": "auth_error"}})
        ids = ["cheap"] if token == TENANT_A else ["cheap", "dear"]
        return httpx.Response(200, json={"data": [{"id": i, "object": "model"} for i in ids]})

    route = proxy.get("/v1/models").mock(side_effect=models)
    first = await asyncio.gather(*(provider.allowed_models(TENANT_A) for _ in range(5)))
    assert first == [frozenset({"cheap"})] * 5
    assert await provider.allowed_models(TENANT_B) == frozenset({"cheap", "dear"})
    assert await provider.allowed_models(TENANT_A) == frozenset({"cheap"})
    assert route.call_count == 2  # one per key: concurrent askers shared one request
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            await provider.allowed_models("sk-refused")
    assert route.call_count == 4  # a failure is not cached


async def test_the_in_flight_cap_refuses_one_call_too_many_per_tenant(proxy: respx.MockRouter) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await release.wait()
        return answered(request)

    proxy.post("/v1/chat/completions").mock(side_effect=slow)
    async with LiteLLMProvider(BASE_URL, API_KEY, max_tenant_in_flight=1, tenant_retry_after=0.5) as provider:
        first = asyncio.ensure_future(provider.chat_completion(MESSAGES, "m", api_key=TENANT_A))
        await started.wait()
        with pytest.raises(TenantBusyError) as caught:
            await provider.chat_completion(MESSAGES, "m", api_key=TENANT_A)
        error = caught.value
        assert (error.retryable, error.retry_after, error.scope) == (True, 0.5, "tenant")
        assert TENANT_A not in str(error)
        other = asyncio.ensure_future(provider.chat_completion(MESSAGES, "m", api_key=TENANT_B))
        named = asyncio.ensure_future(provider.chat_completion(MESSAGES, "m", api_key=TENANT_A, tenant_id="acme"))
        await asyncio.sleep(0)
        release.set()
        assert (await first).choices[0].message.content == TENANT_A
        assert (await other).choices[0].message.content == TENANT_B
        assert (await named).choices[0].message.content == TENANT_A
        # Its slot is free again once the call ended.
        assert (await provider.chat_completion(MESSAGES, "m", api_key=TENANT_A)).choices[0].message.content


async def test_a_tenants_stream_holds_its_slot_until_it_ends(proxy: respx.MockRouter) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(
            200, content=sse(final_chunk(3, 1, 0.001)), headers={"content-type": "text/event-stream", **PRICED}
        )
    )
    async with LiteLLMProvider(BASE_URL, API_KEY, max_tenant_in_flight=1) as provider:
        stream = provider.stream_chat_completion(MESSAGES, "m", tenant_id="acme")
        await anext(stream)
        with pytest.raises(TenantBusyError):
            await provider.chat_completion(MESSAGES, "m", tenant_id="acme")
        await stream.aclose()
        async with provider.stream_chat_completion(MESSAGES, "m", tenant_id="acme") as again:
            assert [c async for c in again]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_the_cap_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_tenant_in_flight"):
        LiteLLMProvider(BASE_URL, API_KEY, max_tenant_in_flight=bad)


def test_a_tenant_label_is_a_keyed_hash_never_the_key() -> None:
    one = LiteLLMProvider(BASE_URL, API_KEY, tenant_hash_key="shared-secret-1")
    two = LiteLLMProvider(BASE_URL, API_KEY, tenant_hash_key="shared-secret-1")
    other = LiteLLMProvider(BASE_URL, API_KEY, tenant_hash_key="another-secret")
    label = one.tenant_of(TENANT_A)
    assert TENANT_A not in label
    assert label == two.tenant_of(TENANT_A) != other.tenant_of(TENANT_A)
    assert one.tenant_of(TENANT_A, "acme") == "acme"
    assert one.tenant_of() == "_"
    with pytest.raises(BadRequestError):
        one.tenant_of(None, "has space")
