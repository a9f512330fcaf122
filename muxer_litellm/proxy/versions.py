"""Which LiteLLM proxy versions this client is tested against, and the proxy's own version.

The proxy is deployed separately, so it runs whatever LiteLLM its operator chose. It names its
version (``litellm_version``) on ``/health/readiness`` (older proxies) or, to a key,
``/health/readiness/details`` (newer ones); a version outside the tested range gets one warning
per provider. What differs by version, and what the client does about each difference, is in
docs/proxy-versions.md.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NEWEST_TESTED", "OLDEST_TESTED", "parse_version", "version_warning"]

#: The oldest and newest LiteLLM proxy the integration suite runs against (``make test-compat``).
OLDEST_TESTED = (1, 74, 15)
NEWEST_TESTED = (1, 108, 7)

_VERSION = re.compile(r"v?(\d{1,6})\.(\d{1,6})\.(\d{1,6})")


def parse_version(value: Any) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` from a version string such as ``1.74.15.post2``; None otherwise."""
    if not isinstance(value, str):
        return None
    match = _VERSION.match(value.strip()[:64])
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def version_warning(version: tuple[int, int, int]) -> str | None:
    """One line for an operator when ``version`` is outside the tested range; None within it."""
    tested = f"the versions this client is tested with ({_dotted(OLDEST_TESTED)} to {_dotted(NEWEST_TESTED)})"
    if version < OLDEST_TESTED:
        return (
            f"the LiteLLM proxy runs {_dotted(version)}, older than {tested}: it may give fewer costs, waits "
            "and prices (see docs/proxy-versions.md)"
        )
    if version > NEWEST_TESTED:
        return f"the LiteLLM proxy runs {_dotted(version)}, newer than {tested} (see docs/proxy-versions.md)"
    return None
