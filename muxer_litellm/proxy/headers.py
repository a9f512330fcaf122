"""Reading the proxy's reply headers: one pass over them, typed values, garbage ignored.

What the proxy (1.106-1.108) sends and who it is about:

- ``x-litellm-*``: the call (``call-id``, ``model-id``, ``response-cost``, ``attempted-*``) and
  the key it used (``key-spend``, ``key-max-budget``, ``key-rpm-limit``, ``key-tpm-limit``; an
  unset one is the text ``None``), and the key's headroom for the model group
  (``key-remaining-{requests|tokens}-{model group}``);
- ``x-ratelimit-{descriptor}-{remaining|limit}-{kind}``: the proxy's own limiter per descriptor
  (``api_key``, ``team``, ``user``, ``end_user``, ``model_per_key``...): tenant headroom;
- bare ``x-ratelimit-{remaining|limit|reset}-{kind}`` (and ``llm_provider-*`` copies): the
  upstream deployment's own limits, not the key's (see ``ratelimits``);
- ``retry-after``/``retry-after-ms`` (and ``llm_provider-`` copies): how long to wait.

A header that is absent or cannot be read is None: a metadata header never costs a caller a reply.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ..host import KeyInfo

__all__ = ["header_float", "header_int", "key_info", "parse_retry_after", "proxy_headers"]

_PREFIXES = (b"x-litellm-", b"x-ratelimit-")
_MODEL_REMAINING = "x-litellm-key-remaining-"
_KEY_COUNTERS = ("x-ratelimit-", _MODEL_REMAINING)
_BARE = ("remaining-", "limit-", "reset-")


def proxy_headers(headers: httpx.Headers) -> dict[str, str]:
    """The reply's ``x-litellm-*`` and ``x-ratelimit-*`` headers by lower-case name, with the
    values ``headers.get`` would give, read in one pass (each ``get`` scans every header)."""
    out: dict[str, str] = {}
    for _, lowered, raw_value in headers._list:  # (name as sent, lower-case name, value)
        if lowered.startswith(_PREFIXES):
            try:  # ASCII, as headers should be: what httpx's own decoding would give, cheaper
                key, value = lowered.decode("ascii"), raw_value.decode("ascii")
            except UnicodeDecodeError:
                key, value = lowered.decode(headers.encoding), raw_value.decode(headers.encoding)
            out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """A non-negative count from a header; None when absent, ``None`` or garbage."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = int(float(raw))
    except (ValueError, OverflowError):
        return None
    return value if value >= 0 else None


def header_float(headers: Mapping[str, str], name: str) -> float | None:
    """A finite, non-negative amount from a header; None when absent, ``None`` or garbage."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


#: KeyInfo field -> the header that carries it and how it reads.
_KEY_FIELDS = (
    ("spend", "x-litellm-key-spend", header_float),
    ("max_budget", "x-litellm-key-max-budget", header_float),
    ("rpm_limit", "x-litellm-key-rpm-limit", header_int),
    ("tpm_limit", "x-litellm-key-tpm-limit", header_int),
)


def key_info(headers: Mapping[str, str]) -> KeyInfo | None:
    """What the proxy said about the caller's key (``headers`` as :func:`proxy_headers` gives
    them); None when it said nothing about it. Only what it said is passed on to ``KeyInfo``."""
    fields: dict[str, Any] = {}
    headroom: dict[str, int] = {}
    for name in headers:
        if not name.startswith(_KEY_COUNTERS):
            continue
        if name[2] == "r":  # x-ratelimit-{descriptor}-...
            rest = name[12:]
            if rest.startswith(_BARE):
                continue  # the upstream deployment's, not the key's
            count = header_int(headers, name)
            if count is not None and ("-remaining-" in rest or "-limit-" in rest):
                headroom[rest] = count
        else:  # x-litellm-key-remaining-{requests|tokens}-{model group}
            rest = name[len(_MODEL_REMAINING) :]
            kind = "requests" if rest.startswith("requests-") else "tokens" if rest.startswith("tokens-") else None
            if kind is not None:
                fields[f"model_remaining_{kind}"] = header_int(headers, name)
    for field, name, read in _KEY_FIELDS:
        if name in headers:
            fields[field] = read(headers, name)
    if headroom:
        fields["headroom"] = headroom
        fields["remaining_requests"] = headroom.get("api_key-remaining-requests")
        fields["remaining_tokens"] = headroom.get("api_key-remaining-tokens")
    elif not any(value is not None for value in fields.values()):
        return None
    return KeyInfo(**fields)


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
