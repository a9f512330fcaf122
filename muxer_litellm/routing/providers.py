"""What routing asks of providers beyond the ``LLMProvider`` ABC, through the declared seams
of ``muxer_litellm.host``: :class:`CatalogProvider` (refresh the catalog before planning),
:class:`TokenCounter` (exact counts near a context window) and :class:`HealthReporter` (why a
health check failed). A provider without a seam is routed on what the ABC gives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from ..host import CatalogProvider, HealthReporter, LLMProvider, MessageInput, TokenCounter

__all__ = ["count_prompt_tokens", "probe_health", "refresh_catalogs", "short"]

logger = logging.getLogger("muxer_litellm.routing")

_TOKEN_COUNT: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(strict=True, ge=0)])


def short(exc: BaseException, limit: int = 300) -> str:
    """An error's message, cut to ``limit`` characters (for reasons and attempt details)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def refresh_catalogs(providers: Mapping[str, LLMProvider]) -> dict[str, str]:
    """Refresh every catalog provider's catalog concurrently (each is cached for its own TTL). A
    failed refresh keeps the old catalog, so routing still works on what it knew; returns why
    each failed, by provider name."""
    catalogs = [(name, p) for name, p in providers.items() if isinstance(p, CatalogProvider)]
    failures: dict[str, str] = {}
    if not catalogs:
        return failures
    results = await asyncio.gather(*(p.refresh_models() for _, p in catalogs), return_exceptions=True)
    for (name, _), result in zip(catalogs, results, strict=True):
        if isinstance(result, Exception):
            logger.warning("routing: catalog refresh of %r failed, using what it had: %s", name, short(result))
            failures[name] = f"{type(result).__name__}: {short(result, 200)}"
        elif isinstance(result, BaseException):
            raise result
    return failures


async def probe_health(
    providers: Mapping[str, LLMProvider], limit_seconds: float
) -> dict[str, tuple[bool, str | None]]:
    """Every provider's cheap ``health_check()`` concurrently, each within ``limit_seconds``:
    ``name -> (healthy, why not)``. A raise or a hang reads as unhealthy, with the cause."""

    async def probe(provider: LLMProvider) -> tuple[bool, str | None]:
        try:
            async with asyncio.timeout(limit_seconds):
                ok = bool(await provider.health_check())
        except TimeoutError:
            return False, f"health_check() took longer than {limit_seconds:g}s"
        except Exception as exc:
            logger.warning("routing: health_check raised: %s", short(exc))
            return False, f"health_check() raised {type(exc).__name__}: {short(exc, 200)}"
        if ok:
            return True, None
        error = provider.last_health_error if isinstance(provider, HealthReporter) else None
        return False, error if isinstance(error, str) else None

    names = list(providers)
    results = await asyncio.gather(*(probe(providers[n]) for n in names))
    return dict(zip(names, results, strict=True))


async def count_prompt_tokens(
    provider: TokenCounter, messages: Sequence[MessageInput], model: str, limit_seconds: float
) -> int | None:
    """The provider's exact prompt-token count for ``model``, or None when its counter fails,
    answers nonsense or takes longer than ``limit_seconds`` (the caller keeps its estimate)."""
    try:
        async with asyncio.timeout(limit_seconds):
            exact = await provider.count_tokens(list(messages), model, timeout_seconds=limit_seconds)
    except Exception as exc:  # a provider's own exception too: the estimate still routes
        logger.debug("routing: token counter unavailable, keeping the estimate: %s", short(exc))
        return None
    try:
        return _TOKEN_COUNT.validate_python(exact)
    except ValidationError:
        logger.debug("routing: token counter returned %r, keeping the estimate", exact)
        return None
