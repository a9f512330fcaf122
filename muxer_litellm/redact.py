"""Keeping secrets out of every message, log line and span the plugin writes."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["redact"]

# LiteLLM echoes (partly masked) keys in some auth errors; never pass them on.
_ECHOED_KEY = re.compile(r"(?i)(received api key\s*=\s*|api[_ ]key[\"']?\s*[:=]\s*[\"']?)[^\s,\"']+")
_BEARER = re.compile(r"(?i)bearer\s+[^\s,\"']+")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove secrets (and anything the proxy echoes as a key) from text we surface."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _ECHOED_KEY.sub(lambda m: m.group(1) + "***", text)
    return _BEARER.sub("Bearer ***", text)
