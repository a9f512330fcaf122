"""Typed errors a host router can act on.

Every error says whether retrying (or falling back to another model) can help
(``retryable``), which model it concerns and the proxy's call id, so a router
can fall back, cool a candidate down for ``retry_after`` seconds, or give up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

__all__ = [
    "DemoError",
    "ProxyStartError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ContentPolicyError",
    "ContextWindowExceededError",
    "ErrorScope",
    "FallbackExhaustedError",
    "ModelNotFoundError",
    "NoRouteError",
    "NotAProxyError",
    "ProviderClosedError",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "ReplyTooLargeError",
    "RoutingConfigError",
    "TenantBusyError",
]

#: Whom an error concerns, when the proxy's reply says (see ``proxy/scopes.py``):
#: ``tenant``: a limit or budget of the caller's key, team, user or end user, over every model;
#: ``tenant_model``: a limit of the caller's key for this model only;
#: ``deployment``: the model's own deployment or upstream (its rpm, an upstream 429), for every caller;
#: ``proxy``: the proxy as a whole (its global budget). None: the reply does not say.
ErrorScope = Literal["tenant", "tenant_model", "deployment", "proxy"]


class ProviderError(Exception):
    """Base of every error a provider raises; the host catches this one class."""

    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        provider: str | None = None,
        *,
        model: str | None = None,
        call_id: str | None = None,
        error_type: str | None = None,
        error_code: str | None = None,
        retryable: bool | None = None,
        scope: ErrorScope | None = None,
        entity: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.provider = provider
        self.model = model
        self.call_id = call_id
        self.error_type = error_type
        self.error_code = error_code
        self.retryable = self.default_retryable if retryable is None else retryable
        #: Whom the error concerns (see :data:`ErrorScope`); ``entity`` names the limited
        #: entity as the proxy does (``api_key``, ``team``, ``user``, ``end_user``, ``Key``...).
        self.scope: ErrorScope | None = scope
        self.entity = entity

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status_code={self.status_code!r}, "
            f"provider={self.provider!r}, model={self.model!r}, call_id={self.call_id!r}, "
            f"retryable={self.retryable!r}, scope={self.scope!r})"
        )


class AuthenticationError(ProviderError):
    """The proxy refused our key: no other model behind the same key will do better."""


class RateLimitError(ProviderError):
    """429: wait ``retry_after`` seconds (when the proxy said) or try another candidate."""

    default_retryable = True

    def __init__(
        self,
        message: str,
        status_code: int | None = 429,
        provider: str | None = None,
        *,
        retry_after: float | None = None,
        model: str | None = None,
        call_id: str | None = None,
        error_type: str | None = None,
        error_code: str | None = None,
        retryable: bool | None = None,
        scope: ErrorScope | None = None,
        entity: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code,
            provider,
            model=model,
            call_id=call_id,
            error_type=error_type,
            error_code=error_code,
            retryable=retryable,
            scope=scope,
            entity=entity,
        )
        self.retry_after = retry_after


class TenantBusyError(RateLimitError):
    """This tenant already has ``max_tenant_in_flight`` calls in flight on the provider's shared
    pool (raised before anything is sent): retry after ``retry_after`` seconds. Scoped to the
    tenant (``scope == "tenant"``): other tenants are served as before."""


class ModelNotFoundError(ProviderError):
    """The proxy has no model of that name; another model may exist."""


class ContextWindowExceededError(ProviderError):
    """The prompt does not fit this model; a larger-context model may take it."""


class ContentPolicyError(ProviderError):
    """The upstream's safety system rejected the request."""


class BadRequestError(ProviderError):
    """The request itself is wrong; sending it elsewhere will not fix it."""


class BudgetExceededError(ProviderError):
    """A budget (the proxy's key/team budget, or a host's ``max_cost``) forbids the call."""


class ProviderTimeoutError(ProviderError):
    """The proxy or its upstream did not answer in time. ``limit`` names the setting whose
    limit fired: ``deadline``, ``timeout`` (the read timeout: a stream's wait for its next data
    event, or the HTTP client's own read timer), ``stream_timeout``, a routed ``deadline``; None
    for the HTTP client's connect, write or pool timeouts."""

    default_retryable = True

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        provider: str | None = None,
        *,
        limit: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message, status_code, provider, **fields)
        self.limit = limit


class ReplyTooLargeError(ProviderError):
    """A reply (or one stream event) grew past a size limit while it was read, after
    decoding: the connection was dropped. Not retryable on the same target (it would send
    the same), but another target may answer: routing counts it as this target's failure.
    ``limit`` is the setting's name, ``limit_bytes`` its value."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        provider: str | None = None,
        *,
        limit: str,
        limit_bytes: int,
        **fields: Any,
    ) -> None:
        super().__init__(message, status_code, provider, **fields)
        self.limit = limit
        self.limit_bytes = limit_bytes


class ProviderUnavailableError(ProviderError):
    """The proxy is unreachable or answered 5xx."""

    default_retryable = True


class NotAProxyError(ProviderError):
    """``base_url`` answers, but not as a LiteLLM proxy (an HTML 404, a static file server).
    Scoped to the provider, like a refused key: no model behind it will do better, and
    retrying will not heal a wrong URL. ``url`` is the address that answered so."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        provider: str | None = None,
        *,
        url: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message, status_code, provider, **fields)
        self.url = url


class ProviderClosedError(ProviderError):
    """The provider was closed with ``aclose()``; a closed pool cannot send."""


class NoRouteError(ProviderError):
    """Routing found nothing it may call: every candidate was excluded (``excluded`` says
    why, by ``provider/model``). Retryable only when some were merely cooling down, and
    then ``retry_after`` is the shortest wait."""

    def __init__(
        self,
        message: str,
        excluded: Mapping[str, str] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, None, None, retryable=retry_after is not None)
        self.excluded: dict[str, str] = dict(excluded or {})
        self.retry_after = retry_after


class FallbackExhaustedError(ProviderError):
    """Every candidate routing tried failed. ``attempts`` lists them in order (dicts in the
    shape of ``RouteAttempt``); ``last_error`` is the final failure (also ``__cause__``)."""

    def __init__(self, message: str, attempts: Sequence[Mapping[str, Any]], last_error: ProviderError) -> None:
        super().__init__(
            message,
            last_error.status_code,
            last_error.provider,
            model=last_error.model,
            call_id=last_error.call_id,
            error_type=last_error.error_type,
            error_code=last_error.error_code,
            retryable=last_error.retryable,
            scope=last_error.scope,
            entity=last_error.entity,
        )
        self.attempts: list[dict[str, Any]] = [dict(a) for a in attempts]
        self.last_error = last_error
        #: Set when every candidate is now cooling down: the shortest wait before one is free.
        self.retry_after: float | None = None


class RoutingConfigError(ValueError):
    """Routing settings or YAML are invalid; the message names the file and field."""


# ---------------------------------------------------------------------- the local proxy and the demo


class ProxyStartError(RuntimeError):
    """A local proxy (``muxer_litellm.proxy.process``) could not be started. ``reason`` is one
    line; ``log`` the proxy's last output; ``log_path`` its whole log, kept on disk (master key
    masked) for the operator to read."""

    def __init__(self, reason: str, log: str = "", log_path: Path | None = None) -> None:
        super().__init__(f"{reason}\n{log}" if log else reason)
        self.reason = reason
        self.log = log
        self.log_path = log_path


class DemoError(Exception):
    """A problem the demo reports in one line (no traceback)."""
