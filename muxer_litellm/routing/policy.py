"""The error policy: what a failed target means for the rest of the route and for routing state.

One policy, read by every strategy (combos, heuristic fallbacks, cascade steps, streams):

- ``RateLimitError`` (429): try the next target; the target waits ``retry_after`` seconds
  (else ``rate_limit_cooldown``).
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

Errors scoped to one tenant (``ProviderError.scope``, read from the proxy's wording by
``proxy/scopes.py``) never change any other tenant's routing:

- a 429 of a limit over every model (the tenant's key, team, user, end user: ``tenant``): skip
  the provider's other targets; *this tenant* waits on the provider (``cool_tenant``);
- a 429 of a per-model limit of the tenant's key (``tenant_model``): try the next target; this
  tenant waits on this target (``cool_tenant_target``);
- ``TenantBusyError`` (the provider's in-flight cap for the tenant): skip the provider; no state;
- a tenant's ``BudgetExceededError``: stop (nothing this tenant may call on the proxy will be
  answered), or skip the provider when ``tenant_budget_fallback`` lets other providers answer;
- model- and deployment-scoped 429s (an upstream's, a deployment's own rpm) cool the target for
  everyone, as before; so does a 429 whose scope is unknown.
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
    TenantBusyError,
)

__all__ = [
    "MODEL_SCOPED",
    "PROVIDER_SCOPED",
    "ErrorAction",
    "ErrorVerdict",
    "StateEffect",
    "error_action",
    "error_verdict",
]

ErrorAction = Literal["next", "skip_provider", "stop"]
StateEffect = Literal["cool_down", "cool_tenant", "cool_tenant_target", "failure", "none"]

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


def error_action(exc: ProviderError) -> ErrorAction:
    """What a failed target means for the rest of the route (see the module's table).

    ``next``: another target may succeed (retryable, or scoped to this model).
    ``skip_provider``: this provider refused our credentials or budget, or is not usable at all;
    its other models would fail alike, but another provider has its own. ``stop``: the request
    itself is wrong.
    """
    if isinstance(exc, BudgetExceededError) and exc.scope in ("tenant", "tenant_model"):
        return "stop"  # a tenant's own budget: nothing it may call on this proxy will answer
    if isinstance(exc, TenantBusyError) or (isinstance(exc, RateLimitError) and exc.scope == "tenant"):
        return "skip_provider"
    if isinstance(exc, PROVIDER_SCOPED):
        return "skip_provider"
    if isinstance(exc, MODEL_SCOPED):
        return "next"
    if isinstance(exc, BadRequestError):
        return "stop"
    return "next" if exc.retryable else "skip_provider"


def error_verdict(
    exc: ProviderError, *, rate_limit_cooldown: float, tenant_budget_fallback: bool = False
) -> ErrorVerdict:
    """The route action and the state effect of ``exc`` (see the module's table)."""
    action = error_action(exc)
    if isinstance(exc, TenantBusyError):
        return ErrorVerdict(action, "none")
    if action == "stop" and isinstance(exc, BudgetExceededError):
        return ErrorVerdict("skip_provider" if tenant_budget_fallback else "stop", "none")
    if isinstance(exc, RateLimitError):
        wait = exc.retry_after if exc.retry_after is not None else rate_limit_cooldown
        if exc.scope == "tenant":
            return ErrorVerdict(action, "cool_tenant", wait)
        if exc.scope == "tenant_model":
            return ErrorVerdict(action, "cool_tenant_target", wait)
        return ErrorVerdict(action, "cool_down", wait)
    if exc.retryable and not isinstance(exc, MODEL_SCOPED + PROVIDER_SCOPED):
        return ErrorVerdict(action, "failure")
    return ErrorVerdict(action, "none")
