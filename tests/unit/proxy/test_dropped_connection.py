"""A connection that breaks after the request was written (a proxy killed mid-call) is not
"not reachable": the proxy may have served it, so the message says so and it is not retried.
The real-proxy version is in tests/integration/test_faults.py."""

from __future__ import annotations

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider, ProviderUnavailableError
from tests.unit.replies import BASE_URL

HELLO = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "exc",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.WriteError("[Errno 32] Broken pipe"),
    ],
    ids=["remote-protocol-error", "read-error", "write-error"],
)
async def test_dropped_connection_says_it_may_have_been_served_and_is_sent_once(
    proxy: respx.MockRouter, provider: LiteLLMProvider, exc: httpx.HTTPError
) -> None:
    route = proxy.post("/v1/chat/completions").mock(side_effect=exc)
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.chat_completion(HELLO, "gpt-test")
    message = str(caught.value)
    assert route.call_count == 1
    assert f"LiteLLM proxy at {BASE_URL} dropped the connection ({type(exc).__name__}: {exc})" in message
    assert "may have received the request, so it was not retried" in message
    assert "not reachable" not in message
    assert caught.value.retryable is True


async def test_a_connection_that_could_not_be_opened_is_still_not_reachable(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    proxy.post("/v1/chat/completions").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.chat_completion(HELLO, "gpt-test")
    assert str(caught.value).startswith(f"LiteLLM proxy not reachable at {BASE_URL} (ConnectError:")
    assert "dropped" not in str(caught.value)
