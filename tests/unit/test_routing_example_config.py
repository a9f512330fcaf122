"""The shipped config/routing.yaml must load, and say what its comments promise."""

from __future__ import annotations

from pathlib import Path

from muxer_litellm.routing import load_routing_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"


def test_the_example_routing_config_loads() -> None:
    config = load_routing_config(EXAMPLE)
    assert config.default_strategy == "heuristic"
    assert config.combos["everyday"].strategy == "priority"
    assert [t.key for t in config.combos["everyday"].targets] == [
        "litellm/gpt-4o-mini",
        "openai/gpt-4o-mini",
        "litellm/claude-sonnet",
    ]
    assert [t.weight for t in config.combos["spread"].targets] == [3, 1]
    assert config.cascades["careful"].quality_threshold == 0.6
    assert config.tiers == {"litellm/claude-sonnet": 3}
    assert set(config.strategy_names()) >= {"heuristic", "everyday", "spread", "careful"}
