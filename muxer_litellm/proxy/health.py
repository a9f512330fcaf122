"""Health probes: the cheap one routing calls often, and the proxy's deep, billable ``/health``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from ..errors import ProviderError, ProviderUnavailableError
from ..host import ModelHealth
from .catalog import ModelCatalog
from .replies import PROVIDER
from .transport import ProxyTransport

__all__ = ["probe", "read_model_health"]

logger = logging.getLogger("muxer_litellm")


async def probe(transport: ProxyTransport, limit: float) -> tuple[str | None, dict[str, Any] | None]:
    """(None when healthy, else why not (redacted); the ``/health/readiness`` reply when it
    was a JSON object). Healthy: readiness answers and an authenticated ``/v1/models``
    succeeds, so a wrong key reads unhealthy. No model calls."""
    readiness = None
    try:
        async with asyncio.timeout(limit):
            ready = await transport.request("GET", "/health/readiness", auth=False, timeout_seconds=limit)
            readiness = transport.json_object(ready, None)
            status = readiness.get("status")
            if isinstance(status, str) and status.lower() == "unhealthy":
                raise ProviderUnavailableError(f"LiteLLM proxy readiness says {status!r}", 200, PROVIDER)
            await transport.request("GET", "/v1/models", timeout_seconds=limit)
    except (ProviderError, TimeoutError) as exc:
        return transport.redact(str(exc) or f"no answer within {limit:g}s"), readiness
    return None, readiness


def _first_line(text: str | None, limit: int = 300) -> str | None:
    if text is None:
        return None
    stripped = text.strip()
    return stripped.splitlines()[0][:limit] if stripped else None


def read_model_health(data: Mapping[str, Any], catalog: ModelCatalog, transport: ProxyTransport) -> list[ModelHealth]:
    """Per-deployment results from the proxy's ``/health`` reply; also written to the cards'
    ``healthy`` (a name counts healthy when any of its deployments is)."""
    results: list[ModelHealth] = []
    for healthy, key in ((True, "healthy_endpoints"), (False, "unhealthy_endpoints")):
        endpoints = data.get(key)
        for endpoint in endpoints if isinstance(endpoints, list) else []:
            if not isinstance(endpoint, dict):
                continue
            model_id = endpoint.get("model_id") if isinstance(endpoint.get("model_id"), str) else None
            raw_error = endpoint.get("error")
            error = None
            if not healthy:
                error = _first_line(None if raw_error is None else transport.redact(str(raw_error))) or "unhealthy"
            results.append(
                ModelHealth(
                    model_name=catalog.name_for_deployment(model_id) if model_id else None,
                    upstream_model=endpoint.get("model") if isinstance(endpoint.get("model"), str) else None,
                    model_id=model_id,
                    healthy=healthy,
                    error=error,
                )
            )
    by_name: dict[str, tuple[bool, str | None]] = {}
    for result in results:
        if result.model_name is None:
            continue
        seen = by_name.get(result.model_name)
        if seen is None or (result.healthy and not seen[0]):
            by_name[result.model_name] = (result.healthy, result.error)
    catalog.set_health(by_name)
    return results
