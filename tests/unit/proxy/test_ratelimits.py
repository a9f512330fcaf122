"""``proxy/ratelimits.py``: OpenAI duration strings, and the upstream deployment's headroom read
from the headers the proxy relays (absent is unknown, never zero; unreadable values ignored),
on chat replies and streams (``router_metadata.headroom``)."""

from __future__ import annotations

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider
from muxer_litellm.host import Headroom, MessageInput
from muxer_litellm.proxy.ratelimits import parse_duration, upstream_headroom
from tests.unit.replies import chat_body, chunk, final_chunk, model_info, sse

HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def no_catalog(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=model_info()))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1.5s", 1.5),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0s", 0.0),
        ("59s", 59.0),
        ("2m", 120.0),
        ("7.66s", 7.66),
        ("250us", 0.00025),
        (" 3 ", 3.0),
        ("0.5", 0.5),
        ("1S", 1.0),
    ],
)
def test_duration_strings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", [None, "", "abc", "5x", "-1s", "-3", "1s2", "s", "1.2.3s", "nan", "inf", "1e400", "99999999h", "1s " * 20]
)
def test_unreadable_durations_are_unknown(text: str | None) -> None:
    assert parse_duration(text) is None


def test_headroom_from_the_relayed_headers() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-reset-requests": "4.1s",
        "x-ratelimit-remaining-tokens": "39000",
        "x-ratelimit-limit-tokens": "40000",
        "x-ratelimit-reset-tokens": "1m30s",
        "x-litellm-model-id": "dep-1",
    }
    assert upstream_headroom(headers) == Headroom(
        remaining_requests=2,
        limit_requests=60,
        reset_requests=4.1,
        remaining_tokens=39000,
        limit_tokens=40000,
        reset_tokens=90.0,
        deployment="dep-1",
    )


def test_absent_headers_are_unknown_not_zero() -> None:
    assert upstream_headroom({}) is None
    assert upstream_headroom({"x-litellm-model-id": "dep-1"}) is None
    only = upstream_headroom({"x-ratelimit-remaining-tokens": "0"})
    assert only is not None
    assert only.remaining_tokens == 0
    assert only.remaining_requests is None
    assert only.reset_tokens is None


@pytest.mark.parametrize("bad", ["", "many", "-1", "1.5", "None", "1e3", "9" * 30])
def test_malformed_counts_are_ignored(bad: str) -> None:
    headroom = upstream_headroom({"x-ratelimit-remaining-requests": bad, "x-ratelimit-remaining-tokens": "10"})
    assert headroom is not None
    assert headroom.remaining_requests is None
    assert headroom.remaining_tokens == 10
    assert upstream_headroom({"x-ratelimit-remaining-requests": bad, "x-ratelimit-reset-requests": "soon"}) is None


def test_the_llm_provider_copies_are_read_when_the_bare_ones_are_absent() -> None:
    headroom = upstream_headroom(
        {"llm_provider-x-ratelimit-remaining-requests": "7", "llm_provider-x-ratelimit-reset-requests": "20ms"}
    )
    assert headroom == Headroom(remaining_requests=7, reset_requests=0.02)


async def test_a_chat_reply_carries_the_deployments_headroom(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1.5s",
        "x-ratelimit-remaining-tokens": "garbage",
        "x-litellm-model-id": "dep-a",
    }
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body(), headers=headers))
    meta = (await provider.chat_completion(HELLO, "m")).router_metadata
    assert meta.headroom == Headroom(remaining_requests=0, reset_requests=1.5, deployment="dep-a")


async def test_a_reply_without_rate_limit_headers_has_no_headroom(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body()))
    assert (await provider.chat_completion(HELLO, "m")).router_metadata.headroom is None


async def test_a_stream_carries_the_deployments_headroom(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    headers = {"content-type": "text/event-stream", "x-ratelimit-remaining-requests": "3"}
    body = sse(chunk("hi"), final_chunk(5, 1))
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, content=body, headers=headers))
    stream = provider.stream_chat_completion(HELLO, "m")
    async for _ in stream:
        pass
    assert stream.metadata is not None
    assert stream.metadata.headroom == Headroom(remaining_requests=3)
