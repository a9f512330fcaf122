"""Word-list rules over the user's own words: programming and maths vocabulary, word pairs,
and swapped-letter typos of both (see ``vocabulary``); and questions about a word, where such
vocabulary names the subject instead of calling for its work."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

from .learned import STOP_WORDS, word_features
from .vocabulary import (
    AMBIGUOUS_CODE_NAMES,
    CJK_CODE_WORDS,
    CODE_NOUNS,
    CODE_PHRASES,
    CODE_TERMS,
    REASONING_PHRASES,
    REASONING_TERMS,
    with_anagrams,
)

__all__ = ["ABOUT_A_WORD_WORDS", "asks_about_a_word", "asks_for_prose", "code_terms", "reasoning_terms"]

_CODE_TERM_KEYS = with_anagrams(CODE_TERMS)
_CODE_TERM_FEATURES = frozenset(_CODE_TERM_KEYS)
_LONG_CODE_TERM_FEATURES = frozenset(k for k, w in _CODE_TERM_KEYS.items() if len(w) > 3)
_REASONING_TERM_KEYS = with_anagrams(REASONING_TERMS)
_REASONING_TERM_FEATURES = frozenset(_REASONING_TERM_KEYS)


def _terms(user_words: AbstractSet[str], wanted: frozenset[str], keys: Mapping[str, str], label: str) -> str | None:
    """A listed word, or its swapped-letter typo, that the user wrote (not the system prompt:
    "You are a backend service" is a persona, not a programming question)."""
    hits = wanted.intersection(user_words)
    if not hits:
        hits = wanted.intersection(_typo_keys(user_words))
    return f"{label} {min(keys[h] for h in hits)!r}" if hits else None


def _typo_keys(user_words: AbstractSet[str]) -> set[str]:
    """Anagram keys of the user's longer words, to match swapped-letter typos."""
    return {word_features(w)[1] for w in user_words if len(w) >= 6 and w not in STOP_WORDS}


def code_terms(
    user_words: AbstractSet[str], user_lower: str, *, allow_ambiguous: bool, allow_short: bool
) -> str | None:
    """A word only programmers use, or an everyday name beside a code word ("pandas" +
    "dataframe"), written by the user; typos with swapped letters count ("pyhton scirpt")."""
    # A term of three letters or fewer ("api", "cli", "css") is also an abbreviation or a typo
    # of an everyday word: it counts unless the scorer is sure the prompt is simple.
    wanted = _CODE_TERM_FEATURES if allow_short else _LONG_CODE_TERM_FEATURES
    hit = _terms(user_words, wanted, _CODE_TERM_KEYS, "programming words")
    if hit is not None:
        return hit
    hit = _phrase(user_words, user_lower, _CODE_PHRASES, "programming words")
    if hit is not None or not allow_ambiguous:
        return hit
    typos = _typo_keys(user_words)
    names = AMBIGUOUS_CODE_NAMES.intersection(user_words) | {_NAME_KEYS[k] for k in typos & _NAME_KEYS.keys()}
    if not names:
        return None
    nouns = sorted(CODE_NOUNS.intersection(user_words) | {_NOUN_KEYS[k] for k in typos & _NOUN_KEYS.keys()})
    nouns += [w for w in CJK_CODE_WORDS if w in user_lower]
    # A one-letter name ("C") is a language only right before its noun: "a C function", not "vitamin C".
    pair = next(
        ((n, m) for n in sorted(names) for m in nouns if n != m and (len(n) > 1 or _written(f"{n} {m}", user_lower))),
        None,
    )
    return None if pair is None else f"programming words {pair[0]!r} + {pair[1]!r}"


_NAME_KEYS = {k: w for k, w in with_anagrams(AMBIGUOUS_CODE_NAMES).items() if k.startswith("%")}
_NOUN_KEYS = {k: w for k, w in with_anagrams(CODE_NOUNS).items() if k.startswith("%")}


def _written(phrase: str, lower: str) -> bool:
    """``phrase`` is in ``lower`` as whole words ("big o", not the start of "big one")."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", lower) is not None


def _phrase(
    user_words: AbstractSet[str], user_lower: str, phrases: Mapping[str, tuple[str, ...]], label: str
) -> str | None:
    """A listed word pair the user wrote ("linked list", "lazy-load"); ``phrases`` is keyed by
    the pair's first word, so only pairs whose first word occurs are looked for."""
    hits = [
        p
        for w in user_words & phrases.keys()
        for p in phrases[w]
        if _written(p, user_lower) or _written(p.replace(" ", "-"), user_lower)
    ]
    return f"{label} {min(hits)!r}" if hits else None


def _by_first_word(phrases: frozenset[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for phrase in sorted(phrases):
        out.setdefault(phrase.split()[0], []).append(phrase)
    return {k: tuple(v) for k, v in out.items()}


_CODE_PHRASES = _by_first_word(CODE_PHRASES)
_REASONING_PHRASES = _by_first_word(REASONING_PHRASES)


def reasoning_terms(user_words: AbstractSet[str], user_lower: str) -> str | None:
    """A word or word pair only maths and logic problems use, written by the user."""
    return _terms(user_words, _REASONING_TERM_FEATURES, _REASONING_TERM_KEYS, "math words") or _phrase(
        user_words, user_lower, _REASONING_PHRASES, "math words"
    )


#: A question about a word names it without needing its work: "Where does the word 'algorithm'
#: come from?", "what does the Y in YAML stand for?", "Que veut dire « lagom » ?", or a
#: definition asked for a layperson ("My kid asked what a prime number is, how do I explain it
#: simply?").
_QUOTE = "['\"\u2018\u2019\u201c\u201d\u00ab\u00bb\u300c\u300d\u201e]"
_WORD = r"(?:word|term|expression|phrase|name|acronym|abbreviation|letter)"
_ABOUT_A_WORD = re.compile(
    # "what does HTML stand for", "where does the word 'algorithm' come from", "what does the
    # term 'hypotenuse' mean" (a bare "what does idempotent mean for an endpoint" is a concept,
    # "where does the data come from" a question about a program)
    rf"\bwhat (?:does|do|did) (?:the {_WORD} )?{_QUOTE}?[\w .'-]{{1,40}}?{_QUOTE}? stand for\b"
    rf"|\b(?:what|where) (?:does|do|did) (?:the {_WORD} {_QUOTE}?|{_QUOTE})[\w .'-]{{1,40}}?{_QUOTE}?"
    r" (?:mean|come from)\b"
    r"|\bwhat(?: is|'s) the (?:meaning|origin|etymology) of (?:the )?(?:word|term|expression)\b"
    r"|\bwhat does the \w+ in [\w.-]+ stand for\b"
    # the same in other languages, for a word in quotes: "Vad betyder ordet 'lagom'?"
    r"|\b(?:que (?:veut dire|signifie)|qu[ée] significa|qu[ée] quiere decir|was (?:bedeutet|hei(?:ß|ss)t)"
    r"|cosa (?:significa|vuol dire)|o que (?:significa|quer dizer)|vad betyder|wat betekent|co (?:znaczy|oznacza)"
    r"|что (?:значит|означает)|ne demek)(?: (?:le mot|l'expression|la palabra|la expresión|das wort|ordet|het woord"
    rf"|la parola|a palavra|słowo|слово))? ?{_QUOTE}"
    rf"|{_QUOTE} ?(?:是什么意思|什么意思|とは?どういう意味|는? 무슨 뜻|뜻이 뭐|ne demek)"
)
#: ... asked for a layperson: one of these and a "what".
_FOR_A_LAYPERSON = re.compile(
    r"\b(?:in (?:simple|plain) (?:words|terms|english)|like i'?m (?:five|5|a kid)|eli5|simply"
    r"|to (?:a|my) (?:kid|child|son|daughter|grandma|grandmother|mum|mom|dad|parents))\b"
)
#: Asking to make something: "Write a function that explains, in simple words, what..." is no
#: question about a word.
_MAKING = frozenset(["write", "implement", "build", "create", "generate", "code", "program", "script"])
#: A question about a word is short: at most this many words.
ABOUT_A_WORD_WORDS = 30


def asks_about_a_word(user_lower: str, user_words: Sequence[str]) -> bool:
    """A short request that asks what a word means, where it comes from or what it stands for,
    or what something is in words for a layperson, with no number to work on: its technical or
    maths words name the subject, they do not call for code or a worked answer."""
    if len(user_words) > ABOUT_A_WORD_WORDS or "0" in user_words:  # numbers are "0" in the word list
        return False
    if _ABOUT_A_WORD.search(user_lower) is not None:
        return True
    words = set(user_words)
    return "what" in words and words.isdisjoint(_MAKING) and _FOR_A_LAYPERSON.search(user_lower) is not None


_PROSE_NOUN = (
    r"(?:e-?mails?|mails?|messages?|msg|texts?|notes?|letters?|reviews?|repl(?:y|ies)|posts?|captions?|poems?|"
    r"speech|toast|bio|apology|invitation|announcement|card|tweet|slogan|paragraph|story|haiku|limerick|sms|"
    r"out-of-office|thank-you|courriel|lettre|mensaje|correo|carta|rese\u00f1a|nachricht|brief|messaggio|"
    r"lettera|recensione|mensagem|poema|po\u00e8me|gedicht|poesia|sentences?|wording|zin|satz|frase|texto|testo|tekst)"
)
#: A change of tone: "friendlier", "more formal", "formeler", "plus poli".
_TONE = (
    r"(?:friendl\w*|polite\w*|formal\w*|formeler|formeller|casual|professional\w*|h\u00f6flich\w*|beleefd\w*|"
    r"poli\w*|educad\w*|gentile|cort\u00e9s|kinder|warmer|less (?:rude|harsh|passive-aggressive|blunt))"
)
#: Asking to write prose: "help me write a nice review", "draft a friendly reply to a customer",
#: "rewrite this to sound friendlier", "make this more professional", "écris un court message",
#: "schreib eine E-Mail" (what comes between verb and noun is no code word: "write a script that
#: emails me" is code).
_PROSE = re.compile(
    r"\b(?:write|rewrite|draft|compose|reword|rephrase|help me (?:write|word|phrase)|\u00e9cris|r\u00e9dige|"
    r"r\u00e9\u00e9cris|escribe|redacta|reescribe|schreib\w*|formulier\w*|scrivi|riscrivi|escrev\w*|reescrev\w*)"
    r"\b(?: (?!(?:script|query|function|program|formula|macro|code|command|regex|class|tests?|bot|app)\b)"
    r"[\w'-]+){0,4}? " + _PROSE_NOUN + r"\b"
    # "rewrite 'The function of this committee is...' to sound more inspiring"
    r"|\b(?:rewrite|reword|rephrase)\b(?:(?!\b(?:script|query|function|program|code|class|method)\b)[^\n]){0,200}?"
    r"\bto sound\b"
    r"|\b(?:rewrite|reword|rephrase) this (?:to|so)\b[^.?!\n]{0,30}\b(?:sound|tone|friendl|polite|formal|kind)"
    # "make this more professional", "can you make it sound friendlier"
    r"|\bmake (?:this|it|that|my (?:message|email|reply|text|note)) (?:sound |read )?(?:a (?:bit|little) |much )?"
    r"(?:more |less )?" + _TONE + r"\b"
    r"|\b" + _PROSE_NOUN + r"\b[^.?!\n]{0,40}\b" + _TONE + r"\b"
)


def asks_for_prose(user_lower: str) -> bool:
    """A request to write or rewrite prose (an email, a message, a review, a poem): an everyday
    task however technical its subject, so the learned scorer's guess of code or reasoning does
    not add a class (rules still do)."""
    return _PROSE.search(user_lower) is not None
