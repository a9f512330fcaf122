"""Environment-driven settings, so an operator configures the plugin like the rest of the gateway."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["HttpTransport", "LiteLLMSettings", "normalize_base_url"]

#: What the provider's own HTTP client sends over: aiohttp's connection pool (the default) or
#: httpx's own. Either way the provider speaks httpx's API; see docs/performance.md.
HttpTransport = Literal["aiohttp", "httpx"]


def normalize_base_url(url: str) -> str:
    """Return the proxy's root URL; accept a trailing ``/`` or ``/v1`` (a common copy-paste).

    Raises ValueError naming the bad value: a typo here would otherwise surface as
    confusing connection errors on the first request.
    """
    cleaned = url.strip().rstrip("/")
    parts = urlsplit(cleaned)
    if parts.username is not None or parts.password is not None:
        # httpx would send them as Basic auth in place of the key; and never echo a password.
        shown = f"{parts.scheme}://***@{parts.hostname or ''}"
        raise ValueError(
            f"LiteLLM base_url must not contain a user or password (got {shown}...): put the key in LITELLM_API_KEY"
        )
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"LiteLLM base_url must be an http(s) URL such as http://localhost:4000, got {url!r}")
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number in 0-65535
    except ValueError:
        raise ValueError(f"LiteLLM base_url has an invalid port, got {url!r}") from None
    if cleaned.endswith("/v1"):
        cleaned = cleaned[: -len("/v1")]
    return cleaned


class LiteLLMSettings(BaseSettings):
    """Read from ``LITELLM_*`` environment variables or a ``.env`` file.

    LiteLLM itself uses other ``LITELLM_*`` names (``LITELLM_MASTER_KEY``, ``LITELLM_LOG``);
    unknown names are ignored, so both can share one ``.env``.
    """

    model_config = SettingsConfigDict(env_prefix="LITELLM_", env_file=".env", extra="ignore")

    base_url: str = "http://localhost:4000"
    api_key: SecretStr | None = None
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for a read, write or pool slot.")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a TCP connection.")
    deadline: float | None = Field(
        None, gt=0, description="Seconds a whole non-streamed call may take (default: timeout)."
    )
    stream_timeout: float | None = Field(None, gt=0, description="Seconds a whole stream may take (default: none).")
    drain_timeout: float = Field(10.0, ge=0, description="Seconds aclose() lets calls in flight finish.")
    max_chat_reply_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Decoded bytes of a chat reply.")
    max_embeddings_reply_bytes: int = Field(
        160 * 1024 * 1024, ge=1024, description="Decoded bytes of an embeddings reply."
    )
    max_catalog_reply_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Decoded bytes of /model/info and /v1/models."
    )
    max_health_reply_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Decoded bytes of health and token-count replies."
    )
    max_event_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Bytes of one stream event, or buffered without completing one."
    )
    health_timeout: float = Field(5.0, gt=0, description="Whole-probe limit for health_check().")
    deep_health_timeout: float = Field(120.0, gt=0, description="Limit for the proxy's slow /health.")
    catalog_ttl: float = Field(300.0, ge=0, description="Seconds a /model/info snapshot stays fresh.")
    max_connections: int = Field(100, ge=1)
    max_keepalive_connections: int = Field(100, ge=0, description="Idle connections kept for reuse.")
    http_transport: HttpTransport = Field(
        "aiohttp", description="aiohttp (default) or httpx: what the client sends over."
    )
    tracing: bool = Field(False, description="An OpenTelemetry span per call (needs the [otel] extra).")
    metrics: bool = Field(False, description="Prometheus metrics on the global registry (needs [prometheus]).")

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return normalize_base_url(value)

    @field_validator("api_key")
    @classmethod
    def _empty_key_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value
