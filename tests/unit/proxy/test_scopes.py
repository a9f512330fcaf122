"""Whom a proxy error concerns (``proxy/scopes.py``'s table), one reply at a time: the body and
headers each limiter of litellm 1.106-1.108 really sends, through the provider (respx), with
absent and malformed headers. A scope the wording does not give stays None (today's routing)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import BudgetExceededError, LiteLLMProvider, ProviderError, RateLimitError
from muxer_litellm.proxy.replies import error_from_body
from muxer_litellm.proxy.scopes import RULES, scope_of
from tests.unit.replies import error_body

MESSAGES = [{"role": "user", "content": "hi"}]
KEY_HASH = "9b93a6694d4998fbcda12eca79fabf88d913b34f7c1472defeafd992fb4c0c7a"
V3_HEADERS = {"retry-after": "60", "rate_limit_type": "requests", "reset_at": "2026-12-06 01:36:24 UTC"}


def v3(descriptor: str, value: str = KEY_HASH) -> str:
    return (
        f"Rate limit exceeded for {descriptor}: {value}. Limit type: requests. Current limit: 2, Remaining: 0. "
        "Limit resets at: 2026-12-06 01:36:24 UTC"
    )


def older(kind: str) -> str:
    return (
        f"LiteLLM Rate Limit Handler for rate limit type = {kind}. Crossed TPM / RPM / Max Parallel Request "
        "Limit. current rpm: 3, rpm limit: 2, current tpm: 0, tpm limit: 100, current max_parallel_requests: 0"
    )


UPSTREAM = "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for gpt-4o-mini"
NO_DEPLOYMENTS = (
    "litellm.RateLimitError: No deployments available for selected model. Passed model=rpm-chat. "
    "Deployments={'1c97': {'current_tpm': 30, 'tpm_limit': inf, 'current_rpm': 1, 'rpm_limit': 1}}"
)
OVER_RPM = "Deployment over defined rpm limit=1. current usage=1"

# (status, message, type, code, headers) -> (error class, scope, entity)
RATE_LIMITS = [
    pytest.param(v3("api_key"), V3_HEADERS, "tenant", "api_key", id="v3-key"),
    pytest.param(v3("team", "team-1"), V3_HEADERS, "tenant", "team", id="v3-team"),
    pytest.param(v3("user", "u-1"), V3_HEADERS, "tenant", "user", id="v3-user"),
    pytest.param(v3("end_user", "eu-1"), V3_HEADERS, "tenant", "end_user", id="v3-end-user"),
    pytest.param(v3("model_per_key", f"{KEY_HASH}:gpt"), V3_HEADERS, "tenant_model", "model_per_key", id="v3-model"),
    pytest.param(v3("model_per_team", "t:gpt"), V3_HEADERS, "tenant_model", "model_per_team", id="v3-team-model"),
    pytest.param(v3("tag", "batch"), V3_HEADERS, "tenant", "tag", id="v3-tag"),
    pytest.param(v3("api_key"), {}, "tenant", "api_key", id="v3-without-headers"),
    pytest.param(older("key"), {"retry-after": "60"}, "tenant", "key", id="older-key"),
    pytest.param(older("customer"), {}, "tenant", "customer", id="older-customer"),
    pytest.param(older("model_per_key"), {}, "tenant_model", "model_per_key", id="older-model"),
    pytest.param(UPSTREAM, {"llm_provider-retry-after": "7"}, "deployment", None, id="upstream-429"),
    pytest.param(NO_DEPLOYMENTS, {"llm_provider-retry-after": "60"}, "deployment", None, id="no-deployments"),
    pytest.param(OVER_RPM, {}, "deployment", None, id="deployment-rpm"),
    # The v3 limiter's headers alone (wording changed): a tenant limit of unknown kind.
    pytest.param("Too many requests", V3_HEADERS, "tenant", None, id="v3-headers-only"),
    # Nothing says: today's behaviour (the target cools for everyone).
    pytest.param("Too many requests", {}, None, None, id="unknown"),
    pytest.param("Too many requests", {"rate_limit_type": "requests"}, None, None, id="half-the-v3-headers"),
    pytest.param(
        "Too many requests", {**V3_HEADERS, "llm_provider-x": "1"}, None, None, id="v3-headers-from-an-upstream"
    ),
]

BUDGETS = [
    pytest.param(
        "Budget has been exceeded! Key=sk-...abcd Current cost: 1.2, Max budget: 1.0", "tenant", "key", id="key"
    ),
    pytest.param("Budget has been exceeded! Team=team-1 Current cost: 5, Max budget: 4", "tenant", "team", id="team"),
    pytest.param(
        "Budget has been exceeded! User=u-1 in Team=team-1 Current cost: 2, Max budget: 1",
        "tenant",
        "team",
        id="team-member",
    ),
    pytest.param("ExceededBudget: User=u-1 over budget. Spend=3, Budget=2", "tenant", "user", id="user"),
    pytest.param("ExceededBudget: End User=eu-9 over budget. Spend=3, Budget=2", "tenant", "end user", id="end-user"),
    pytest.param("ExceededBudget: Key over 1d budget. Spend=3, Budget=2", "tenant", "key", id="key-window"),
    pytest.param(
        "Budget has been exceeded! Model access group=fast Current cost: 3, Max budget: 2",
        "proxy",
        "model access group",
        id="model-access-group",
    ),
    pytest.param("Budget has been exceeded! Current cost: 101, Max budget: 100", "proxy", None, id="proxy-wide"),
]


@pytest.mark.parametrize(("message", "headers", "scope", "entity"), RATE_LIMITS)
async def test_a_429_reply_is_scoped_by_its_wording(
    proxy: respx.MockRouter, provider: LiteLLMProvider, message: str, headers: dict[str, str], scope: Any, entity: Any
) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(429, json=error_body(message, "throttling_error", "429"), headers=headers)
    )
    with pytest.raises(RateLimitError) as caught:
        await provider.chat_completion(MESSAGES, "m")
    assert (caught.value.scope, caught.value.entity) == (scope, entity)
    assert caught.value.retryable


@pytest.mark.parametrize(("message", "scope", "entity"), BUDGETS)
async def test_a_budget_reply_is_scoped_by_the_entity_it_names(
    proxy: respx.MockRouter, provider: LiteLLMProvider, message: str, scope: Any, entity: Any
) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(422, json=error_body(message, "budget_exceeded", "422"))
    )
    with pytest.raises(BudgetExceededError) as caught:
        await provider.chat_completion(MESSAGES, "m")
    assert (caught.value.scope, caught.value.entity) == (scope, entity)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"retry-after": "soon", "rate_limit_type": "", "reset_at": "\x7f"}, id="garbage"),
        pytest.param({"retry-after": "-5"}, id="negative-wait"),
        pytest.param({"retry-after": "nan"}, id="nan-wait"),
        pytest.param({}, id="absent"),
    ],
)
async def test_malformed_or_absent_headers_are_ignored_never_an_exception(
    proxy: respx.MockRouter, provider: LiteLLMProvider, headers: dict[str, str]
) -> None:
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(429, json=error_body(v3("api_key"), "throttling_error", "429"), headers=headers)
    )
    with pytest.raises(RateLimitError) as caught:
        await provider.chat_completion(MESSAGES, "m")
    assert caught.value.scope == "tenant"
    assert caught.value.retry_after is None or caught.value.retry_after >= 0


def test_a_scoped_error_in_a_stream_frame_or_a_non_json_body() -> None:
    frame = {"error": {"message": v3("api_key"), "type": "throttling_error", "code": "429"}}
    error = error_from_body(None, frame, mid_stream=True)
    assert isinstance(error, RateLimitError)
    assert error.scope == "tenant"
    plain = error_from_body(429, None, "upstream says slow down", headers={})
    assert isinstance(plain, RateLimitError)
    assert plain.scope is None


def test_other_errors_carry_no_scope() -> None:
    error = error_from_body(500, {"error": {"message": v3("api_key")}}, "")
    assert isinstance(error, ProviderError)
    assert error.scope is None


def test_every_rule_of_the_table_is_exercised_above() -> None:
    exercised = set()
    for param in [*RATE_LIMITS]:
        message, headers = param.values[0], param.values[1]
        found = scope_of("rate_limit", str(message), dict(headers))  # type: ignore[call-overload]
        if found is not None:
            exercised.add(found.rule)
    for param in BUDGETS:
        found = scope_of("budget", str(param.values[0]))
        if found is not None:
            exercised.add(found.rule)
    assert {rule.name for rule in RULES} <= exercised
