"""How the LiteLLM proxy's error replies become typed errors.

The rules follow what the proxy really sends (checked on litellm 1.106): an OpenAI-style
``{"error": {"message", "type", "code"}}`` body whose ``message`` names LiteLLM's own
exception class, ``code`` as a string status, the upstream's wait in
``llm_provider-retry-after``, and ``400 no_db_connection`` for a wrong key on a proxy
without a database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from .._utils import redact
from ..errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    ModelNotFoundError,
    NotAProxyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)

__all__ = ["NO_DB_HINT", "PROVIDER", "error_from_body", "parse_retry_after"]

PROVIDER = "litellm"
_MAX_MESSAGE = 1000

NO_DB_HINT = (
    "the LiteLLM proxy rejected the API key (400 no_db_connection: a proxy without a database "
    "accepts only its master key). Set LITELLM_API_KEY to the proxy's master_key"
)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms``, ``retry-after`` or the upstream's
    ``llm_provider-retry-after`` (the proxy forwards the upstream's headers with that prefix)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (
        ("retry-after-ms", 0.001),
        ("retry-after", 1.0),
        ("llm_provider-retry-after-ms", 0.001),
        ("llm_provider-retry-after", 1.0),
    ):
        raw = lowered.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        try:
            seconds = float(raw) * scale
        except ValueError:
            if scale != 1.0:
                continue
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError, OverflowError):
                continue
            seconds = when.timestamp() - (time.time() if now is None else now)
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
            continue
        return max(0.0, seconds)
    return None


def _status_from_code(code: Any) -> int | None:
    try:
        status = int(str(code))
    except (TypeError, ValueError):
        return None
    return status if 100 <= status <= 599 else None


def _describe(body: Any, raw_text: str) -> tuple[str, str | None, str | None]:
    """(message, type, code) from whatever the proxy sent, JSON or not; uncut, so that
    redaction sees whole keys before the message is shortened."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = err.get("code")
            return (
                str(err.get("message") or json.dumps(err)),
                None if err.get("type") is None else str(err.get("type")),
                None if code is None else str(code),
            )
        if isinstance(err, str):
            return err, None, None
        detail = body.get("detail")
        if detail is not None:
            return (detail if isinstance(detail, str) else json.dumps(detail)), None, None
    return raw_text.strip() or "(empty body)", None, None


#: Statuses a LiteLLM route never answers without its own JSON error body.
_NOT_AN_API = frozenset((404, 405, 501))


def _is_proxy_error(body: Any) -> bool:
    """The proxy's own errors are ``{"error": ...}``; FastAPI's routing 404 is ``{"detail": "Not Found"}``."""
    return isinstance(body, dict) and body.get("error") is not None


def error_from_body(
    status: int | None,
    body: Any,
    raw_text: str = "",
    *,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
    call_id: str | None = None,
    secrets: Iterable[str | None] = (),
    mid_stream: bool = False,
    url: str | None = None,
) -> ProviderError:
    """Build the typed error for an error reply (or an error frame inside a stream).

    ``status`` is the HTTP status, or None for a stream frame (then the frame's ``code``
    is used, and a frame without one counts as an upstream failure, i.e. 500).
    """
    message, err_type, err_code = _describe(body, raw_text)
    if status is None:
        status = _status_from_code(err_code) or 500
    message = redact(message, secrets)[:_MAX_MESSAGE]
    lowered = message.lower()
    kind = (err_type or "").lower()
    code = (err_code or "").lower()
    prefix = "mid-stream error from LiteLLM proxy" if mid_stream else f"LiteLLM proxy returned {status}"
    common: dict[str, Any] = {
        "model": model,
        "call_id": call_id,
        "error_type": err_type,
        "error_code": err_code,
    }

    if url is not None and status in _NOT_AN_API and not _is_proxy_error(body):
        # A static page, another app, or a wrong path on the proxy's own FastAPI app: no
        # model behind this URL will answer, so routing must skip the provider, not each model.
        first = (message.strip().splitlines() or [""])[0][:200]
        return NotAProxyError(
            f"no LiteLLM API at {url}; is LITELLM_BASE_URL the proxy's root? ({status}: {first})",
            status,
            PROVIDER,
            url=url,
            **common,
        )
    if kind == "no_db_connection" or code == "no_db_connection":
        return AuthenticationError(f"{NO_DB_HINT} ({message})", status, PROVIDER, **common)
    if status in (401, 403) or kind in ("auth_error", "authentication_error"):
        return AuthenticationError(f"{prefix}: key rejected: {message}", status, PROVIDER, **common)
    if "budget_exceeded" in (kind, code) or "budget has been exceeded" in lowered:
        return BudgetExceededError(f"{prefix}: budget exceeded: {message}", status, PROVIDER, **common)
    if status == 429:
        retry_after = parse_retry_after(headers or {})
        return RateLimitError(f"{prefix}: rate limited: {message}", status, PROVIDER, retry_after=retry_after, **common)
    if "contextwindowexceedederror" in lowered or code == "context_length_exceeded":
        return ContextWindowExceededError(f"{prefix}: context window exceeded: {message}", status, PROVIDER, **common)
    # Older proxies (1.74) answer a refusal as a plain 400 whose message carries the upstream's code.
    if (
        "contentpolicyviolationerror" in lowered
        or "content_policy_violation" in lowered
        or code == "content_policy_violation"
    ):
        return ContentPolicyError(f"{prefix}: content policy: {message}", status, PROVIDER, **common)
    if status == 404 or "invalid model name" in lowered or code == "model_not_found":
        return ModelNotFoundError(f"{prefix}: model not found: {message}", status, PROVIDER, **common)
    if status in (408, 504):
        return ProviderTimeoutError(f"{prefix}: timed out: {message}", status, PROVIDER, **common)
    if status >= 500:
        return ProviderUnavailableError(f"{prefix}: {message}", status, PROVIDER, **common)
    if status in (400, 413, 422):
        return BadRequestError(f"{prefix}: bad request: {message}", status, PROVIDER, **common)
    return ProviderError(f"{prefix}: {message}", status, PROVIDER, **common)
