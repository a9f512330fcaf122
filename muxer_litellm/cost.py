"""Deprecated location: cost resolution lives in :mod:`muxer_litellm.proxy.cost`."""

from __future__ import annotations

import warnings

from .proxy.cost import parse_cost, resolve_cost

__all__ = ["parse_cost", "resolve_cost"]

warnings.warn("muxer_litellm.cost moved to muxer_litellm.proxy.cost", DeprecationWarning, stacklevel=2)
