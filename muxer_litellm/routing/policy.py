"""The error policy: what a failed candidate means for the rest of the route and for routing state.

One policy, read by every strategy (combos, heuristic fallbacks, cascade steps, streams):

- ``RateLimitError`` (429): try the next candidate; the candidate waits ``retry_after`` seconds
  (else ``rate_limit_cooldown``; the attempt says which, see ``ErrorVerdict.wait_source``).
- Any other retryable error (timeout, 5xx, connection failure): try the next candidate; the
  failure counts toward the candidate's breaker.
- ``ModelNotFoundError``, ``ContextWindowExceededError``, ``ContentPolicyError``: about this
  model only, so try the next candidate (even of the same provider); the candidate's state is unchanged.
- ``AuthenticationError``, ``BudgetExceededError``, ``NotAProxyError``, ``ProviderClosedError``:
  about the provider (its key, budget, URL, closed client), so skip its other candidates but try
  other providers; state unchanged.
- ``ReplyTooLargeError``: this target sent a reply past a size limit; try the next target, and
  the failure counts toward the target's breaker (it is not retryable on the same target).
- ``BadRequestError``: the request itself is wrong; stop and raise it.
- Any other non-retryable error (a malformed or non-JSON reply, a bare 500 to a provider with no
  key): the provider cannot serve as it is, but the request may be fine; skip its other candidates,
  try other providers; state unchanged.

A provider may raise its own exceptions (an SDK's, or a bug's): :func:`contained` reads them as
the contract's errors first. A timeout is a ``ProviderTimeoutError`` and a connection failure a
``ProviderUnavailableError`` (both retryable); anything else a non-retryable ``ProviderError``
naming the class and message. Cancellation (``asyncio.CancelledError``) is not an ``Exception``
and always propagates.
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
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    ReplyTooLargeError,
)

__all__ = [
    "contained",
    "MODEL_SCOPED",
    "PROVIDER_SCOPED",
    "ErrorAction",
    "ErrorVerdict",
    "StateEffect",
    "WaitSource",
    "error_action",
    "error_verdict",
]

ErrorAction = Literal["next", "skip_provider", "stop"]
StateEffect = Literal["cool_down", "failure", "none"]
WaitSource = Literal["proxy", "default"]

#: Errors about the provider (its key, budget, URL or client), not the model: skip its other candidates.
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
    """``action`` for the route; ``effect`` on the candidate's state, with ``wait`` seconds for a cooldown."""

    action: ErrorAction
    effect: StateEffect
    wait: float | None = None
    #: Where ``wait`` came from: the proxy's reply (``retry-after``), or ``rate_limit_cooldown``
    #: when the reply named no wait (older LiteLLM proxies pass none on an upstream's 429).
    wait_source: WaitSource | None = None


def error_action(exc: ProviderError) -> ErrorAction:
    """What a failed candidate means for the rest of the route (see the module's table).

    ``next``: another candidate may succeed (retryable, or scoped to this model).
    ``skip_provider``: this provider refused our credentials or budget, or is not usable at all;
    its other models would fail alike, but another provider has its own. ``stop``: the request
    itself is wrong.
    """
    if isinstance(exc, PROVIDER_SCOPED):
        return "skip_provider"
    if isinstance(exc, (*MODEL_SCOPED, ReplyTooLargeError)):
        return "next"
    if isinstance(exc, BadRequestError):
        return "stop"
    return "next" if exc.retryable else "skip_provider"


def error_verdict(exc: ProviderError, *, rate_limit_cooldown: float) -> ErrorVerdict:
    """The route action and the state effect of ``exc`` (see the module's table)."""
    action = error_action(exc)
    if isinstance(exc, RateLimitError):
        if exc.retry_after is not None:
            return ErrorVerdict(action, "cool_down", exc.retry_after, "proxy")
        return ErrorVerdict(action, "cool_down", rate_limit_cooldown, "default")
    if isinstance(exc, ReplyTooLargeError) or (exc.retryable and not isinstance(exc, MODEL_SCOPED + PROVIDER_SCOPED)):
        return ErrorVerdict(action, "failure")
    return ErrorVerdict(action, "none")


#: Words in an exception class's name (or a base's) that mark a timeout or a connection failure,
#: so the exceptions of SDKs routing does not know (``APITimeoutError``, ``ConnectError``...) read right.
_TIMEOUT_WORDS = ("Timeout",)
_CONNECTION_WORDS = ("Connection", "Connect", "Network")


def contained(exc: Exception, provider: str, model: str) -> ProviderError:
    """``exc`` as the contract's error: a :class:`ProviderError` as it is; a provider's own
    exception as a timeout, a connection failure (both retryable) or a plain, non-retryable
    ``ProviderError`` whose message names the class (``error_type``) and the original message.
    The original is the result's ``__cause__``."""
    if isinstance(exc, ProviderError):
        return exc
    names = [cls.__name__ for cls in type(exc).__mro__]
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    error: ProviderError
    if isinstance(exc, TimeoutError) or any(w in n for n in names for w in _TIMEOUT_WORDS):
        error = ProviderTimeoutError(message, None, provider, model=model, error_type=type(exc).__name__)
    elif isinstance(exc, ConnectionError) or any(w in n for n in names for w in _CONNECTION_WORDS):
        error = ProviderUnavailableError(message, None, provider, model=model, error_type=type(exc).__name__)
    else:
        error = ProviderError(message, None, provider, model=model, error_type=type(exc).__name__)
    error.__cause__ = exc
    return error
