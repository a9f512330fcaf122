"""Reading the proxy's reply headers (``proxy/headers.py``): the key's spend, budget, limits and
headroom typed; the upstream's bare ``x-ratelimit-*`` kept apart; absent, ``None`` and garbage
values read as None, never an exception; and the same values in ``RouterMetadata`` and
``ChatStream.metadata``."""

from __future__ import annotations

import httpx
import pytest
import respx

from muxer_litellm import KeyInfo, LiteLLMProvider
from muxer_litellm.proxy.headers import key_info, proxy_headers
from tests.unit.replies import chat_body, final_chunk, sse

MESSAGES = [{"role": "user", "content": "hi"}]

#: What the proxy sends for a key with an rpm limit and no budget (litellm 1.106, v3 limiter).
KEY_HEADERS = {
    "x-litellm-key-rpm-limit": "1000",
    "x-litellm-key-tpm-limit": "None",
    "x-litellm-key-max-budget": "None",
    "x-litellm-key-spend": "0.0123",
    "x-ratelimit-api_key-remaining-requests": "998",
    "x-ratelimit-api_key-limit-requests": "1000",
    "x-ratelimit-team-remaining-tokens": "5000",
    "x-litellm-key-remaining-requests-gpt-4o": "7",
    "x-litellm-key-remaining-tokens-gpt-4o": "900",
    # The upstream deployment's own, not the key's:
    "x-ratelimit-remaining-requests": "3",
    "x-ratelimit-limit-requests": "10",
}


def test_the_keys_headers_read_typed() -> None:
    info = key_info(proxy_headers(httpx.Headers(KEY_HEADERS)))
    assert info == KeyInfo(
        spend=0.0123,
        max_budget=None,  # "None": unset
        rpm_limit=1000,
        tpm_limit=None,
        remaining_requests=998,
        remaining_tokens=None,
        model_remaining_requests=7,
        model_remaining_tokens=900,
        headroom={
            "api_key-remaining-requests": 998,
            "api_key-limit-requests": 1000,
            "team-remaining-tokens": 5000,
        },
    )


def test_the_upstreams_bare_headers_are_the_deployments_not_the_keys() -> None:
    info = key_info(proxy_headers(httpx.Headers(KEY_HEADERS)))
    assert info is not None
    assert not {"remaining-requests", "limit-requests"} & set(info.headroom)
    bare_only = proxy_headers(httpx.Headers({"x-ratelimit-remaining-requests": "3"}))
    assert key_info(bare_only) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"x-litellm-key-max-budget": "None", "x-litellm-key-spend": "None"}, None, id="all-None"),
        pytest.param({"x-litellm-key-spend": "lots"}, None, id="garbage-spend"),
        pytest.param({"x-litellm-key-spend": "nan", "x-litellm-key-max-budget": "inf"}, None, id="nan-and-inf"),
        pytest.param({"x-litellm-key-spend": "-1"}, None, id="negative-spend"),
        pytest.param({"x-ratelimit-api_key-remaining-requests": "many"}, None, id="garbage-headroom"),
        pytest.param({"x-litellm-key-max-budget": "2.5"}, KeyInfo(max_budget=2.5), id="a-budget"),
        pytest.param({"x-litellm-key-rpm-limit": "1e3"}, KeyInfo(rpm_limit=1000), id="float-count"),
    ],
)
def test_absent_unset_and_malformed_values_are_none(headers: dict[str, str], expected: KeyInfo | None) -> None:
    assert key_info(proxy_headers(httpx.Headers(headers))) == expected


async def test_router_metadata_carries_the_key_info(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    headers = {**KEY_HEADERS, "x-litellm-response-cost": "0.001"}
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body(), headers=headers))
    reply = await provider.chat_completion(MESSAGES, "gpt-4o")
    key = reply.router_metadata.key
    assert key is not None
    assert (key.spend, key.rpm_limit, key.remaining_requests) == (0.0123, 1000, 998)
    priced = {"x-litellm-response-cost": "0.001"}
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body(), headers=priced))
    assert (await provider.chat_completion(MESSAGES, "gpt-4o")).router_metadata.key is None


async def test_a_streams_metadata_carries_the_key_info(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    body = sse({"choices": [{"index": 0, "delta": {"content": "hi"}}]}, final_chunk(3, 1, 0.001))
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=body, headers={"content-type": "text/event-stream", **KEY_HEADERS})
    )
    async with provider.stream_chat_completion(MESSAGES, "gpt-4o") as stream:
        chunks = [c async for c in stream]
    assert stream.metadata is not None
    assert stream.metadata.key is not None
    assert stream.metadata.key.model_remaining_tokens == 900
    assert chunks[-1]["router_metadata"]["key"]["rpm_limit"] == 1000


@pytest.mark.parametrize(
    "value", [b"gpt-4o-eu", "gpt-4o-\u00e9t\u00e9".encode(), b"caf\xe9"], ids=["ascii", "utf-8", "latin-1"]
)
def test_header_values_read_as_httpx_decodes_them(value: bytes) -> None:
    headers = httpx.Headers([(b"X-LiteLLM-Model-Id", value), (b"x-ratelimit-remaining-requests", b"3")])
    assert proxy_headers(headers) == {
        "x-litellm-model-id": headers["x-litellm-model-id"],
        "x-ratelimit-remaining-requests": "3",
    }
