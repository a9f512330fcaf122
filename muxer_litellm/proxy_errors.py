"""Deprecated location: the proxy's error mapping lives in :mod:`muxer_litellm.proxy.errors`."""

from __future__ import annotations

import warnings

from .proxy.errors import NO_DB_HINT, PROVIDER, error_from_body, parse_retry_after
from .redact import redact

__all__ = ["NO_DB_HINT", "PROVIDER", "error_from_body", "parse_retry_after", "redact"]

warnings.warn("muxer_litellm.proxy_errors moved to muxer_litellm.proxy.errors", DeprecationWarning, stacklevel=2)
