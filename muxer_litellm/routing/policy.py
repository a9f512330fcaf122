"""The error policy: what a failed target means for the rest of the route and for routing state.

One policy, read by every strategy (combos, heuristic fallbacks, cascade steps, streams):

- ``RateLimitError`` (429): try the next target; the target waits ``retry_after`` seconds
  (else ``rate_limit_cooldown``; the attempt says which, see ``ErrorVerdict.wait_source``).
- Any other retryable error (timeout, 5xx, connection failure): try the next target; the
  failure counts toward the target's breaker.
- ``ModelNotFoundError``, ``ContextWindowExceededError``, ``ContentPolicyError``: about this
  model only, so try the next target (even of the same provider); the target's state is unchanged.
- ``AuthenticationError``, ``BudgetExceededError``, ``NotAProxyError``, ``ProviderClosedError``:
  about the provider (its key, budget, URL, closed client), so skip its other targets but try
  other providers; state unchanged.
- ``BadRequestError``: the request itself is wrong; stop and raise it.
- Any other non-retryable error (a malformed or non-JSON reply, a bare 500 to a provider with no
  key): the provider cannot serve as it is, but the request may be fine; skip its other targets,
  try other providers; state unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    ModelNotFoundError,
    NotAProxyError,
    ProviderClosedError,
    ProviderError,
    RateLimitError,
)

__all__ = [
    "MODEL_SCOPED",
    "PROVIDER_SCOPED",
    "ErrorAction",
    "ErrorVerdict",
    "StateEffect",
    "WaitSource",
    "error_action",
    "judge",
]

ErrorAction = Literal["next", "skip_provider", "stop"]
StateEffect = Literal["cool_down", "failure", "none"]
WaitSource = Literal["proxy", "default"]

#: Errors about the provider (its key, budget, URL or client), not the model: skip its other targets.
PROVIDER_SCOPED: tuple[type[ProviderError], ...] = (
    AuthenticationError,
    BudgetExceededError,
    NotAProxyError,
    ProviderClosedError,
)
#: Errors about this model only: another model, even of the same provider, may serve.
MODEL_SCOPED: tuple[type[ProviderError], ...] = (ModelNotFoundError, ContextWindowExceededError, ContentPolicyError)


@dataclass(frozen=True, slots=True)
class ErrorVerdict:
    """``action`` for the route; ``effect`` on the target's state, with ``wait`` seconds for a cooldown."""

    action: ErrorAction
    effect: StateEffect
    wait: float | None = None
    #: Where ``wait`` came from: the proxy's reply (``retry-after``), or ``rate_limit_cooldown``
    #: when the reply named no wait (older LiteLLM proxies pass none on an upstream's 429).
    wait_source: WaitSource | None = None


def error_action(exc: ProviderError) -> ErrorAction:
    """What a failed target means for the rest of the route (see the module's table).

    ``next``: another target may succeed (retryable, or scoped to this model).
    ``skip_provider``: this provider refused our credentials or budget, or is not usable at all;
    its other models would fail alike, but another provider has its own. ``stop``: the request
    itself is wrong.
    """
    if isinstance(exc, PROVIDER_SCOPED):
        return "skip_provider"
    if isinstance(exc, MODEL_SCOPED):
        return "next"
    if isinstance(exc, BadRequestError):
        return "stop"
    return "next" if exc.retryable else "skip_provider"


def judge(exc: ProviderError, *, rate_limit_cooldown: float) -> ErrorVerdict:
    """The route action and the state effect of ``exc`` (see the module's table)."""
    action = error_action(exc)
    if isinstance(exc, RateLimitError):
        if exc.retry_after is not None:
            return ErrorVerdict(action, "cool_down", exc.retry_after, "proxy")
        return ErrorVerdict(action, "cool_down", rate_limit_cooldown, "default")
    if exc.retryable and not isinstance(exc, MODEL_SCOPED + PROVIDER_SCOPED):
        return ErrorVerdict(action, "failure")
    return ErrorVerdict(action, "none")
