"""Which cost to report for one call, where it came from, and the call's metadata.

Order: what the proxy billed (``x-litellm-response-cost`` or a stream's ``usage.cost``),
else usage times the catalog price, else unknown. The proxy omits the header (or sends
0) for a model it has no price for, so a 0 from the proxy is not taken as "free".
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from ..host import CostSource, ModelCard, RouterMetadata
from .headers import header_int, key_info
from .ratelimits import upstream_headroom
from .replies import PROVIDER

__all__ = ["call_metadata", "parse_cost", "resolve_cost"]


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


def call_metadata(
    model: str,
    started: float,
    headers: Mapping[str, str],
    cost: float | None,
    source: CostSource,
    request_id: str | None = None,
) -> RouterMetadata:
    """What one direct call cost, which deployment served it and what the proxy said about
    the key, from the proxy's headers (as :func:`.headers.proxy_headers` gives them).
    A direct call is the whole request: its ``total_cost`` is its cost (None when unknown);
    a router replaces both with its own decision and attempts."""
    return RouterMetadata(
        selected_provider=PROVIDER,
        selected_model=model,
        routing_reason="direct call to the LiteLLM proxy",
        estimated_cost=cost,
        total_cost=cost,
        response_time_ms=round((time.perf_counter() - started) * 1000.0, 3),
        cost_source=source,
        call_id=headers.get("x-litellm-call-id"),
        model_id=headers.get("x-litellm-model-id"),
        attempted_retries=header_int(headers, "x-litellm-attempted-retries"),
        attempted_fallbacks=header_int(headers, "x-litellm-attempted-fallbacks"),
        key=key_info(headers),
        request_id=request_id,
        headroom=upstream_headroom(headers),
    )
