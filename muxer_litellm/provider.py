"""Deprecated location: ``LiteLLMProvider`` lives in :mod:`muxer_litellm.proxy.provider`
(import it from ``muxer_litellm``)."""

from __future__ import annotations

import warnings

from .proxy.provider import DEFAULT_TIMEOUT, LiteLLMProvider

__all__ = ["DEFAULT_TIMEOUT", "LiteLLMProvider"]

warnings.warn(
    "muxer_litellm.provider is deprecated: import LiteLLMProvider from muxer_litellm",
    DeprecationWarning,
    stacklevel=2,
)
