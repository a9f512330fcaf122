"""The API key never leaks: not in ``repr``/``str`` of the provider or the settings, not in error
messages (even when the proxy or httpx echoes it back), not in ``last_health_error``, health results
or log records. And it is sent where it must be: ``Authorization: Bearer <key>`` on authenticated
calls, never on ``/health/readiness``, and not at all by a keyless provider. Plus ``redact()``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from muxer_litellm import (
    AuthenticationError,
    LiteLLMProvider,
    LiteLLMSettings,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from muxer_litellm._utils import redact
from muxer_litellm.host import MessageInput
from tests.unit.replies import API_KEY, BASE_URL, chunk, deployment, error_body, model_info, sse

MODEL = "gpt-test"
HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]
BILLED = {"x-litellm-response-cost": "0.0001"}
READY = {"status": "healthy", "db": "Not connected", "litellm_version": "1.106.2"}
MODELS = {"object": "list", "data": [{"id": MODEL, "object": "model"}]}
EMBEDDING = {
    "object": "list",
    "model": "embed-test",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}

#: The ways the proxy (or an upstream) echoes a key back in an error message.
ECHOES = {
    "received-api-key": f"Authentication Error, Invalid proxy server token passed. Received API Key = {API_KEY}",
    "api-key-colon": f"Invalid key: api_key: '{API_KEY}' is not valid",
    "bearer": f"Header Authorization: Bearer {API_KEY} rejected",
    "bare": f"token {API_KEY} is blocked",
    "twice": f"{API_KEY} / {API_KEY}",
}


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert API_KEY not in text


# ---------------------------------------------------------------------------- repr / str / dumps


async def test_provider_repr_and_str_mask_the_key(provider: LiteLLMProvider) -> None:
    assert repr(provider) == f"LiteLLMProvider(base_url={BASE_URL!r}, api_key='***')"
    assert_no_key(repr(provider), str(provider), f"{provider}", f"{provider!r}")


async def test_keyless_provider_repr_says_none(proxy: respx.MockRouter) -> None:
    async with LiteLLMProvider(BASE_URL) as keyless:
        assert repr(keyless) == f"LiteLLMProvider(base_url={BASE_URL!r}, api_key=None)"


async def test_provider_from_secretstr_masks_the_key(proxy: respx.MockRouter) -> None:
    async with LiteLLMProvider(BASE_URL, SecretStr(API_KEY)) as keyed:
        assert_no_key(repr(keyed), str(keyed))
        assert "api_key='***'" in repr(keyed)


def test_settings_repr_and_dumps_mask_the_key() -> None:
    settings = LiteLLMSettings(api_key=API_KEY)
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == API_KEY
    dumped = settings.model_dump_json()
    assert_no_key(repr(settings), str(settings), dumped, repr(settings.model_dump()), repr(settings.api_key))
    assert json.loads(dumped)["api_key"] == "**********"


def test_settings_from_env_mask_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_API_KEY", API_KEY)
    settings = LiteLLMSettings()
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == API_KEY
    assert_no_key(repr(settings), settings.model_dump_json())


async def test_provider_from_settings_masks_the_key(proxy: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_API_KEY", API_KEY)
    async with LiteLLMProvider.from_settings() as from_env:
        assert_no_key(repr(from_env), str(from_env))
        assert "api_key='***'" in repr(from_env)


# ---------------------------------------------------------------------------- errors echoing the key


@pytest.mark.parametrize("message", list(ECHOES.values()), ids=list(ECHOES))
@pytest.mark.parametrize("status", [400, 401, 403, 429, 500])
async def test_echoed_key_is_redacted_from_errors(
    proxy: respx.MockRouter, provider: LiteLLMProvider, message: str, status: int
) -> None:
    body = error_body(message, None, str(status))
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(ProviderError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    err = caught.value
    assert_no_key(str(err), repr(err), err.message, *err.args)
    assert "***" in str(err)


@pytest.mark.parametrize("message", list(ECHOES.values()), ids=list(ECHOES))
async def test_echoed_key_in_plain_text_body_is_redacted(
    proxy: respx.MockRouter, provider: LiteLLMProvider, message: str
) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(401, text=message))
    with pytest.raises(AuthenticationError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert_no_key(str(caught.value), repr(caught.value))
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [{"error": f"Invalid proxy server token passed. Received API Key = {API_KEY}"}, {"detail": f"bad key {API_KEY}"}],
    ids=["error-string", "detail"],
)
async def test_echoed_key_in_malformed_error_body_is_redacted(
    proxy: respx.MockRouter, provider: LiteLLMProvider, body: dict[str, Any]
) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(401, json=body))
    with pytest.raises(AuthenticationError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert_no_key(str(caught.value), repr(caught.value))
    assert "***" in str(caught.value)


async def test_key_cut_by_the_message_limit_is_still_redacted(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    # An HTML/traceback error page long enough that the 1000-character message cap falls inside the key.
    page = "x" * (1000 - len(API_KEY) + 1) + API_KEY + " trailing"
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(401, text=page))
    with pytest.raises(AuthenticationError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert API_KEY[:-1] not in str(caught.value)


async def test_masked_echo_of_another_key_is_redacted(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    body = error_body(
        "Invalid proxy server token passed. Received API Key = sk-...c0ffee77, Key Hash=abc", "auth_error"
    )
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(401, json=body))
    with pytest.raises(AuthenticationError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert "c0ffee77" not in str(caught.value)
    assert "Received API Key = ***" in str(caught.value)


async def test_echoed_key_in_stream_error_frame_is_redacted(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    frame = {"error": {"message": f"upstream rejected Bearer {API_KEY}", "type": None, "code": "401"}}
    stream = httpx.Response(
        200, content=sse(chunk("Hel"), frame, done=False), headers={"content-type": "text/event-stream"}
    )
    proxy.post("/v1/chat/completions").mock(return_value=stream)
    with pytest.raises(AuthenticationError) as caught:
        async for _ in provider.stream_chat_completion(HELLO, MODEL):
            pass
    assert_no_key(str(caught.value), repr(caught.value))
    assert "Bearer ***" in str(caught.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError(f"connect failed for Authorization: Bearer {API_KEY}"), ProviderUnavailableError),
        (httpx.ConnectError(f"proxy said {API_KEY} twice: {API_KEY}"), ProviderUnavailableError),
        (httpx.ReadTimeout(f"read timed out, api_key={API_KEY}"), ProviderTimeoutError),
    ],
    ids=["connect-bearer", "connect-bare", "timeout-api-key"],
)
async def test_transport_error_text_with_key_is_redacted(
    proxy: respx.MockRouter, provider: LiteLLMProvider, exc: httpx.HTTPError, expected: type[ProviderError]
) -> None:
    proxy.post("/v1/chat/completions").mock(side_effect=exc)
    with pytest.raises(ProviderError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert type(caught.value) is expected
    assert_no_key(str(caught.value), repr(caught.value))
    assert "***" in str(caught.value)
    # A traceback prints the whole chain: an httpx error quoting the key is not chained.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


@pytest.mark.parametrize(
    "key",
    ["sk-live\nSECRET-4f9c", "sk-live\rSECRET", "sk-live\x00SECRET", "sk-live\x7fSECRET", "sk-lïve-SECRET"],
    ids=["newline", "carriage-return", "nul", "del", "non-ascii"],
)
def test_a_key_http_cannot_carry_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ValueError, match="cannot be sent in an HTTP header") as caught:
        LiteLLMProvider(BASE_URL, key)
    assert "SECRET" not in str(caught.value)
    assert "SECRET" not in repr(caught.value)
    assert caught.value.__cause__ is None
    with pytest.raises(ValueError, match="cannot be sent in an HTTP header") as from_secret:
        LiteLLMProvider(BASE_URL, SecretStr(key))
    assert "SECRET" not in str(from_secret.value)


# ---------------------------------------------------------------------------- health


async def test_failed_health_check_error_is_redacted(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY))
    body = error_body(ECHOES["received-api-key"], "auth_error", "401")
    proxy.get("/v1/models").mock(return_value=httpx.Response(401, json=body))
    assert await provider.health_check() is False
    assert provider.last_health_error is not None
    assert_no_key(provider.last_health_error)
    assert "Received API Key = ***" in provider.last_health_error


async def test_model_health_errors_are_redacted(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    health = {
        "healthy_endpoints": [],
        "unhealthy_endpoints": [
            {"model": "openai/gpt-test", "model_id": "id-a", "error": f"AuthenticationError: Bearer {API_KEY} bad"},
            {"model": "openai/gpt-other", "model_id": "id-b", "error": f"litellm error {API_KEY}\nstack trace"},
            {"model": "openai/gpt-third", "model_id": "id-c", "error": "Incorrect api_key: 'sk-upstream-99' given"},
        ],
    }
    proxy.get("/health").mock(return_value=httpx.Response(200, json=health))
    catalog = model_info(
        deployment("a", model_id="id-a"), deployment("b", model_id="id-b"), deployment("c", model_id="id-c")
    )
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=catalog))
    results = await provider.model_health()
    errors = [r.error for r in results]
    assert errors == ["AuthenticationError: Bearer *** bad", "litellm error ***", "Incorrect api_key: '***' given"]
    cards = [provider.get_model_info(name) for name in ("a", "b", "c")]
    assert [card.health_error if card else "missing" for card in cards] == errors
    assert "sk-upstream-99" not in repr(results)


async def test_model_health_error_cut_inside_the_key_is_still_redacted(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    # model_health keeps the first 300 characters of each error; the cut must not expose a key prefix.
    error = "y" * (300 - len(API_KEY) + 2) + API_KEY
    health = {
        "healthy_endpoints": [],
        "unhealthy_endpoints": [{"model": "openai/a", "model_id": "id-a", "error": error}],
    }
    proxy.get("/health").mock(return_value=httpx.Response(200, json=health))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=model_info(deployment("a", model_id="id-a"))))
    [result] = await provider.model_health()
    assert result.error is not None
    assert API_KEY[:-2] not in result.error


async def test_model_health_http_error_is_redacted(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    body = error_body(ECHOES["api-key-colon"], "auth_error", "401")
    proxy.get("/health").mock(return_value=httpx.Response(401, json=body))
    with pytest.raises(AuthenticationError) as caught:
        await provider.model_health()
    assert_no_key(str(caught.value), repr(caught.value))


# ---------------------------------------------------------------------------- logs


async def test_logs_of_a_chat_call_hold_no_key(
    proxy: respx.MockRouter, provider: LiteLLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="muxer_litellm")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=CHAT, headers=BILLED))
    await provider.chat_completion(HELLO, MODEL)
    assert "POST /v1/chat/completions" in caplog.text
    assert_no_key(caplog.text)


async def test_logs_of_a_failed_health_check_hold_no_key(
    proxy: respx.MockRouter, provider: LiteLLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="muxer_litellm")
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY))
    body = error_body(ECHOES["bearer"], "auth_error", "401")
    proxy.get("/v1/models").mock(return_value=httpx.Response(401, json=body))
    assert await provider.health_check() is False
    assert "unhealthy" in caplog.text
    assert "Bearer ***" in caplog.text
    assert_no_key(caplog.text)


async def test_logs_of_a_failed_catalog_refresh_during_cost_lookup_hold_no_key(
    proxy: respx.MockRouter, provider: LiteLLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="muxer_litellm")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=CHAT))  # no billed cost
    body = error_body(ECHOES["received-api-key"], "auth_error", "401")
    info = proxy.get("/model/info").mock(return_value=httpx.Response(401, json=body))
    response = await provider.chat_completion(HELLO, MODEL)
    assert info.call_count == 1
    assert response.router_metadata.estimated_cost is None
    assert response.router_metadata.cost_source == "unknown"
    assert "could not refresh" in caplog.text
    assert "Received API Key = ***" in caplog.text
    assert_no_key(caplog.text)


# ---------------------------------------------------------------------------- the Authorization header

Call = Callable[[LiteLLMProvider], Awaitable[Any]]


async def _chat(p: LiteLLMProvider) -> None:
    await p.chat_completion(HELLO, MODEL)


async def _stream(p: LiteLLMProvider) -> None:
    async for _ in p.stream_chat_completion(HELLO, MODEL):
        pass


async def _embed(p: LiteLLMProvider) -> None:
    await p.embeddings("hello", "embed-test")


async def _refresh(p: LiteLLMProvider) -> None:
    await p.refresh_models()


async def _models(p: LiteLLMProvider) -> None:
    await p.get_available_models()


async def _deep_health(p: LiteLLMProvider) -> None:
    await p.model_health()


def mock_everything(proxy: respx.MockRouter) -> dict[str, respx.Route]:
    streamed = sse(
        chunk("Hi"), chunk(usage={"prompt_tokens": 3, "completion_tokens": 1, "cost": 0.0001}, choices=False)
    )
    return {
        "chat": proxy.post("/v1/chat/completions").mock(
            side_effect=lambda request: (
                httpx.Response(200, content=streamed, headers={"content-type": "text/event-stream"})
                if json.loads(request.content).get("stream")
                else httpx.Response(200, json=CHAT, headers=BILLED)
            )
        ),
        "embeddings": proxy.post("/v1/embeddings").mock(
            return_value=httpx.Response(200, json=EMBEDDING, headers=BILLED)
        ),
        "model-info": proxy.get("/model/info").mock(
            return_value=httpx.Response(200, json=model_info(deployment(MODEL)))
        ),
        "models": proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS)),
        "health": proxy.get("/health").mock(
            return_value=httpx.Response(200, json={"healthy_endpoints": [], "unhealthy_endpoints": []})
        ),
        "readiness": proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY)),
    }


AUTHENTICATED: dict[str, tuple[Call, str]] = {
    "chat": (_chat, "chat"),
    "stream": (_stream, "chat"),
    "embeddings": (_embed, "embeddings"),
    "refresh_models": (_refresh, "model-info"),
    "get_available_models": (_models, "models"),
    "model_health": (_deep_health, "health"),
}


@pytest.mark.parametrize("name", list(AUTHENTICATED))
async def test_key_is_sent_as_bearer_on_authenticated_calls(
    proxy: respx.MockRouter, provider: LiteLLMProvider, name: str
) -> None:
    routes = mock_everything(proxy)
    run, route = AUTHENTICATED[name]
    await run(provider)
    assert routes[route].call_count >= 1
    assert routes[route].calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_health_check_sends_no_key_to_readiness(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    routes = mock_everything(proxy)
    assert await provider.health_check() is True
    assert "authorization" not in routes["readiness"].calls.last.request.headers
    assert routes["models"].calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    "key",
    [None, "", "   ", "\t\n ", SecretStr(""), SecretStr("  ")],
    ids=["none", "empty", "spaces", "whitespace", "secretstr-empty", "secretstr-blank"],
)
@pytest.mark.parametrize("name", list(AUTHENTICATED))
async def test_keyless_provider_sends_no_authorization(
    proxy: respx.MockRouter, key: str | SecretStr | None, name: str
) -> None:
    routes = mock_everything(proxy)
    run, route = AUTHENTICATED[name]
    async with LiteLLMProvider(BASE_URL, key) as keyless:
        assert repr(keyless).endswith("api_key=None)")
        await run(keyless)
    assert routes[route].call_count >= 1
    assert "authorization" not in routes[route].calls.last.request.headers


# ---------------------------------------------------------------------------- redact()


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        (f"key {API_KEY} here", [API_KEY], "key *** here"),
        (f"{API_KEY}{API_KEY}", [API_KEY], "******"),
        ("a sk-1 b sk-2", ["sk-1", "sk-2"], "a *** b ***"),
        ("Received API Key = sk-...9c2a, Key Hash (Token)=abc", [], "Received API Key = ***, Key Hash (Token)=abc"),
        ("received api key=sk-live-1", [], "received api key=***"),
        ("api_key: 'sk-live-1' invalid", [], "api_key: '***' invalid"),
        ('{"api_key": "sk-live-1"}', [], '{"api_key": "***"}'),
        ("API KEY=abc123 rest", [], "API KEY=*** rest"),
        ("Authorization: Bearer abc.def-123", [], "Authorization: Bearer ***"),
        ("bearer xyz, then", [], "Bearer ***, then"),
        ("nothing secret here", ["", None], "nothing secret here"),
        ("nothing secret here", [], "nothing secret here"),
    ],
    ids=[
        "exact-secret",
        "secret-repeated",
        "several-secrets",
        "received-api-key-echo",
        "received-api-key-lower",
        "api_key-colon-quoted",
        "api_key-json",
        "api-key-space-equals",
        "bearer",
        "bearer-lowercase",
        "empty-and-none-secrets-ignored",
        "no-secrets",
    ],
)
def test_redact(text: str, secrets: list[str | None], expected: str) -> None:
    assert redact(text, secrets) == expected
