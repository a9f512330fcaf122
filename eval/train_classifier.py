"""Train the learned prompt scorer on the *train* split and write its weights.

Run: ``.venv/bin/python -m eval.train_classifier [--cv 5] [--write]``.

Multinomial logistic regression (softmax) over ``muxer_litellm.routing.classify.learned.features`` of
each prompt's focus text, fitted by AdaGrad with L2 regularisation, in pure Python (about
5,000 prompts: some twenty minutes, most of it the five fold scorers). Each prompt is learned
bare and in ``--copies`` wrappings that say nothing about its need (``eval/augment.py``: generic
role prompts, greetings, thanks), so such text gets no weight; system prompts alone
(``eval/data/system/<label>.txt``) are learned too, labelled by the need they point at, since the
classifier asks the scorer whether a system prompt on its own points at one. Features of fewer than
``--min-df`` distinct prompts are dropped, and weights closer to zero than ``--prune`` after
training, so the shipped JSON stays small.
``--cv k`` prints k-fold cross-validated accuracy on the train split, every copy of a prompt in
the same fold (the held-out splits are never read here); ``--select`` picks ``--l2`` and
``--min-df`` by that cross-validation. The temperature is fitted on out-of-fold predictions.
The pleasantry detector the classifier uses to read a request without its greetings and
thanks (``LearnedModel.filler``) is a binary logistic model over ``filler_features``: the
sentences of the augmentation's openers, closers and small talk against the sentences of the
train prompts' own last turns.
``--write`` saves ``muxer_litellm/routing/classify/data/classifier.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from muxer_litellm.routing.classify import classifier
from muxer_litellm.routing.classify.boilerplate import sentences
from muxer_litellm.routing.classify.focus import focus_text
from muxer_litellm.routing.classify.learned import (
    MODEL_CLASSES,
    LearnedModel,
    filler_features,
    logistic,
    text_features,
    tokens,
)

from .augment import CLOSERS, OPENERS, SMALL_TALK, augmented, group, system_prompts
from .dataset import Item, load
from .run import Report, confusion, muxer, summary, worst

OUT = Path(__file__).resolve().parent.parent / "muxer_litellm" / "routing" / "classify" / "data" / "classifier.json"

Example = tuple[list[str], int]


def examples(items: Sequence[Item]) -> list[Example]:
    """Items the model learns from: long-context prompts are told apart by size, not words."""
    return [
        (text_features(focus_text(i.messages).lower()), MODEL_CLASSES.index(i.label))
        for i in items
        if i.label in MODEL_CLASSES
    ]


def folds_of(items: Sequence[Item], folds: int, seed: int) -> list[int]:
    """A fold per item; a prompt and its wrapped copies share one."""
    groups = sorted({group(i.id) for i in items})
    random.Random(seed).shuffle(groups)
    fold = {g: n % folds for n, g in enumerate(groups)}
    return [fold[group(i.id)] for i in items]


def vocabulary(items: Sequence[Item], min_df: int) -> frozenset[str]:
    """The features of at least ``min_df`` distinct prompts: a prompt's wrapped copies count
    once, and what only the wrappings say gets no weight."""
    df = Counter(f for feats, _ in examples([i for i in items if "+" not in i.id]) for f in set(feats))
    return frozenset(f for f, n in df.items() if n >= min_df)


def train(
    items: Sequence[Item], *, epochs: int, l2: float, rate: float, min_df: int, prune: float, seed: int = 7
) -> LearnedModel:
    """The scorer, trained on ``items`` (bare prompts and their wrapped copies)."""
    k = len(MODEL_CLASSES)
    data = examples(items)
    vocab = vocabulary(items, min_df)
    weights: dict[str, list[float]] = {f: [0.0] * k for f in vocab}
    grad_sq: dict[str, list[float]] = {f: [1e-8] * k for f in vocab}
    bias = [0.0] * k
    bias_sq = [1e-8] * k
    rng = random.Random(seed)
    order = list(range(len(data)))
    for _ in range(epochs):
        rng.shuffle(order)
        for idx in order:
            feats, y = data[idx]
            active = [f for f in feats if f in vocab]
            logits = [bias[c] + sum(weights[f][c] for f in active) for c in range(k)]
            top = max(logits)
            exps = [math.exp(x - top) for x in logits]
            total = sum(exps)
            for c in range(k):
                g = exps[c] / total - (1.0 if c == y else 0.0)
                bias_sq[c] += g * g
                bias[c] -= rate * g / math.sqrt(bias_sq[c])
                for f in active:
                    gf = g + l2 * weights[f][c]
                    grad_sq[f][c] += gf * gf
                    weights[f][c] -= rate * gf / math.sqrt(grad_sq[f][c])
    kept = {f: tuple(w) for f, w in weights.items() if max(abs(x) for x in w) >= prune}
    return LearnedModel(MODEL_CLASSES, tuple(bias), kept)


def _sentences(text: str) -> list[str]:
    return [part.lower() for part in sentences(text)]


#: A short sentence (``PLEASANTRY_WORDS`` at most) at either edge of a train prompt's turn whose
#: every need, read on its own, is below ``PLEASANTRY_NEED`` is the prompt's own pleasantry.
PLEASANTRY_NEED = 0.25
PLEASANTRY_WORDS = 6


def _request_sentences(last: str, need: LearnedModel, filler_words: set[str]) -> list[str]:
    """The sentences of a code, reasoning or JSON prompt's last turn that belong to the request:
    not one made only of words the wrappings use ("Thanks so much!"), nor a short one at an edge
    that points at no need ("Sorry to bother you.", "Many thanks.")."""
    parts = _sentences(last)
    edges = {0, len(parts) - 1} if len(parts) > 1 else set()
    return [
        t
        for n, t in enumerate(parts)
        if 0 < len(t.split()) <= 16
        and not set(tokens(t)) <= filler_words
        and not (n in edges and len(t.split()) <= PLEASANTRY_WORDS and need.need_alone(t) < PLEASANTRY_NEED)
    ]


def train_filler(
    items: Sequence[Item], need: LearnedModel, *, epochs: int = 30, l2: float = 1e-3, rate: float = 0.3
) -> tuple[dict[str, float], float]:
    """The pleasantry detector: the wrappings' sentences (openers, closers, small talk) against
    the request sentences (``_request_sentences``, ``need`` being the scorer trained on the same
    prompts) of the bare code, reasoning and JSON train prompts, balanced."""
    fillers = {t for text in (*OPENERS, *CLOSERS, *(u for u, _ in SMALL_TALK)) for t in _sentences(text)}
    filler_words = {w for t in fillers for w in tokens(t)}
    requests = set()
    for item in items:
        if "+" in item.id or item.generated or item.label == "simple":
            continue
        last = next(m["content"] for m in reversed(item.messages) if m["role"] == "user")
        requests.update(_request_sentences(last, need, filler_words))
    requests -= fillers
    data = [(filler_features(t), 1.0) for t in sorted(fillers)] + [(filler_features(t), 0.0) for t in sorted(requests)]
    positive_weight = len(requests) / max(1, len(fillers))
    weights: dict[str, float] = {}
    grad_sq: dict[str, float] = {}
    bias, bias_sq = 0.0, 1e-8
    rng = random.Random(13)
    for _ in range(epochs):
        rng.shuffle(data)
        for feats, y in data:
            z = bias + sum(weights.get(f, 0.0) for f in feats)
            g = (logistic(z) - y) * (positive_weight if y else 1.0)
            bias_sq += g * g
            bias -= rate * g / math.sqrt(bias_sq)
            for f in feats:
                w = weights.get(f, 0.0)
                gf = g + l2 * w
                grad_sq[f] = grad_sq.get(f, 1e-8) + gf * gf
                weights[f] = w - rate * gf / math.sqrt(grad_sq[f])
    print(f"pleasantry detector: {len(fillers)} wrapping sentences against {len(requests)} request sentences")
    return {f: w for f, w in weights.items() if abs(w) >= 0.02}, bias


def _split(items: Sequence[Item], folds: int, fold: int, seed: int) -> tuple[list[Item], list[Example]]:
    """The prompts of the other folds (with copies), and the fold's own bare prompts' examples."""
    where = folds_of(items, folds, seed)
    rest = [it for it, f in zip(items, where, strict=True) if f != fold]
    test = [it for it, f in zip(items, where, strict=True) if f == fold and "+" not in it.id]
    return rest, examples(test)


@dataclass(frozen=True)
class Folds:
    """A scorer per fold, each trained on the other folds (every copy of a prompt in its fold)."""

    where: list[int]
    models: list[LearnedModel]

    def bare(self, items: Sequence[Item]) -> list[tuple[Item, LearnedModel]]:
        """Each bare prompt with the scorer that never saw it."""
        return [(it, self.models[f]) for it, f in zip(items, self.where, strict=True) if "+" not in it.id]


def train_folds(items: Sequence[Item], folds: int, systems: Sequence[Item] = (), **params: float) -> Folds:
    """``systems``: system prompts alone (``augment.system_prompts``), learned by every fold's
    scorer and judged by none (they are no requests)."""
    where = folds_of(items, folds, seed=11)
    models = [
        train([*(it for it, f in zip(items, where, strict=True) if f != fold), *systems], **params)  # type: ignore[arg-type]
        for fold in range(folds)
    ]
    return Folds(where, models)


def fit_temperature(items: Sequence[Item], folds: Folds) -> float:
    """The temperature that makes out-of-fold probabilities fit best (least log loss)."""
    scored = [(model.logits(feats), y) for it, model in folds.bare(items) for feats, y in examples([it])]

    def log_loss(t: float) -> float:
        total = 0.0
        for logits, y in scored:
            top = max(logits)
            norm = math.log(sum(math.exp((x - top) / t) for x in logits))
            total -= (logits[y] - top) / t - norm
        return total / len(scored)

    return min((0.5 + 0.25 * i for i in range(40)), key=log_loss)


def accuracy(model: LearnedModel, data: Sequence[Example]) -> float:
    hits = 0
    for feats, y in data:
        probs = model.probabilities(feats)
        hits += max(probs, key=probs.__getitem__) == MODEL_CLASSES[y]
    return hits / len(data)


def cross_validate(items: Sequence[Item], folds: int, **params: float) -> float:
    """The model's mean accuracy on each fold's bare prompts, trained on the other folds."""
    scores = []
    for fold in range(folds):
        rest, test = _split(items, folds, fold, seed=11)
        scores.append(accuracy(train(rest, **params), test))  # type: ignore[arg-type]
    return sum(scores) / len(scores)


def select(items: Sequence[Item], folds: int, **params: float) -> dict[str, float]:
    """``l2`` by cross-validated accuracy (ties: the stronger regularisation); ``min_df`` 3 keeps
    the shipped weights small at no cost out-of-fold (features of a single prompt fit that
    prompt's accidents: a city name in one estimation puzzle)."""
    best: tuple[float, float, float] | None = None
    for l2 in (1e-2, 3e-3, 1e-3):
        for min_df in (3,):
            score = cross_validate(items, folds, **{**params, "l2": l2, "min_df": min_df})
            print(f"  l2 {l2:g}, min_df {min_df}: {score:.3f}")
            if best is None or score > best[0] + 1e-9:
                best = (score, l2, min_df)
    assert best is not None
    return {**params, "l2": best[1], "min_df": best[2]}


THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)
VETOES = (0.05, 0.1, 0.15, 0.2, 0.25)


def out_of_fold(
    items: Sequence[Item], folds: Folds, temperature: float, filler: tuple[dict[str, float], float]
) -> dict[tuple[float, float], Report]:
    """The whole classifier (rules + learned scorer) on each bare train prompt, with a scorer
    trained on the other folds, for each threshold and veto of ``THRESHOLDS`` x ``VETOES``:
    honest figures for calibrating them without the held-out splits."""
    bare = folds.bare(items)
    reports: dict[tuple[float, float], Report] = {}
    original = classifier.load_model
    try:
        for threshold in THRESHOLDS:
            for veto in VETOES:
                verdicts = []
                for it, m in bare:
                    model = LearnedModel(m.classes, m.bias, m.weights, temperature, threshold, veto, *filler)
                    classifier.load_model = lambda m=model: m  # type: ignore[misc]
                    verdicts.append(muxer(it))
                reports[threshold, veto] = Report("out-of-fold", [it for it, _ in bare], verdicts, 0.0)
    finally:
        classifier.load_model = original
    return reports


#: Out-of-fold differences of under- plus over-routing smaller than this are fold noise.
NOISE = 0.01


def calibrate(reports: dict[tuple[float, float], Report]) -> tuple[float, float]:
    """The threshold and veto with the fewest under- plus over-routed prompts out-of-fold; among
    those within ``NOISE`` of it, the ones whose larger mistake of the two is within ``NOISE`` of
    the rarest (both have the same goal), then of the best accuracy; of those, the highest veto
    (the two mistakes being as rare, an everyday name such as Java or Python is then not taken
    for code), then the lower threshold."""
    print("  threshold  veto  accuracy  under  over")
    for (t, v), r in reports.items():
        print(f"  {t:9.2f}  {v:4.2f}  {r.accuracy()[0]:8.3f}  {r.under:5.3f}  {r.over:4.3f}")

    def near(keys: list[tuple[float, float]], score: Callable[[Report], float]) -> list[tuple[float, float]]:
        best = min(score(reports[k]) for k in keys)
        return [k for k in keys if score(reports[k]) <= best + NOISE]

    keys = near(list(reports), lambda r: r.under + r.over)
    keys = near(keys, lambda r: max(r.under, r.over))
    keys = near(keys, lambda r: -r.accuracy()[0])
    return max(keys, key=lambda k: (k[1], -k[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--min-df", type=int, default=3)
    parser.add_argument("--prune", type=float, default=0.02)
    parser.add_argument("--copies", type=int, default=8, help="wrapped copies of each training prompt")
    parser.add_argument("--select", action="store_true", help="pick --l2 and --min-df by cross-validation")
    parser.add_argument("--cv", type=int, default=0, help="k-fold cross-validation on the train split")
    parser.add_argument(
        "--oof", type=int, default=0, help="calibrate threshold and veto on the whole classifier, out-of-fold"
    )
    parser.add_argument("--worst", type=int, default=20)
    parser.add_argument("--write", action="store_true", help=f"save the model to {OUT}")
    args = parser.parse_args()
    params = {"epochs": args.epochs, "l2": args.l2, "rate": args.rate, "min_df": args.min_df, "prune": args.prune}
    items = augmented(load("train"), args.copies)
    data = examples(items)
    bare = [
        y for i, (_, y) in zip((i for i in items if i.label in MODEL_CLASSES), data, strict=True) if "+" not in i.id
    ]
    print(
        f"train split: {len(bare)} prompts ({dict(Counter(MODEL_CLASSES[y] for y in bare))}), {len(data)} with copies"
    )
    if args.select:
        params = select(items, args.cv or 5, **params)
        print(f"selected by cross-validation: l2 {params['l2']:g}, min_df {params['min_df']:g}")
    if args.cv:
        print(f"{args.cv}-fold cross-validated accuracy (model alone): {cross_validate(items, args.cv, **params):.3f}")
    systems = system_prompts()
    print(f"system prompts alone: {len(systems)} with copies")
    folds = train_folds(items, args.oof or 5, systems, **params)
    temperature = fit_temperature(items, folds)
    print(f"temperature fitted on out-of-fold predictions: {temperature}")
    model = replace(train([*items, *systems], **params), temperature=temperature)  # type: ignore[arg-type]
    filler = train_filler(items, model)
    threshold, veto = 0.6, 0.25
    if args.oof:
        reports = out_of_fold(items, folds, temperature, filler)
        threshold, veto = calibrate(reports)
        report = reports[threshold, veto]
        print(f"whole classifier, {args.oof}-fold out-of-fold, threshold {threshold}, veto {veto}:")
        summary([report])
        confusion(report)
        worst(report, args.worst)
    model = replace(model, threshold=threshold, veto=veto, filler=filler[0], filler_bias=filler[1])
    print(f"features kept: {len(model.weights)}; accuracy on its own training data: {accuracy(model, data):.3f}")
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(model.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
