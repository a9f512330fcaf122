"""Error mapping: every way the proxy (or the network) can fail a call becomes a typed ``ProviderError``
with the right class, ``status_code``, ``retryable``, ``model``, ``call_id``, ``provider`` and a message
that says what the proxy said. The table of replies runs once through the mapping
(``ProxyTransport.status_error``); each endpoint (``chat_completion``, a stream that fails before it
starts, ``/v1/embeddings``) is checked to use it; plus direct tests of ``error_from_body``,
``parse_retry_after`` and the error classes themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    LiteLLMProvider,
    ModelNotFoundError,
    NotAProxyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.host import MessageInput
from muxer_litellm.proxy.headers import parse_retry_after
from muxer_litellm.proxy.replies import error_from_body
from muxer_litellm.proxy.transport import DEFAULT_TIMEOUT, ProxyTransport, Reply
from tests.unit.replies import API_KEY, BASE_URL, error_body

MODEL = "gpt-test"
CALL_ID = "call-err-7f3"
HELLO: list[MessageInput] = [{"role": "user", "content": "hello"}]
CHAT_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}

#: What a host may retry (or fall back on), per class.
RETRYABLE: dict[type[ProviderError], bool] = {
    ProviderError: False,
    AuthenticationError: False,
    BadRequestError: False,
    ModelNotFoundError: False,
    ContextWindowExceededError: False,
    ContentPolicyError: False,
    BudgetExceededError: False,
    NotAProxyError: False,
    RateLimitError: True,
    ProviderTimeoutError: True,
    ProviderUnavailableError: True,
}

# ---------------------------------------------------------------------------- calling the provider three ways

Call = Callable[[LiteLLMProvider], Awaitable[None]]


async def _chat(provider: LiteLLMProvider) -> None:
    await provider.chat_completion(HELLO, MODEL)


async def _stream(provider: LiteLLMProvider) -> None:
    async for _ in provider.stream_chat_completion(HELLO, MODEL):
        pass


async def _embed(provider: LiteLLMProvider) -> None:
    await provider.embeddings("hello", MODEL)


#: (call, the path it POSTs to)
KINDS: dict[str, tuple[Call, str]] = {
    "chat": (_chat, "/v1/chat/completions"),
    "stream": (_stream, "/v1/chat/completions"),
    "embeddings": (_embed, "/v1/embeddings"),
}


def route_for(proxy: respx.MockRouter, kind: str) -> respx.Route:
    return proxy.post(KINDS[kind][1])


async def call(provider: LiteLLMProvider, kind: str) -> None:
    await KINDS[kind][0](provider)


# ---------------------------------------------------------------------------- HTTP error replies


@dataclass(frozen=True)
class Case:
    """One error reply: ``body`` bytes go out verbatim as text/plain, anything else as JSON."""

    status: int
    body: Any
    error: type[ProviderError]
    says: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)


def reply(case: Case) -> httpx.Response:
    headers = {"x-litellm-call-id": CALL_ID, **case.headers}
    if isinstance(case.body, bytes):
        return httpx.Response(case.status, content=case.body, headers={"content-type": "text/plain", **headers})
    return httpx.Response(case.status, json=case.body, headers=headers)


INVALID_MODEL = "/chat/completions: Invalid model name passed in model=x. Call `/v1/models` to view available models"
CONTEXT = (
    "litellm.ContextWindowExceededError: litellm.BadRequestError: This model's maximum context length "
    "is 8192 tokens. However, your messages resulted in 9001 tokens."
)
POLICY = "litellm.ContentPolicyViolationError: The response was filtered due to the prompt triggering a policy."
BUDGET = "Budget has been exceeded! Current cost: 1.25, Max budget: 1.0"

CASES: dict[str, Case] = {
    "401": Case(
        401,
        error_body("Authentication Error, invalid token", "auth_error", "401"),
        AuthenticationError,
        ("invalid token",),
    ),
    "403": Case(
        403, error_body("key not allowed to access model", "auth_error", "403"), AuthenticationError, ("not allowed",)
    ),
    "400-no-db-type": Case(
        400,
        error_body("No connected db.", "no_db_connection", "400"),
        AuthenticationError,
        ("LITELLM_API_KEY", "master_key", "no_db_connection", "No connected db."),
    ),
    "400-no-db-code": Case(
        400,
        error_body("No connected db.", None, "no_db_connection"),
        AuthenticationError,
        ("LITELLM_API_KEY", "master_key", "No connected db."),
    ),
    "404": Case(404, error_body("model gpt-x does not exist", None, "404"), ModelNotFoundError, ("gpt-x",)),
    "400-invalid-model-name": Case(
        400, error_body(INVALID_MODEL, "invalid_request_error", "400"), ModelNotFoundError, ("model=x",)
    ),
    "429-no-header": Case(429, error_body("Rate limit reached", None, "429"), RateLimitError, ("Rate limit reached",)),
    "400-context-window": Case(
        400, error_body(CONTEXT, None, "400"), ContextWindowExceededError, ("maximum context length is 8192",)
    ),
    "400-context-code": Case(
        400,
        error_body("too many tokens", "invalid_request_error", "context_length_exceeded"),
        ContextWindowExceededError,
        ("too many tokens",),
    ),
    "400-content-policy": Case(400, error_body(POLICY, None, "400"), ContentPolicyError, ("policy",)),
    "400-content-policy-code": Case(
        400,
        error_body("flagged", "invalid_request_error", "content_policy_violation"),
        ContentPolicyError,
        ("flagged",),
    ),
    # LiteLLM 1.74: the refusal is a plain 400, the upstream's code only inside the message.
    "400-content-policy-1.74": Case(
        400,
        error_body(
            "litellm.BadRequestError: OpenAIException - Your request was rejected as a result of our safety "
            "system. content_policy_violation. Received Model Group=policy-chat",
            None,
            "400",
        ),
        ContentPolicyError,
        ("safety system",),
    ),
    "budget-type": Case(
        400, error_body("over budget for key", "budget_exceeded", "400"), BudgetExceededError, ("over budget",)
    ),
    "budget-message": Case(400, error_body(BUDGET, None, "400"), BudgetExceededError, ("Max budget: 1.0",)),
    "budget-code": Case(400, error_body("spend limit", None, "budget_exceeded"), BudgetExceededError, ("spend limit",)),
    "429-budget": Case(429, error_body(BUDGET, "budget_exceeded", "429"), BudgetExceededError, ("Current cost",)),
    "408": Case(408, error_body("Request timed out", None, "408"), ProviderTimeoutError, ("Request timed out",)),
    "504": Case(504, error_body("upstream timed out", None, "504"), ProviderTimeoutError, ("upstream timed out",)),
    "500": Case(500, error_body("upstream exploded", None, "500"), ProviderUnavailableError, ("upstream exploded",)),
    "502": Case(502, error_body("bad gateway", None, "502"), ProviderUnavailableError, ("bad gateway",)),
    "503": Case(503, error_body("no healthy deployments", None, "503"), ProviderUnavailableError, ("no healthy",)),
    "400-generic": Case(
        400, error_body("temperature must be <= 2", "invalid_request_error", "400"), BadRequestError, ("<= 2",)
    ),
    "413": Case(413, error_body("payload too large", None, "413"), BadRequestError, ("payload too large",)),
    "422": Case(422, error_body("unprocessable messages", None, "422"), BadRequestError, ("unprocessable",)),
    "418-odd-status": Case(418, error_body("I'm a teapot", None, "418"), ProviderError, ("teapot", "418")),
    "500-plain-text": Case(500, b"Internal Server Error", ProviderUnavailableError, ("Internal Server Error",)),
    "500-empty-body": Case(500, b"", ProviderUnavailableError, ("(empty body)",)),
    "400-empty-body": Case(400, b"", BadRequestError, ("(empty body)",)),
    "json-list": Case(500, [{"oops": "worker crashed"}], ProviderUnavailableError, ("worker crashed",)),
    "json-string": Case(503, "proxy is overloaded", ProviderUnavailableError, ("proxy is overloaded",)),
    # FastAPI's routing 404 (a wrong path on the proxy's app) and other servers' pages are not a
    # missing model: the whole URL serves no LiteLLM API.
    "detail-string": Case(404, {"detail": "Not Found"}, NotAProxyError, ("no LiteLLM API at", "Not Found")),
    "404-html": Case(
        404,
        b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
        NotAProxyError,
        ("no LiteLLM API at http://proxy.test:4000/v1/", "is LITELLM_BASE_URL the proxy's root?"),
    ),
    "501-static-server": Case(501, b"Unsupported method ('POST')", NotAProxyError, ("no LiteLLM API at", "501")),
    "405-plain": Case(405, b"Method Not Allowed", NotAProxyError, ("no LiteLLM API at",)),
    "detail-list": Case(
        422,
        {"detail": [{"loc": ["body", "messages"], "msg": "field required"}]},
        BadRequestError,
        ("field required",),
    ),
    "error-string": Case(401, {"error": "Invalid proxy server token"}, AuthenticationError, ("Invalid proxy server",)),
    "error-string-invalid-model": Case(
        400, {"error": "Invalid model name passed in model=x"}, ModelNotFoundError, ("model=x",)
    ),
    "error-without-message": Case(
        500, {"error": {"type": "internal_failure", "code": "500"}}, ProviderUnavailableError, ("internal_failure",)
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_error_reply_maps_to_typed_error(case: Case) -> None:
    transport = ProxyTransport(BASE_URL, SecretStr(API_KEY), timeout=DEFAULT_TIMEOUT)
    response = reply(case)
    response.request = httpx.Request("POST", f"{BASE_URL}/v1/chat/completions")
    err = transport.status_error(Reply(response, response.content), MODEL)
    await transport.aclose()
    assert type(err) is case.error
    assert err.status_code == case.status
    assert err.retryable is RETRYABLE[case.error]
    assert err.model == MODEL
    assert err.call_id == CALL_ID
    assert err.provider == "litellm"
    for fragment in case.says:
        assert fragment in str(err)


@pytest.mark.parametrize("case_id", ["404", "detail-string", "503"])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_endpoint_maps_its_error_replies(
    proxy: respx.MockRouter, provider: LiteLLMProvider, case_id: str, kind: str
) -> None:
    case = CASES[case_id]
    route_for(proxy, kind).mock(return_value=reply(case))
    with pytest.raises(ProviderError) as caught:
        await call(provider, kind)
    err = caught.value
    assert type(err) is case.error
    assert (err.status_code, err.model, err.call_id, err.retryable) == (
        case.status,
        MODEL,
        CALL_ID,
        RETRYABLE[case.error],
    )
    if case.error is NotAProxyError:
        assert f"no LiteLLM API at {BASE_URL}{KINDS[kind][1]}" in str(err)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"llm_provider-retry-after": "7"}, 7.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # an HTTP date in the past: retry now
        ({"retry-after": "soon-ish"}, None),
        ({}, None),
    ],
    ids=["retry-after", "retry-after-ms", "llm_provider-retry-after", "http-date-past", "unparsable", "no-header"],
)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_rate_limit_reads_retry_after(
    proxy: respx.MockRouter, provider: LiteLLMProvider, kind: str, headers: dict[str, str], expected: float | None
) -> None:
    body = error_body("litellm.RateLimitError: Rate limit reached for gpt-test", None, "429")
    route_for(proxy, kind).mock(
        return_value=httpx.Response(429, json=body, headers={"x-litellm-call-id": CALL_ID, **headers})
    )
    with pytest.raises(RateLimitError) as caught:
        await call(provider, kind)
    err = caught.value
    assert err.retry_after == expected
    assert err.status_code == 429
    assert err.retryable is True
    assert err.model == MODEL
    assert err.call_id == CALL_ID
    assert "rate limited" in str(err)
    assert "Rate limit reached for gpt-test" in str(err)


async def test_error_without_call_id_header_has_none(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(503, json=error_body("down", None, "503")))
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert caught.value.call_id is None
    assert caught.value.model == MODEL


# ---------------------------------------------------------------------------- the keyless plain-text 500


@pytest.mark.parametrize("kind", list(KINDS))
async def test_keyless_provider_plain_500_hints_at_api_key(proxy: respx.MockRouter, kind: str) -> None:
    route_for(proxy, kind).mock(return_value=httpx.Response(500, text="Internal Server Error"))
    async with LiteLLMProvider(BASE_URL) as keyless:
        with pytest.raises(ProviderUnavailableError) as caught:
            await call(keyless, kind)
    message = str(caught.value)
    assert "LITELLM_API_KEY" in message
    assert "Internal Server Error" in message
    assert caught.value.status_code == 500
    # No key will still be no key on the next try: retrying cannot heal it.
    assert caught.value.retryable is False


@pytest.mark.parametrize("kind", list(KINDS))
async def test_keyed_provider_plain_500_does_not_blame_the_key(
    proxy: respx.MockRouter, provider: LiteLLMProvider, kind: str
) -> None:
    route_for(proxy, kind).mock(return_value=httpx.Response(500, text="Internal Server Error"))
    with pytest.raises(ProviderUnavailableError) as caught:
        await call(provider, kind)
    assert "Internal Server Error" in str(caught.value)
    assert "LITELLM_API_KEY" not in str(caught.value)
    assert caught.value.retryable is True


@pytest.mark.parametrize("kind", list(KINDS))
async def test_keyless_provider_generic_json_500_without_a_call_hints_at_api_key(
    proxy: respx.MockRouter, kind: str
) -> None:
    # LiteLLM 1.102: a keyless request to a proxy with a master_key, refused before any model call.
    body = {"error": {"message": "Internal server error", "type": "internal_server_error"}}
    route_for(proxy, kind).mock(return_value=httpx.Response(500, json=body))
    async with LiteLLMProvider(BASE_URL) as keyless:
        with pytest.raises(ProviderUnavailableError) as caught:
            await call(keyless, kind)
    assert str(caught.value).endswith("Internal server error (no API key is set: set LITELLM_API_KEY)")
    assert caught.value.retryable is False


async def test_keyless_provider_generic_json_500_of_a_model_call_does_not_blame_the_key(
    proxy: respx.MockRouter,
) -> None:
    body = {"error": {"message": "Internal server error", "type": "internal_server_error"}}
    reply = httpx.Response(500, json=body, headers={"x-litellm-call-id": "call-1"})
    proxy.post("/v1/chat/completions").mock(return_value=reply)
    async with LiteLLMProvider(BASE_URL) as keyless:
        with pytest.raises(ProviderUnavailableError) as caught:
            await keyless.chat_completion(HELLO, MODEL)
    assert "LITELLM_API_KEY" not in str(caught.value)
    assert caught.value.retryable is True


async def test_keyless_provider_json_500_gets_no_key_hint(proxy: respx.MockRouter) -> None:
    body = error_body("upstream exploded", None, "500")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(500, json=body))
    async with LiteLLMProvider(BASE_URL) as keyless:
        with pytest.raises(ProviderUnavailableError) as caught:
            await keyless.chat_completion(HELLO, MODEL)
    assert "upstream exploded" in str(caught.value)
    assert "LITELLM_API_KEY" not in str(caught.value)


# ---------------------------------------------------------------------------- transport failures


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("All connection attempts failed"), ProviderUnavailableError),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), ProviderUnavailableError),
        (httpx.ConnectTimeout("timed out while connecting"), ProviderTimeoutError),
        (httpx.ReadTimeout("timed out while reading"), ProviderTimeoutError),
        (httpx.PoolTimeout("no free connection"), ProviderTimeoutError),
    ],
    ids=["connect-error", "remote-protocol-error", "connect-timeout", "read-timeout", "pool-timeout"],
)
async def test_transport_failure_maps_to_retryable_error(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    exc: httpx.HTTPError,
    expected: type[ProviderError],
) -> None:
    route = route_for(proxy, "chat").mock(side_effect=exc)
    with pytest.raises(ProviderError) as caught:
        await call(provider, "chat")
    # Only a connection that could not be opened is tried again: the proxy never saw it.
    assert route.call_count == (2 if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)) else 1)
    err = caught.value
    assert type(err) is expected
    assert err.status_code is None
    assert err.retryable is True
    assert err.model == MODEL
    assert err.call_id is None
    assert err.provider == "litellm"
    assert BASE_URL in str(err)
    assert type(exc).__name__ in str(err)
    assert str(exc) in str(err)
    assert err.__cause__ is exc
    assert err.__suppress_context__ is True


@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_endpoint_maps_transport_failures(
    proxy: respx.MockRouter, provider: LiteLLMProvider, kind: str
) -> None:
    route_for(proxy, kind).mock(side_effect=httpx.ReadTimeout("timed out while reading"))
    with pytest.raises(ProviderTimeoutError) as caught:
        await call(provider, kind)
    assert caught.value.model == MODEL
    assert caught.value.retryable is True


async def test_a_refused_connection_is_tried_once_more_and_can_recover(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = proxy.post("/v1/chat/completions").mock(
        side_effect=[
            httpx.ConnectError("[Errno 111] Connection refused"),
            httpx.Response(200, json=CHAT_REPLY, headers={"x-litellm-response-cost": "0.001"}),
        ]
    )
    response = await provider.chat_completion(HELLO, MODEL)
    assert response.choices[0].message.content == "ok"
    assert route.call_count == 2


async def test_connect_error_says_proxy_not_reachable(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    proxy.post("/v1/chat/completions").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert f"not reachable at {BASE_URL}" in str(caught.value)
    assert "Connection refused" in str(caught.value)


async def test_timeout_says_no_answer_in_time(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    proxy.post("/v1/chat/completions").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(ProviderTimeoutError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert f"LiteLLM proxy at {BASE_URL} did not answer in time" in str(caught.value)


# ---------------------------------------------------------------------------- 2xx replies that are not JSON objects


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html><body>Welcome to nginx</body></html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json=[{"id": "chatcmpl-1"}]),
        httpx.Response(200, json="ok"),
        httpx.Response(200, content=b""),
    ],
    ids=["html", "json-list", "json-string", "empty"],
)
@pytest.mark.parametrize("kind", ["chat", "embeddings"])
async def test_2xx_body_that_is_not_a_json_object_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, kind: str, response: httpx.Response
) -> None:
    response.headers["x-litellm-call-id"] = CALL_ID
    route_for(proxy, kind).mock(return_value=response)
    with pytest.raises(ProviderError) as caught:
        await call(provider, kind)
    err = caught.value
    assert type(err) is ProviderError
    assert "not a JSON object" in str(err)
    assert KINDS[kind][1] in str(err)
    assert err.status_code == 200
    assert err.retryable is False
    assert err.model == MODEL
    assert err.call_id == CALL_ID


async def test_2xx_html_names_its_content_type(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    html = httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html; charset=utf-8"})
    proxy.post("/v1/chat/completions").mock(return_value=html)
    with pytest.raises(ProviderError) as caught:
        await provider.chat_completion(HELLO, MODEL)
    assert "text/html" in str(caught.value)
    assert "<html>login</html>" in str(caught.value)


async def test_stream_answered_with_html_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    html = httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"})
    proxy.post("/v1/chat/completions").mock(return_value=html)
    with pytest.raises(ProviderError) as caught:
        await _stream(provider)
    assert type(caught.value) is ProviderError
    assert "without an event stream" in str(caught.value)
    assert caught.value.status_code == 200
    assert caught.value.model == MODEL


# ---------------------------------------------------------------------------- error_from_body directly


@pytest.mark.parametrize(
    ("code", "expected", "status"),
    [
        ("429", RateLimitError, 429),
        ("401", AuthenticationError, 401),
        ("404", ModelNotFoundError, 404),
        ("504", ProviderTimeoutError, 504),
        ("400", BadRequestError, 400),
        (None, ProviderUnavailableError, 500),
        ("not-a-status", ProviderUnavailableError, 500),
        ("999", ProviderUnavailableError, 500),
    ],
    ids=["429", "401", "404", "504", "400", "code-missing", "code-not-numeric", "code-out-of-range"],
)
def test_stream_frame_status_comes_from_its_code(code: str | None, expected: type[ProviderError], status: int) -> None:
    frame = {"error": {"message": "upstream said no", "type": None, "code": code}}
    err = error_from_body(None, frame, model=MODEL, call_id=CALL_ID, mid_stream=True)
    assert type(err) is expected
    assert err.status_code == status
    assert err.retryable is RETRYABLE[expected]
    assert err.model == MODEL
    assert err.call_id == CALL_ID
    assert err.error_code == code
    assert "upstream said no" in str(err)


def test_mid_stream_message_has_mid_stream_prefix() -> None:
    frame = {"error": {"message": "litellm.APIError: connection reset", "type": None, "code": "500"}}
    err = error_from_body(None, frame, mid_stream=True)
    assert str(err).startswith("mid-stream error from LiteLLM proxy: ")
    assert "connection reset" in str(err)


def test_http_error_message_names_the_status() -> None:
    err = error_from_body(503, error_body("overloaded", None, "503"))
    assert str(err).startswith("LiteLLM proxy returned 503: ")
    assert err.provider == "litellm"


def test_mid_stream_rate_limit_has_no_retry_after_without_headers() -> None:
    err = error_from_body(None, {"error": {"message": "slow down", "type": None, "code": "429"}}, mid_stream=True)
    assert isinstance(err, RateLimitError)
    assert err.retry_after is None


def test_error_keeps_type_and_code_from_body() -> None:
    err = error_from_body(400, error_body("bad", "invalid_request_error", "400"))
    assert err.error_type == "invalid_request_error"
    assert err.error_code == "400"


def test_long_message_is_capped() -> None:
    err = error_from_body(400, error_body("x" * 5000, "invalid_request_error", "400"))
    assert "x" * 1000 in str(err)
    assert "x" * 1001 not in str(err)


# ---------------------------------------------------------------------------- parse_retry_after directly

HTTP_DATE = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "7"}, 1.5),
        ({"retry-after": "7", "llm_provider-retry-after": "3"}, 7.0),
        ({"llm_provider-retry-after-ms": "250", "llm_provider-retry-after": "3"}, 0.25),
        ({"Retry-After": "7"}, 7.0),
        ({"RETRY-AFTER-MS": "2000"}, 2.0),
        ({"LLM_Provider-Retry-After": "4"}, 4.0),
        ({"retry-after": " 7 "}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after-ms": "-100"}, 0.0),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "-inf"}, None),
        ({"retry-after": "nan", "llm_provider-retry-after": "4"}, 4.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"x-other": "7"}, None),
        ({}, None),
    ],
    ids=[
        "ms-beats-seconds",
        "retry-after-beats-llm-provider",
        "llm-provider-ms-beats-seconds",
        "mixed-case",
        "upper-case-ms",
        "mixed-case-llm-provider",
        "whitespace",
        "fractional",
        "negative-is-zero",
        "negative-ms-is-zero",
        "nan-ignored",
        "inf-ignored",
        "minus-inf-ignored",
        "nan-falls-through",
        "unparsable",
        "ms-never-a-date",
        "unrelated-header",
        "empty",
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=HTTP_DATE.timestamp()) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (HTTP_DATE - timedelta(seconds=30), 30.0),
        (HTTP_DATE - timedelta(minutes=2, seconds=5), 125.0),
        (HTTP_DATE, 0.0),
        (HTTP_DATE + timedelta(seconds=10), 0.0),
    ],
    ids=["30s-ahead", "125s-ahead", "now", "past"],
)
def test_parse_retry_after_http_date(now: datetime, expected: float) -> None:
    headers = {"retry-after": format_datetime(HTTP_DATE, usegmt=True)}
    assert headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_retry_after(headers, now=now.timestamp()) == expected


# ---------------------------------------------------------------------------- the error classes


@pytest.mark.parametrize("cls", list(RETRYABLE), ids=[c.__name__ for c in RETRYABLE])
def test_error_class_defaults(cls: type[ProviderError]) -> None:
    assert issubclass(cls, ProviderError)
    assert issubclass(cls, Exception)
    err = cls("something failed", provider="litellm", model="m1", call_id="c1")
    assert err.retryable is RETRYABLE[cls]
    assert err.message == "something failed"
    assert str(err) == "something failed"
    assert err.provider == "litellm"
    assert err.model == "m1"
    assert err.call_id == "c1"


@pytest.mark.parametrize("cls", list(RETRYABLE), ids=[c.__name__ for c in RETRYABLE])
def test_retryable_can_be_overridden(cls: type[ProviderError]) -> None:
    flipped = not RETRYABLE[cls]
    assert cls("x", retryable=flipped).retryable is flipped


def test_rate_limit_error_defaults_to_status_429() -> None:
    err = RateLimitError("slow down")
    assert err.status_code == 429
    assert err.retry_after is None
    assert err.retryable is True


def test_rate_limit_error_keeps_retry_after() -> None:
    assert RateLimitError("slow down", retry_after=2.5).retry_after == 2.5


def test_positional_arguments_follow_the_host_contract() -> None:
    err = ProviderError("boom", 502, "litellm")
    assert (err.message, err.status_code, err.provider) == ("boom", 502, "litellm")
    assert err.model is None
    assert err.call_id is None


@pytest.mark.parametrize(
    "err",
    [
        RateLimitError("slow down", provider="litellm", model="m1", call_id="c1", retry_after=2.0),
        ContextWindowExceededError("too long", 400, "litellm", model="m1", call_id="c1"),
    ],
    ids=["rate-limit", "context-window"],
)
def test_repr_names_class_and_fields(err: ProviderError) -> None:
    text = repr(err)
    assert text.startswith(f"{type(err).__name__}(")
    assert f"message={err.message!r}" in text
    assert f"status_code={err.status_code!r}" in text
    assert "provider='litellm'" in text
    assert "model='m1'" in text
    assert "call_id='c1'" in text
    assert f"retryable={RETRYABLE[type(err)]!r}" in text
