"""``pricing.usd_for_tokens``: the one price formula routing uses; a catalog card's ``cost`` must agree."""

from __future__ import annotations

import math

import pytest

from muxer_litellm._utils import format_usd, usd_for_tokens
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


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.000123, "$0.000123"),
        (0.015, "$0.015"),
        (12.5, "$12.50"),
        (1234.5, "$1234.50"),
        (5.2e-06, "$0.0000052"),
        (0.0001, "$0.0001"),
        (0.00012345678, "$0.000123457"),
        (0.00034484, "$0.00034484"),
        (1e-9, "$0.000000001"),
        (0.0, "$0.00"),
        (None, "unknown"),
        (math.inf, "unknown"),
    ],
)
def test_money_is_fixed_point_with_six_significant_digits(value: float | None, text: str) -> None:
    assert format_usd(value) == text
