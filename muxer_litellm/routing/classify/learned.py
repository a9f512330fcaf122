"""A small learned prompt scorer: multinomial logistic regression over sparse text features.

Rules (``classifier``) are precise but only see what someone thought to write down; this
model scores what they miss ("Is 221 prime?", "pyhton scirpt", a word problem in Spanish).
It is trained by ``eval/train_classifier.py`` on the repository's labelled set (train split
only, each prompt also in wrappings that say nothing about its need) and shipped as
``data/classifier.json``: per-feature weights, the softmax temperature and the calibrated
``threshold`` and ``veto``; no runtime dependency, inference is a few hundred dict lookups in
pure Python (tens of microseconds).

Features of the *focus text* (see ``focus.focus_text``; the classifier leaves out what says
nothing about the need, see ``boilerplate``), lowercased, numbers written
``0``: words other than function words (``STOP_WORDS``), neighbouring word pairs but two
function words, character 4-grams of words (inflections share most of them), the
anagram key of words of five letters or more (a swapped-letter typo has the same one),
symbols (``{ } ; = ( ) ` $ %``...), how many numbers it holds and how long it is.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal, TypeVar

from .vocabulary import anagram_key

__all__ = [
    "MODEL_CLASSES",
    "STOP_WORDS",
    "LearnedModel",
    "ModelClass",
    "features",
    "filler_features",
    "load_model",
    "logistic",
    "symbols",
    "text_features",
    "tokens",
    "word_features",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: The classes the model tells apart (long context, vision and tools are structural).
ModelClass = Literal["simple", "code", "reasoning", "json"]
MODEL_CLASSES: tuple[ModelClass, ...] = ("simple", "code", "reasoning", "json")

#: Latin (with accents) and Cyrillic words, single letters of other scripts (CJK has no
#: spaces: its letter pairs become the word pairs), and numbers (folded to "0").
_WORD = re.compile(r"[a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]+|[\u0400-\u04ff]+|[^\W\d_]|0")
_DIGITS = re.compile(r"\d+(?:[-/:.,]\d+)*")  # "555-123-4567", "2024-03-15", "9:15" are one each
_SYMBOL = re.compile(r"[^\w\s]")
#: Function words say little about a prompt's need and, learned from a few hundred prompts,
#: mostly noise ("do" would mean code, French "entre" reasoning): they count only in pairs with
#: other words. English and the languages the eval set has most of.
STOP_WORDS = _words(
    """
    a an the i me my you your he she it its we our they their them this that these those is are was were be
    been being am do does did have has had to of in on at by for with from about as into over out up so than
    too very can could should would will may might must not no or and but if then when where why how what
    which who whom there here just also only s t d ll re ve m don please thanks
    der die das und ist ich ein eine zu mit auf für von den dem es sie wie was le la les de des du un une
    et est en que qui pour dans sur au ce il je vous el los las del y por para con se lo di che per è o os
    do da um uma het een van ik je и в не на что как я с
    without within between among during upon via
    entre avec sans sur sous mais ou donc car par chez aussi très plus moins comme quand où ne pas se sa son
    ses leur leurs nous ils elle elles y cette cet ces mon ma mes ton ta tes quel quelle quels quelles
    sin sobre desde hasta muy más pero como cuando donde porque qué cuál cuáles cómo dónde es son unos unas
    al su sus mi mis tu tus me te nos este esta estos estas ese esa
    zwischen ohne über unter durch gegen bei nach aus auch sehr mehr oder aber nicht wer wo warum welche
    welcher welches kann können im ins am zum zur einen einem einer dass mein meine dein deine
    tra fra su con senza molto più ma come quando dove perché qual quale sono il lo gli i una nel nella della
    delle dei mio mia sem muito mais mas onde qual são no na nos nas ao aos meu minha
    """  # noqa: RUF001 (Russian)
)


def tokens(lower: str) -> list[str]:
    """The words of lowercased text, in order, with every number written "0"."""
    return _WORD.findall(_DIGITS.sub("0", lower))


def _length_bucket(n: int) -> str:
    return "len:1" if n <= 4 else "len:2" if n <= 12 else "len:3" if n <= 40 else "len:4"


def features(toks: Sequence[str], marks: Iterable[str] = ()) -> list[str]:
    """The sparse features of a word list (:func:`tokens`) and the text's symbols
    (:func:`symbols`), see the module docstring: each distinct symbol, word pair and content
    word once, with the word's own anagram key and 4-grams (so a 4-gram two words share counts
    twice: a word's features are scored as one cached vector, see ``LearnedModel``)."""
    stop = STOP_WORDS
    out = list(set(marks))
    out.extend({f"{a} {b}" for a, b in itertools.pairwise(toks) if a not in stop or b not in stop})
    for word in {w for w in toks if w not in stop}:
        out.extend(word_features(word))
    out.extend(_counts(toks))
    return out


def _counts(toks: Sequence[str]) -> tuple[str, str]:
    numbers = toks.count("0")
    return f"num:{min(numbers, 3)}", _length_bucket(len(toks) - numbers)


def symbols(lower: str) -> set[str]:
    """The distinct symbols of a text (``{ } ; = ? $ %``...)."""
    return set(_SYMBOL.findall(lower))


def text_features(lower: str) -> list[str]:
    """``features`` of a lowercased text (what the training script uses; the classifier
    scores the focus text's parts the same way, see ``LearnedModel.probabilities_of``)."""
    return features(tokens(lower), symbols(lower))


def logistic(z: float) -> float:
    """The logistic function (clamped, so no ``math.exp`` overflows): the pleasantry detector's
    probability from its score."""
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def filler_features(lower: str) -> list[str]:
    """Features of a short edge sentence for the pleasantry detector (``LearnedModel.filler``):
    every word, function words included ("thank you so much", "sorry to"), its 4-grams, word
    pairs and symbols; what makes a sentence a greeting or thanks is mostly its function words."""
    toks = tokens(lower)
    out = list(symbols(lower))
    out.extend({f"{a} {b}" for a, b in itertools.pairwise(toks)})
    for word in set(toks):
        out.extend(word_features(word) if word not in STOP_WORDS else (word,))
    return out


@functools.lru_cache(maxsize=16384)
def word_features(word: str) -> tuple[str, ...]:
    """A content word, its anagram key (five letters or more) and its 4-grams ("~" keeps them
    apart from 4-letter words); cached, since most words recur."""
    out = [word]
    if len(word) > 4:
        out.append(anagram_key(word))
    if len(word) > 3:
        padded = f"<{word}>"
        out.extend("~" + padded[i : i + 4] for i in range(len(padded) - 3))
    return tuple(out)


_WORD_CACHE_LIMIT = 65536

_V = TypeVar("_V")


def _remember(cache: dict[str, _V], key: str, value: _V) -> _V:
    """``cache[key] = value`` in a cache of at most ``_WORD_CACHE_LIMIT`` entries (emptied when
    full: what recurs is soon back)."""
    if len(cache) >= _WORD_CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


@dataclass(frozen=True, slots=True)
class LearnedModel:
    """Weights per feature, one per class in ``classes`` order, and a bias per class."""

    classes: tuple[str, ...]
    bias: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]
    #: Logits are divided by this before the softmax: fitted on out-of-fold predictions so
    #: that probabilities mean what they say (a model trained on a few hundred prompts is
    #: otherwise sure of everything).
    temperature: float = 1.0
    #: The probability at which the scorer adds code or reasoning on its own, and the one of all
    #: needs together below which it vetoes an everyday-word rule: calibrated on out-of-fold
    #: predictions of the train split.
    threshold: float = 0.6
    veto: float = 0.25
    #: The pleasantry detector: a logistic model (weight per ``filler_features`` feature, and a
    #: bias) of whether a short sentence at the edge of a turn is a greeting, an apology, thanks
    #: or a sign-off rather than part of the request; learned from the training wrappings
    #: against the training prompts' own sentences (see ``boilerplate``). Empty: none shipped.
    filler: Mapping[str, float] = field(default_factory=dict)
    filler_bias: float = 0.0
    # word -> the summed weights of its own features (None: none has a weight). Filled as
    # words are seen; a dict is safe to share between threads and requests.
    _words: dict[str, tuple[float, ...] | None] = field(default_factory=dict, init=False, repr=False, compare=False)
    # text -> its likeliest need's probability read alone (``need_alone``), for parts that
    # recur (system prompts, greetings).
    _parts: dict[str, float] = field(default_factory=dict, init=False, repr=False, compare=False)
    # sentence -> how surely it is a pleasantry (``filler_alone``).
    _fillers: dict[str, float] = field(default_factory=dict, init=False, repr=False, compare=False)

    def logits(self, feats: Iterable[str]) -> list[float]:
        get = self.weights.get
        return self._sum([w for f in feats if (w := get(f)) is not None])

    def _sum(self, rows: list[tuple[float, ...]]) -> list[float]:
        if not rows:
            return list(self.bias)
        return [b + sum(col) for b, col in zip(self.bias, zip(*rows, strict=True), strict=True)]

    def _word(self, word: str) -> tuple[float, ...] | None:
        try:
            return self._words[word]
        except KeyError:
            pass
        get = self.weights.get
        rows = [w for f in word_features(word) if (w := get(f)) is not None]
        return _remember(self._words, word, tuple(map(sum, zip(*rows, strict=True))) if rows else None)

    def _text_rows(self, toks: Sequence[str], marks: Iterable[str]) -> list[tuple[float, ...]]:
        """The weights of the symbols, word pairs and words (not the counts)."""
        get = self.weights.get
        stop = STOP_WORDS
        rows = [w for f in set(marks) if (w := get(f)) is not None]
        pairs = {f"{a} {b}" for a, b in itertools.pairwise(toks) if a not in stop or b not in stop}
        rows.extend([w for f in pairs if (w := get(f)) is not None])
        word = self._word
        rows.extend([v for t in {t for t in toks if t not in stop} if (v := word(t)) is not None])
        return rows

    def logits_of(self, toks: Sequence[str], marks: Iterable[str]) -> list[float]:
        """``logits(features(toks, marks))``, faster: one cached vector per distinct word."""
        get = self.weights.get
        rows = self._text_rows(toks, marks)
        rows.extend([w for f in _counts(toks) if (w := get(f)) is not None])
        return self._sum(rows)

    def softmax(self, logits: Sequence[float]) -> dict[str, float]:
        top = max(logits)
        exps = [math.exp((x - top) / self.temperature) for x in logits]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}

    def probabilities(self, feats: Iterable[str]) -> dict[str, float]:
        """Softmax over the classes."""
        return self.softmax(self.logits(feats))

    def probabilities_of(self, toks: Sequence[str], marks: Iterable[str]) -> dict[str, float]:
        """``probabilities(features(toks, marks))`` by the fast path."""
        return self.softmax(self.logits_of(toks, marks))

    def need_alone(self, lower: str) -> float:
        """The probability of the likeliest class other than "simple" of a lowercased text
        read on its own (cached): how surely it points at a need."""
        try:
            return self._parts[lower]
        except KeyError:
            pass
        probs = self.probabilities_of(tokens(lower), symbols(lower))
        return _remember(self._parts, lower, max(v for c, v in probs.items() if c != "simple"))

    def filler_alone(self, lower: str) -> float:
        """How surely a short lowercased sentence is a pleasantry that says nothing about the
        need (0 when no detector is shipped); cached, since pleasantries recur."""
        if not self.filler:
            return 0.0
        try:
            return self._fillers[lower]
        except KeyError:
            pass
        get = self.filler.get
        z = self.filler_bias + sum(get(f, 0.0) for f in filler_features(lower))
        return _remember(self._fillers, lower, logistic(z))

    def evidence(self, feats: Iterable[str], cls: str, n: int = 3) -> list[str]:
        """The words that pushed hardest towards ``cls`` (for the routing reason)."""
        k = self.classes.index(cls)
        scored = []
        for f in set(feats):
            w = self.weights.get(f)
            if w is None or " " in f or f.startswith(("~", "%", "num:", "len:")) or not f[0].isalpha():
                continue
            margin = w[k] - max(v for j, v in enumerate(w) if j != k)
            if margin > 0:
                scored.append((margin, f))
        return [f for _, f in sorted(scored, reverse=True)[:n]]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LearnedModel:
        classes = tuple(str(c) for c in data["classes"])
        width = len(classes)
        # Weights have three decimals, so a few thousand values recur: one float object each.
        shared: dict[float, float] = {}
        weights = {str(k): tuple(shared.setdefault(float(x), float(x)) for x in v) for k, v in data["weights"].items()}
        if any(len(w) != width for w in weights.values()) or len(data["bias"]) != width:
            raise ValueError("classifier weights do not match the number of classes")
        temperature = float(data.get("temperature", 1.0))
        if not temperature > 0:
            raise ValueError("classifier temperature must be positive")
        threshold = float(data.get("threshold", 0.6))
        veto = float(data.get("veto", 0.25))
        if not 0 <= veto < threshold <= 1:
            raise ValueError("classifier thresholds must satisfy 0 <= veto < threshold <= 1")
        filler_data = data.get("filler") or {}
        filler = {str(k): shared.setdefault(float(v), float(v)) for k, v in filler_data.get("weights", {}).items()}
        filler_bias = float(filler_data.get("bias", 0.0))
        bias = tuple(float(b) for b in data["bias"])
        return cls(classes, bias, weights, temperature, threshold, veto, filler, filler_bias)

    def to_json(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "bias": [round(b, 4) for b in self.bias],
            "temperature": round(self.temperature, 3),
            "threshold": round(self.threshold, 3),
            "veto": round(self.veto, 3),
            "weights": {f: [round(x, 3) for x in w] for f, w in sorted(self.weights.items())},
            "filler": {
                "bias": round(self.filler_bias, 4),
                "weights": {f: round(w, 3) for f, w in sorted(self.filler.items())},
            },
        }


@functools.cache
def load_model() -> LearnedModel | None:
    """The shipped model, or None when the data file is missing or unreadable (then the
    classifier runs on rules alone)."""
    try:
        text = resources.files(__package__).joinpath("data", "classifier.json").read_text(encoding="utf-8")
        return LearnedModel.from_json(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError):
        return None
