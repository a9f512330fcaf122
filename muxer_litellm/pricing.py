"""The one price formula: USD for a number of tokens at per-1K prices.

Routing prices every candidate on every decision with it, and a catalog card's ``cost`` is the
same arithmetic; it lives here, below both, so neither restates it. Unknown prices stay unknown.
"""

from __future__ import annotations

__all__ = ["PER_1K", "usd_for_tokens"]

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
