"""Small helpers every layer uses: secrets kept out of text, one format for invalid input, the
one price formula, money printed the same way everywhere."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

__all__ = [
    "PER_1K",
    "format_usd",
    "redact",
    "strip_url_credentials",
    "usd_for_tokens",
    "validation_problems",
]

# ---------------------------------------------------------------------- secrets

# LiteLLM echoes (partly masked) keys in some auth errors; never pass them on.
_ECHOED_KEY = re.compile(r"(?i)(received api key\s*=\s*|api[_ ]key[\"']?\s*[:=]\s*[\"']?)[^\s,\"']+")
_BEARER = re.compile(r"(?i)bearer\s+[^\s,\"']+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s]*@")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove secrets (and anything the proxy echoes as a key) from text we surface."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _ECHOED_KEY.sub(lambda m: m.group(1) + "***", text)
    return _BEARER.sub("Bearer ***", text)


def strip_url_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it removed: credentials in a
    base URL (or a Redis URL) are secrets too."""
    return _USERINFO.sub(r"\1", text)


# ---------------------------------------------------------------------- invalid input


def validation_problems(exc: ValidationError, *, root: str = "(root)", names: Mapping[str, str] | None = None) -> str:
    """Every bad field of a pydantic error on one line, ``dotted.path: message; ...``.

    ``root`` labels an error on the whole object; ``names`` renames path parts (an environment
    error names the variable the operator set, not the field)."""
    parts = []
    for err in exc.errors():
        where = ".".join((names or {}).get(str(p), str(p)) for p in err["loc"]) or root
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


# ---------------------------------------------------------------------- money

#: Prices are quoted per this many tokens.
PER_1K = 1000.0


def usd_for_tokens(
    input_tokens: int, output_tokens: int, input_per_1k: float | None, output_per_1k: float | None
) -> float | None:
    """USD for ``input_tokens`` + ``output_tokens`` at per-1K prices; None when either price is
    unknown (half a price would bill the other half as free)."""
    if input_per_1k is None or output_per_1k is None:
        return None
    return (input_tokens * input_per_1k + output_tokens * output_per_1k) / PER_1K


def format_usd(value: float | None) -> str:
    """Dollars to 6 significant digits in fixed point ("$0.000123", "$0.015", "$12.50"):
    per-token prices are tiny, and "1.2e-06" reads badly on a bill. None/inf -> "unknown"."""
    if value is None or not math.isfinite(value):
        return "unknown"
    if value == 0:
        return "$0.00"
    places = max(2, 5 - math.floor(math.log10(abs(value))))
    whole, _, frac = f"{value:.{places}f}".partition(".")
    return f"${whole}.{frac.rstrip('0').ljust(2, '0')}"
