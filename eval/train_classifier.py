"""Train the learned prompt scorer on the *train* split and write its weights.

Run: ``.venv/bin/python -m eval.train_classifier [--cv 5] [--write]``.

Multinomial logistic regression (softmax) over ``muxer_litellm.routing.classify.learned.features`` of
each prompt's focus text, fitted by AdaGrad with L2 regularisation, in pure Python (a few
hundred prompts: seconds). Features seen in fewer than ``--min-df`` prompts are dropped, and
weights closer to zero than ``--prune`` after training, so the shipped JSON stays small.
``--cv k`` prints k-fold cross-validated accuracy on the train split (the held-out split is
never read here). ``--write`` saves ``muxer_litellm/routing/classify/data/classifier.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from muxer_litellm.routing.classify import classifier
from muxer_litellm.routing.classify.focus import focus_text
from muxer_litellm.routing.classify.learned import MODEL_CLASSES, LearnedModel, text_features

from .dataset import Item, load
from .run import Report, Verdict, confusion, muxer, summary, worst

OUT = Path(__file__).resolve().parent.parent / "muxer_litellm" / "routing" / "classify" / "data" / "classifier.json"

Example = tuple[list[str], int]


def examples(items: Sequence[Item]) -> list[Example]:
    """Items the model learns from: long-context prompts are told apart by size, not words."""
    return [
        (text_features(focus_text(i.messages).lower()), MODEL_CLASSES.index(i.label))
        for i in items
        if i.label in MODEL_CLASSES
    ]


def train(
    data: Sequence[Example], *, epochs: int, l2: float, rate: float, min_df: int, prune: float, seed: int = 7
) -> LearnedModel:
    k = len(MODEL_CLASSES)
    df = Counter(f for feats, _ in data for f in set(feats))
    vocab = {f for f, n in df.items() if n >= min_df}
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


def fit_temperature(data: Sequence[Example], folds: int, **params: float) -> float:
    """The temperature that makes out-of-fold probabilities fit best (least log loss)."""
    shuffled = list(data)
    random.Random(5).shuffle(shuffled)
    scored: list[tuple[list[float], int]] = []
    for fold in range(folds):
        rest = [e for i, e in enumerate(shuffled) if i % folds != fold]
        model = train(rest, **params)  # type: ignore[arg-type]
        scored.extend((model.logits(feats), y) for feats, y in shuffled[fold::folds])

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


def cross_validate(data: Sequence[Example], folds: int, **params: float) -> float:
    shuffled = list(data)
    random.Random(11).shuffle(shuffled)
    scores = []
    for fold in range(folds):
        test = shuffled[fold::folds]
        rest = [e for i, e in enumerate(shuffled) if i % folds != fold]
        scores.append(accuracy(train(rest, **params), test))  # type: ignore[arg-type]
    return sum(scores) / len(scores)


def out_of_fold(items: Sequence[Item], folds: int, temperature: float = 1.0, **params: float) -> Report:
    """The whole classifier (rules + learned scorer) on each train prompt, with a scorer trained
    on the other folds: honest figures for tuning rules and thresholds without the held-out split."""
    shuffled = list(items)
    random.Random(11).shuffle(shuffled)
    verdicts: dict[str, Verdict] = {}
    original = classifier.load_model
    try:
        for fold in range(folds):
            rest = [it for i, it in enumerate(shuffled) if i % folds != fold]
            fitted = train(examples(rest), **params)  # type: ignore[arg-type]
            model = LearnedModel(fitted.classes, fitted.bias, fitted.weights, temperature)
            classifier.load_model = lambda m=model: m  # type: ignore[misc]
            for it in shuffled[fold::folds]:
                verdicts[it.id] = muxer(it)
    finally:
        classifier.load_model = original
    return Report("out-of-fold", items, [verdicts[i.id] for i in items], 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument("--prune", type=float, default=0.02)
    parser.add_argument("--cv", type=int, default=0, help="k-fold cross-validation on the train split")
    parser.add_argument("--oof", type=int, default=0, help="whole classifier, out-of-fold, on the train split")
    parser.add_argument("--worst", type=int, default=20)
    parser.add_argument("--write", action="store_true", help=f"save the model to {OUT}")
    args = parser.parse_args()
    params = {"epochs": args.epochs, "l2": args.l2, "rate": args.rate, "min_df": args.min_df, "prune": args.prune}
    data = examples(load("train"))
    print(f"train split: {len(data)} prompts ({dict(Counter(MODEL_CLASSES[y] for _, y in data))})")
    if args.cv:
        print(f"{args.cv}-fold cross-validated accuracy (model alone): {cross_validate(data, args.cv, **params):.3f}")
    temperature = fit_temperature(data, 5, **params)
    print(f"temperature fitted on out-of-fold predictions: {temperature}")
    if args.oof:
        report = out_of_fold(load("train"), args.oof, temperature, **params)
        print(f"whole classifier, {args.oof}-fold out-of-fold on the train split:")
        summary([report])
        confusion(report)
        worst(report, args.worst)
    model = train(data, **params)  # type: ignore[arg-type]
    model = LearnedModel(model.classes, model.bias, model.weights, temperature)
    print(f"features kept: {len(model.weights)}; accuracy on its own training data: {accuracy(model, data):.3f}")
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(model.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
