"""``pricing.usd_for_tokens``: the one price formula routing uses; a catalog card's ``cost`` must agree."""

from __future__ import annotations

import pytest

from muxer_litellm._utils import usd_for_tokens
from muxer_litellm.host import ModelCard


@pytest.mark.parametrize(
    ("prices", "tokens", "usd"),
    [
        ((0.003, 0.015), (1000, 1000), 0.018),
        ((0.0005, 0.0015), (10, 20), 0.000035),
        ((0.0, 0.0), (5000, 5000), 0.0),
        ((0.001, 0.002), (0, 0), 0.0),
        ((None, 0.002), (10, 10), None),
        ((0.001, None), (10, 10), None),
        ((None, None), (0, 0), None),
    ],
)
def test_usd_for_tokens_is_what_a_card_costs(
    prices: tuple[float | None, float | None], tokens: tuple[int, int], usd: float | None
) -> None:
    got = usd_for_tokens(*tokens, *prices)
    assert got == (None if usd is None else pytest.approx(usd))
    card = ModelCard(name="m", input_cost_per_1k=prices[0], output_cost_per_1k=prices[1])
    assert got == card.cost(*tokens)
