"""Named regular-expression rules and the matcher that runs them cheaply."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

__all__ = ["Rule", "first_hit", "rule_hit", "rule_signal"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One named pattern. ``hints``: groups of lowercase substrings; every match contains one
    of each group, so when some group is absent from the text the regex is skipped (a substring
    test is ~10x cheaper than a regex scan, and most prompts fire no rule). ``lowered``: the
    pattern is written in lowercase and runs on the lowercased text (cheaper than IGNORECASE).
    ``ambiguous``, ``words``: see the fields; with both ``words`` and ``hints``, either opens."""

    label: str
    pattern: re.Pattern[str]
    hints: tuple[tuple[str, ...], ...] = ()
    lowered: bool = True
    quote: bool = False
    #: Also an everyday word ("a week in Java"): ignored when the learned scorer is sure the
    #: prompt is not code (``LearnedModel.veto``).
    ambiguous: bool = False
    #: Rules read on the focus text may instead (or also) name words, one of which the text
    #: must contain: a set test on words already split is far cheaper than substring scans.
    words: frozenset[str] = frozenset()
    #: A further test of the matched text (a match it rejects is skipped).
    accept: Callable[[str], bool] | None = None


@functools.cache
def _ignorecase(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern, pattern.flags | re.IGNORECASE)


def first_hit(rules: Sequence[Rule], text: str, lower: str, *, skip_ambiguous: bool = False) -> str | None:
    """The signal of the first rule that matches ``text`` (``lower`` is ``text.lower()``)."""
    hit = rule_hit(rules, text, lower, skip_ambiguous=skip_ambiguous)
    return None if hit is None else hit[0]


def rule_hit(
    rules: Sequence[Rule],
    text: str,
    lower: str,
    *,
    skip_ambiguous: bool = False,
    only_ambiguous: bool = False,
    words: AbstractSet[str] | None = None,
) -> tuple[str, Rule] | None:
    """The signal and rule of the first rule that matches ``text`` (``words``: its words, for
    rules gated by ``Rule.words``)."""
    same_length = len(lower) == len(text)  # lower() can change the length of a few characters
    for rule in rules:
        if (skip_ambiguous and rule.ambiguous) or (only_ambiguous and not rule.ambiguous):
            continue
        if rule.words and words is not None and not rule.words.isdisjoint(words):
            pass  # the word gate is open
        elif rule.hints:
            if not all(any(map(lower.__contains__, group)) for group in rule.hints):
                continue
        elif rule.words and words is not None:
            continue
        if rule.lowered and not same_length:
            matches = _ignorecase(rule.pattern).finditer(text)
        else:
            matches = rule.pattern.finditer(lower if rule.lowered else text)
        for match in matches:
            if rule.accept is not None and not rule.accept(match.group(0)):
                continue
            if not rule.quote:
                return rule.label, rule
            return f"{rule.label} {text[match.start() : match.end()].strip()[:30]!r}", rule
    return None


def rule_signal(rules: Sequence[Rule], text: str, lower: str, words: AbstractSet[str]) -> str | None:
    """The signal of the first rule that matches, opening word-gated rules by ``words``."""
    hit = rule_hit(rules, text, lower, words=words)
    return None if hit is None else hit[0]
