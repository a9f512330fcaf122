"""Named regular-expression rules and the matcher that runs them cheaply."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import ahocorasick

__all__ = ["Rule", "first_hit", "rule_hit", "rule_signal"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One named pattern. ``hints``: groups of lowercase substrings; every match contains one
    of each group, so when some group is absent from the text the regex is skipped (most prompts
    fire no rule, and one Aho-Corasick pass finds every rule's hints in a text). ``lowered``: the
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

    def __post_init__(self) -> None:
        new = {hint for group in self.hints for hint in group} - _HINTS
        if new:
            _HINTS.update(new)
            _hint_finder.cache_clear()
            _hints_in.cache_clear()


#: Every rule's hints; ``_hints_in`` finds those of a text in one pass (Aho-Corasick).
_HINTS: set[str] = set()


@functools.cache
def _hint_finder() -> ahocorasick.Automaton:
    finder = ahocorasick.Automaton()
    for hint in _HINTS:
        finder.add_word(hint, hint)
    finder.make_automaton()
    return finder


@functools.lru_cache(maxsize=32)
def _hints_in(lower: str) -> frozenset[str]:
    """The rules' hints that occur in ``lower`` (cached: the rule tables read the same request)."""
    found: frozenset[str] = frozenset(hint for _, hint in _hint_finder().iter(lower))
    return found


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
    present: frozenset[str] | None = None  # the text's hints, looked up at the first rule that has some
    for rule in rules:
        if (skip_ambiguous and rule.ambiguous) or (only_ambiguous and not rule.ambiguous):
            continue
        if rule.words and words is not None and not rule.words.isdisjoint(words):
            pass  # the word gate is open
        elif rule.hints:
            if present is None:
                present = _hints_in(lower)
            if not all(not present.isdisjoint(group) for group in rule.hints):
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
