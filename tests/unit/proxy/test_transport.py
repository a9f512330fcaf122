"""What the transport builds once and reuses: a JSON POST from a header template is the request
``client.build_request`` would make; cookies the proxy sets still come back; a client the caller
passes in is used as it is; replies orjson cannot read are read as before."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider
from muxer_litellm.proxy.limits import DEADLINE
from muxer_litellm.proxy.payload import encode_body
from muxer_litellm.proxy.transport import DEFAULT_TIMEOUT, ProxyTransport, check_api_key
from tests.unit.replies import API_KEY, BASE_URL, chat_body

MODEL = "gpt-test"
HELLO = [{"role": "user", "content": "hello"}]
BODY: dict[str, Any] = {"model": MODEL, "messages": HELLO, "max_tokens": 5}
BILLED = {"x-litellm-response-cost": "0.0001"}


def slow_way(transport: ProxyTransport, path: str, headers: dict[str, str] | None, auth: bool) -> httpx.Request:
    """The request as httpx's own build_request makes it, for comparison."""
    merged = {**(transport.auth_headers if auth else {}), **(headers or {}), "Content-Type": "application/json"}
    return transport.client.build_request(
        "POST", f"{transport.base_url}{path}", content=encode_body(BODY, MODEL), headers=merged, timeout=DEFAULT_TIMEOUT
    )


@pytest.mark.parametrize(
    ("headers", "auth", "key"),
    [
        (None, True, API_KEY),
        ({"Accept": "text/event-stream"}, True, API_KEY),
        (None, False, API_KEY),
        (None, True, None),
    ],
    ids=["chat", "stream", "no-auth", "no-key"],
)
async def test_a_templated_request_is_what_build_request_makes(
    headers: dict[str, str] | None, auth: bool, key: str | None
) -> None:
    transport = ProxyTransport(BASE_URL, check_api_key(key), timeout=DEFAULT_TIMEOUT)
    try:
        for _ in range(2):  # the second one comes from the template
            fast = transport.build("POST", "/v1/chat/completions", json=BODY, model=MODEL, headers=headers, auth=auth)
            slow = slow_way(transport, "/v1/chat/completions", headers, auth)
            assert fast.method == slow.method == "POST"
            assert fast.url == slow.url
            assert fast.headers.raw == slow.headers.raw  # same headers, same order
            assert fast.content == slow.content
            assert fast.extensions == slow.extensions
        assert len(transport._templates) == 1
    finally:
        await transport.aclose()


async def test_templates_do_not_leak_between_header_sets() -> None:
    transport = ProxyTransport(BASE_URL, check_api_key(API_KEY), timeout=DEFAULT_TIMEOUT)
    try:
        stream = transport.build("POST", "/v1/chat/completions", json=BODY, headers={"Accept": "text/event-stream"})
        chat = transport.build("POST", "/v1/chat/completions", json=BODY)
        keyless = transport.build("POST", "/v1/chat/completions", json=BODY, auth=False)
        assert stream.headers["accept"] == "text/event-stream"
        assert chat.headers["accept"] == "*/*"
        assert "authorization" not in keyless.headers
        assert chat.headers["authorization"] == f"Bearer {API_KEY}"
    finally:
        await transport.aclose()


async def test_cookies_the_proxy_sets_are_sent_back(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = proxy.post("/v1/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=chat_body(), headers=BILLED),
            httpx.Response(200, json=chat_body(), headers={**BILLED, "set-cookie": "route=blue; Path=/"}),
            httpx.Response(200, json=chat_body(), headers=BILLED),
        ]
    )
    for _ in range(3):
        await provider.chat_completion(HELLO, MODEL)
    first, second, third = (call.request for call in route.calls)
    assert "cookie" not in first.headers
    assert "cookie" not in second.headers
    assert third.headers["cookie"] == "route=blue"
    assert json.loads(third.content) == {"model": MODEL, "messages": HELLO}
    assert third.headers["authorization"] == f"Bearer {API_KEY}"


async def test_a_callers_client_is_used_as_it_is(proxy: respx.MockRouter) -> None:
    route = proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body(), headers=BILLED))
    client = httpx.AsyncClient(headers={"X-Team": "search"}, cookies={"sticky": "1"})
    async with LiteLLMProvider(BASE_URL, API_KEY, http_client=client) as provider:
        client.headers["X-Later"] = "set after the provider was made"
        await provider.chat_completion(HELLO, MODEL)
    request = route.calls.last.request
    assert request.headers["x-team"] == "search"
    assert request.headers["x-later"] == "set after the provider was made"
    assert request.headers["cookie"] == "sticky=1"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    await client.aclose()


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (json.dumps(chat_body("utf-16 body")).encode("utf-16"), "application/json; charset=utf-16"),
        (json.dumps(chat_body("nan inside")).replace('"stop"', '"stop", "logprob": NaN').encode(), "application/json"),
    ],
    ids=["utf-16", "nan"],
)
async def test_replies_orjson_refuses_are_read_as_before(
    proxy: respx.MockRouter, provider: LiteLLMProvider, content: bytes, content_type: str
) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=content, headers={**BILLED, "content-type": content_type})
    )
    response = await provider.chat_completion(HELLO, MODEL)
    assert response.choices[0].message.content in ("utf-16 body", "nan inside")
    assert response.router_metadata.estimated_cost == pytest.approx(0.0001)


async def test_a_whole_call_tells_the_transport_its_deadline(proxy: respx.MockRouter) -> None:
    route = proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body(), headers=BILLED))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json={"data": []}))  # the stream's price
    async with LiteLLMProvider(BASE_URL, API_KEY, deadline=7.0) as provider:
        await provider.chat_completion(HELLO, MODEL)
        assert route.calls.last.request.extensions[DEADLINE] == 7.0
        sse = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\ndata: [DONE]\n\n'
        route.mock(return_value=httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"}))
        async with provider.stream_chat_completion(HELLO, MODEL) as stream:
            _ = [chunk async for chunk in stream]
        assert DEADLINE not in route.calls.last.request.extensions  # a stream's limits are per event
