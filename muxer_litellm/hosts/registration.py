"""Registering the proxy in a host: ``register(providers)`` and the entry point.

Hosts that keep ``providers: dict[str, LLMProvider]`` (ModelMuxer) call :func:`register`;
hosts that discover plugins load the ``modelmuxer.providers`` entry point ``litellm``,
which is :func:`create_provider`: call it with no arguments for a provider configured from
``LITELLM_*`` environment variables.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ..host import LLMProvider
from ..proxy.provider import LiteLLMProvider
from ..settings import LiteLLMSettings

__all__ = ["ENTRY_POINT_GROUP", "ENTRY_POINT_NAME", "create_provider", "register"]

ENTRY_POINT_GROUP = "modelmuxer.providers"
ENTRY_POINT_NAME = "litellm"


def create_provider(settings: LiteLLMSettings | None = None, **overrides: Any) -> LiteLLMProvider:
    """A provider from ``settings`` (default: read the environment / ``.env`` now)."""
    return LiteLLMProvider.from_settings(settings, **overrides)


def register(
    providers: MutableMapping[str, LLMProvider],
    settings: LiteLLMSettings | None = None,
    *,
    name: str = ENTRY_POINT_NAME,
    replace: bool = False,
    **overrides: Any,
) -> LiteLLMProvider:
    """Add a configured :class:`LiteLLMProvider` to ``providers`` under ``name`` and return it.

    Refuses to overwrite an existing entry unless ``replace=True`` (then the old provider
    is the caller's to ``aclose()``): silently dropping a live provider would leak its
    connection pool and hide a configuration mistake.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"provider name must be a non-empty string, got {name!r}")
    if name in providers and not replace:
        raise ValueError(f"a provider named {name!r} is already registered; pass replace=True to swap it")
    provider = create_provider(settings, **overrides)
    providers[name] = provider
    return provider
