"""The upstream deployment's rate limits, from the proxy's reply headers.

The proxy relays what the upstream sent: bare ``x-ratelimit-{remaining|limit}-{requests|tokens}``
(counts) and ``x-ratelimit-reset-{requests|tokens}`` (OpenAI duration strings: ``"1s"``,
``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"``; a bare number is seconds), with ``llm_provider-`` copies.
``x-litellm-model-id`` names the deployment. Absent or unreadable headers are *unknown* (None),
never zero: a target must not look exhausted because a header was missing or garbled.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..host import Headroom

__all__ = ["parse_duration", "upstream_headroom"]

_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(h|ms|m|s|us|µs|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
#: Longer than any rate-limit window: a reset further away than this is garbage.
_MAX_RESET = 7 * 86400.0


def parse_duration(text: str | None) -> float | None:
    """Seconds from an OpenAI/Go duration string (``"6m0s"`` -> 360.0) or a bare number of
    seconds; None when absent, negative, absurd or not a duration."""
    if text is None:
        return None
    raw = text.strip().lower()
    if not raw or len(raw) > 40:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _PART.finditer(raw):
            if match.start() != pos:
                return None
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(raw) or pos == 0:
            return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= _MAX_RESET else None


def _count(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 19 else None  # present but unreadable: unknown


#: Headroom field -> the header names that carry it (the bare one first, then the proxy's copy)
#: and how to read them.
_FIELDS = tuple(
    (field, (f"x-ratelimit-{name}", f"llm_provider-x-ratelimit-{name}"), read)
    for field, name, read in (
        ("remaining_requests", "remaining-requests", _count),
        ("remaining_tokens", "remaining-tokens", _count),
        ("limit_requests", "limit-requests", _count),
        ("limit_tokens", "limit-tokens", _count),
        ("reset_requests", "reset-requests", parse_duration),
        ("reset_tokens", "reset-tokens", parse_duration),
    )
)


def upstream_headroom(headers: Mapping[str, str]) -> Headroom | None:
    """The answering deployment's headroom (``headers`` by lower-case name); None when it sent
    no readable rate-limit header at all."""
    values: dict[str, Any] = {}
    for field, (bare, copy), read in _FIELDS:
        raw = headers.get(bare)
        if raw is None:
            raw = headers.get(copy)
        if raw is not None:
            value = read(raw)
            if value is not None:
                values[field] = value
    if not values:
        return None
    return Headroom(**values, deployment=headers.get("x-litellm-model-id") or None)
