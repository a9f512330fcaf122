"""``LiteLLMProvider.count_tokens`` against a mocked proxy."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import (
    AuthenticationError,
    LiteLLMProvider,
    ProviderError,
    ProviderUnavailableError,
)
from muxer_litellm.host import MessageInput
from tests.unit.replies import API_KEY, BASE_URL, error_body

# ---------------------------------------------------------------------------- LiteLLMProvider.count_tokens

MODEL = "gpt-test"
COUNTED: list[MessageInput] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "How many tokens is this?"},
]


async def test_count_tokens_posts_model_and_messages_and_returns_total(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = proxy.post("/utils/token_counter").mock(
        return_value=httpx.Response(200, json={"total_tokens": 17, "request_model": MODEL, "tokenizer_type": "x"})
    )
    assert await provider.count_tokens(COUNTED, MODEL) == 17
    request = route.calls.last.request
    assert request.method == "POST"
    assert json.loads(request.content) == {"model": MODEL, "messages": COUNTED}
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"request_model": MODEL}, id="missing"),
        pytest.param({"total_tokens": None}, id="null"),
        pytest.param({"total_tokens": "17"}, id="string"),
        pytest.param({"total_tokens": -1}, id="negative"),
        pytest.param({"total_tokens": 17.5}, id="float"),
        pytest.param({"total_tokens": True}, id="bool"),
        pytest.param([17], id="not-an-object"),
    ],
)
async def test_count_tokens_without_a_usable_total_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, body: Any
) -> None:
    proxy.post("/utils/token_counter").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ProviderError) as caught:
        await provider.count_tokens(COUNTED, MODEL)
    assert type(caught.value) is ProviderError
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (500, ProviderUnavailableError)],
)
async def test_count_tokens_errors_are_typed(
    proxy: respx.MockRouter, provider: LiteLLMProvider, status: int, error: type[ProviderError]
) -> None:
    proxy.post("/utils/token_counter").mock(
        return_value=httpx.Response(status, json=error_body("token counter refused", None, str(status)))
    )
    with pytest.raises(error) as caught:
        await provider.count_tokens(COUNTED, MODEL)
    assert caught.value.status_code == status
    assert caught.value.model == MODEL


def test_count_tokens_base_url_is_the_mocked_proxy(provider: LiteLLMProvider) -> None:
    assert provider.base_url == BASE_URL
