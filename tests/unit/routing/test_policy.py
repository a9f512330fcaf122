"""``policy.py``: what each error class means for the rest of a route and for the target's state."""

from __future__ import annotations

import pytest

from muxer_litellm import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContextWindowExceededError,
    ModelNotFoundError,
    NotAProxyError,
    ProviderClosedError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    ReplyTooLargeError,
)
from muxer_litellm.routing import ErrorVerdict, error_action, error_verdict
from muxer_litellm.routing.policy import PROVIDER_SCOPED
from tests.unit.routing.helpers import NEXT_ERRORS, SKIP_PROVIDER_ERRORS, STOP_ERRORS

# ---------------------------------------------------------------------------- error_action / fallback rules


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


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        pytest.param(
            RateLimitError("429", retry_after=7), ErrorVerdict("next", "cool_down", 7, "proxy"), id="429-wait"
        ),
        pytest.param(RateLimitError("429"), ErrorVerdict("next", "cool_down", 5.0, "default"), id="429-default-wait"),
        pytest.param(ProviderUnavailableError("502", 502), ErrorVerdict("next", "failure"), id="5xx-counts"),
        pytest.param(ProviderTimeoutError("slow"), ErrorVerdict("next", "failure"), id="timeout-counts"),
        pytest.param(ModelNotFoundError("gone", 404), ErrorVerdict("next", "none"), id="model-scoped"),
        pytest.param(ContextWindowExceededError("long", 400, retryable=True), ErrorVerdict("next", "none"), id="cw"),
        pytest.param(AuthenticationError("key", 401), ErrorVerdict("skip_provider", "none"), id="auth"),
        pytest.param(NotAProxyError("html", 404), ErrorVerdict("skip_provider", "none"), id="not-a-proxy"),
        pytest.param(ProviderClosedError("closed"), ErrorVerdict("skip_provider", "none"), id="closed"),
        pytest.param(BadRequestError("bad", 400), ErrorVerdict("stop", "none"), id="bad-request"),
        pytest.param(
            ReplyTooLargeError("huge", 200, limit="max_chat_reply_bytes", limit_bytes=1024),
            ErrorVerdict("next", "failure"),
            id="reply-too-large-counts",
        ),
    ],
)
def test_error_verdict_says_what_the_route_and_the_targets_state_do(exc: ProviderError, verdict: ErrorVerdict) -> None:
    assert error_verdict(exc, rate_limit_cooldown=5.0) == verdict


def test_provider_scoped_errors_include_the_new_ones() -> None:
    assert {NotAProxyError, ProviderClosedError, AuthenticationError, BudgetExceededError} == set(PROVIDER_SCOPED)
