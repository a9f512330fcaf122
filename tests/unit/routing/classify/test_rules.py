"""The rule matcher's hint gate: a rule's regex runs only when each of its hint groups occurs."""

from __future__ import annotations

import re

import pytest

from muxer_litellm.routing.classify.rules import Rule, rule_hit


def test_a_rule_made_after_others_were_matched_has_its_hints_found() -> None:
    first = Rule("first", re.compile(r"alpha"), (("alpha",),))
    assert rule_hit((first,), "alpha", "alpha") == ("first", first)
    later = Rule("later", re.compile(r"zebra\d"), (("zebra",), ("0", "1", "2")))
    assert rule_hit((later,), "a zebra1 here", "a zebra1 here") == ("later", later)
    assert rule_hit((later,), "a zebra here", "a zebra here") is None  # no digit: the gate stays shut


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("today", True),  # a hint inside another hint's occurrence still counts
        ("on monday", True),
        ("tod ay", False),
    ],
)
def test_hints_are_found_anywhere_even_overlapping(text: str, hit: bool) -> None:
    rule = Rule("day", re.compile(r"day"), (("day", "today", "monday"),))
    assert (rule_hit((rule,), text, text) is not None) is hit


def test_the_gate_skips_the_regex_when_a_hint_group_is_missing() -> None:
    # The pattern would match, but its second hint group is absent: the rule is not run.
    rule = Rule("gated", re.compile(r"cat"), (("cat",), ("dog",)))
    assert rule_hit((rule,), "a cat", "a cat") is None
    assert rule_hit((rule,), "a cat and a dog", "a cat and a dog") == ("gated", rule)
