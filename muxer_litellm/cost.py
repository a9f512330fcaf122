"""Which cost to report for one call, and where it came from.

Order: what the proxy billed (``x-litellm-response-cost`` or a stream's ``usage.cost``),
else usage times the catalog price, else unknown. The proxy omits the header (or sends
0) for a model it has no price for, so a 0 from the proxy is not taken as "free".
"""

from __future__ import annotations

import math
from typing import Any

from .catalog import ModelCard
from .host import CostSource

__all__ = ["parse_cost", "resolve_cost"]


def parse_cost(value: Any) -> float | None:
    """A finite, non-negative USD amount from a header or JSON field; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return number


def resolve_cost(
    proxy_cost: float | None,
    input_tokens: int | None,
    output_tokens: int | None,
    card: ModelCard | None,
) -> tuple[float | None, CostSource]:
    if proxy_cost is not None and proxy_cost > 0:
        return proxy_cost, "proxy"
    if card is not None and input_tokens is not None and output_tokens is not None:
        cost = card.cost(input_tokens, output_tokens)
        if cost is not None:
            return cost, "catalog"
    return None, "unknown"
