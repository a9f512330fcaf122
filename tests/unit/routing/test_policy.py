"""``policy.py``: what each error class means for the rest of a route."""

from __future__ import annotations

import pytest

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.routing import error_action

# ---------------------------------------------------------------------------- error_action / fallback rules

NEXT_ERRORS = [
    pytest.param(RateLimitError("slow down"), id="rate-limit"),
    pytest.param(ProviderTimeoutError("timed out"), id="timeout"),
    pytest.param(ProviderUnavailableError("bad gateway", 502), id="unavailable-5xx"),
    pytest.param(ProviderError("flaky upstream", 500, retryable=True), id="retryable-provider-error"),
    pytest.param(ModelNotFoundError("no such model", 404), id="model-not-found"),
    pytest.param(ContextWindowExceededError("too long", 400), id="context-window"),
    pytest.param(ContentPolicyError("flagged", 400), id="content-policy"),
]
SKIP_PROVIDER_ERRORS = [
    pytest.param(AuthenticationError("bad key", 401), id="auth"),
    pytest.param(BudgetExceededError("key budget spent", 400), id="budget"),
]
STOP_ERRORS = [
    pytest.param(BadRequestError("bad request", 400), id="bad-request"),
    pytest.param(ProviderError("teapot", 418), id="plain-provider-error"),
    pytest.param(ProviderError("refused", 500, retryable=False), id="non-retryable-provider-error"),
    pytest.param(BadRequestError("bad but retryable?", 400, retryable=True), id="bad-request-marked-retryable"),
]


@pytest.mark.parametrize(
    ("exc", "action"),
    [
        *[pytest.param(p.values[0], "next", id=p.id) for p in NEXT_ERRORS],
        *[pytest.param(p.values[0], "skip_provider", id=p.id) for p in SKIP_PROVIDER_ERRORS],
        *[pytest.param(p.values[0], "stop", id=p.id) for p in STOP_ERRORS],
    ],
)
def test_error_action_table(exc: ProviderError, action: str) -> None:
    assert error_action(exc) == action
