"""``make eval``: how well prompt classification routes the labelled set (a benchmark, not a test).

Run: ``.venv/bin/python -m eval.run [--split train|heldout|all] [--worst 12] [--no-modelmuxer]``.

For each split it prints, for muxer-litellm's default classifier (``classify_prompt``) and,
when it imports cleanly from ``MODELMUXER_SRC`` (default ``../shared/hosts/modelmuxer`` from
the repository root), ModelMuxer's own heuristic intent classifier (its ``classify_intent``
path without an intent LLM; imported at run time, never copied here):

- accuracy of the predicted need (simple, code, reasoning, json, long_context),
- under-routing: prompts that need code or reasoning but would go to a tier-1 (cheap) model,
- over-routing: simple prompts that would go to a tier-2+ (strong) model,
- per-class precision and recall, a confusion matrix, accuracy on slices (tricky negatives,
  typos, other languages, conversations, system prompts), the worst misses, and CPU per decision,
- on the held-out splits, invariance: each prompt bare and in each wrapping of
  ``eval/invariance.py`` (a generic role prompt, greetings, thanks...), the share of wrapped
  variants whose need changes (flip rate) and over/under-routing wrapped beside bare.

"Would go to a strong model" is what routing does with the profile: ``required_tier`` with the
default ``RoutingConfig`` (so the confidence escalation counts) for muxer-litellm, and intent
``code_gen``/``deep_reason`` for ModelMuxer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from muxer_litellm.routing import RoutingConfig, classify_prompt
from muxer_litellm.routing.classify import PromptProfile
from muxer_litellm.routing.select import required_tier

from .dataset import HELDOUT_SPLITS, LABELS, SPLITS, Item, load
from .invariance import WRAPPINGS, wrapped

ROOT = Path(__file__).resolve().parent.parent
STRONG_NEEDS = ("code", "reasoning")  # under-routing is counted over these labels
CONFIG = RoutingConfig()


@dataclass(frozen=True)
class Verdict:
    label: str  # predicted need, one of LABELS
    strong: bool  # would routing require a tier >= 2 model
    confidence: float | None
    why: str


Classifier = Callable[[Item], Verdict]


def primary_of(profile: PromptProfile) -> str:
    """The one need a profile stands for (older profiles have no ``primary``: by priority)."""
    primary = getattr(profile, "primary", None)
    if primary in LABELS:
        return str(primary)
    for label in ("long_context", "code", "reasoning", "json"):
        if label in profile.classes:
            return label
    return "simple"


def muxer(item: Item) -> Verdict:
    profile = classify_prompt(item.messages, **item.request)
    need, _ = required_tier(profile, CONFIG)
    return Verdict(primary_of(profile), need >= 2, getattr(profile, "confidence", None), profile.describe())


_MM_LABELS = {"code_gen": "code", "deep_reason": "reasoning", "json_extract": "json"}


def modelmuxer() -> tuple[Classifier | None, str]:
    """ModelMuxer's heuristic intent classifier, or None and why it is skipped."""
    src = Path(os.environ.get("MODELMUXER_SRC", ROOT.parent / "shared" / "hosts" / "modelmuxer")).resolve()
    if not (src / "app" / "core" / "intent.py").is_file():
        return None, f"ModelMuxer column skipped: no app/core/intent.py under MODELMUXER_SRC={src}"
    sys.path.insert(0, str(src))
    try:
        from app.core.intent import _heuristic_classify  # type: ignore[import-not-found]
    except Exception as exc:  # any import-time failure just drops the column
        return None, f"ModelMuxer column skipped: importing app.core.intent failed ({type(exc).__name__}: {exc})"
    finally:
        sys.path.remove(str(src))

    def classify(item: Item) -> Verdict:
        # classify_intent joins every message's content, then (no intent LLM set) runs this.
        text = "\n".join(m["content"] for m in item.messages if m.get("content"))
        intent, confidence, _ = _heuristic_classify(text)
        label = _MM_LABELS.get(intent, "simple")
        return Verdict(label, label in ("code", "reasoning"), float(confidence), intent)

    return classify, f"ModelMuxer: heuristic intent classifier from {src}"


@dataclass
class Report:
    name: str
    items: Sequence[Item]
    verdicts: Sequence[Verdict]
    cpu_us: float

    def accuracy(self, keep: Callable[[Item], bool] = lambda _: True) -> tuple[float, int]:
        pairs = [(i, v) for i, v in zip(self.items, self.verdicts, strict=True) if keep(i)]
        if not pairs:
            return float("nan"), 0
        return sum(i.label == v.label for i, v in pairs) / len(pairs), len(pairs)

    def rate(self, labels: Sequence[str], strong: bool) -> float:
        pairs = [(i, v) for i, v in zip(self.items, self.verdicts, strict=True) if i.label in labels]
        return sum(v.strong is strong for _, v in pairs) / len(pairs) if pairs else float("nan")

    @property
    def under(self) -> float:
        return self.rate(STRONG_NEEDS, strong=False)

    @property
    def over(self) -> float:
        return self.rate(("simple",), strong=True)

    def recall(self, label: str) -> float:
        pairs = [v for i, v in zip(self.items, self.verdicts, strict=True) if i.label == label]
        return sum(v.label == label for v in pairs) / len(pairs) if pairs else float("nan")

    def precision(self, label: str) -> float:
        pairs = [i for i, v in zip(self.items, self.verdicts, strict=True) if v.label == label]
        return sum(i.label == label for i in pairs) / len(pairs) if pairs else float("nan")


def run(name: str, classify: Classifier, items: Sequence[Item]) -> Report:
    verdicts = [classify(i) for i in items]
    start = time.process_time()
    rounds = 3
    for _ in range(rounds):
        for i in items:
            classify(i)
    cpu = (time.process_time() - start) / (rounds * len(items)) * 1e6
    return Report(name, items, verdicts, cpu)


def _f(x: float) -> str:
    return "  n/a" if x != x else f"{x:5.2f}"


def summary(reports: Sequence[Report]) -> None:
    width = max(len(r.name) for r in reports)
    print(f"  {'':{width}}  accuracy  under-routing  over-routing  " + "  ".join(f"{c[:6]:>6}" for c in LABELS))
    for r in reports:
        acc, _ = r.accuracy()
        recalls = "  ".join(f"{_f(r.recall(c)):>6}" for c in LABELS)
        print(f"  {r.name:{width}}     {_f(acc)}          {_f(r.under)}         {_f(r.over)}  {recalls}   (recall)")
    for r in reports:
        precisions = "  ".join(f"{_f(r.precision(c)):>6}" for c in LABELS)
        print(f"  {r.name:{width}}  {'':40}{precisions}   (precision)")
    for r in reports:
        json_strong = r.rate(("json",), strong=True)
        cpu = f"; CPU per decision {r.cpu_us:.0f} us" if r.cpu_us else ""
        print(f"  {r.name:{width}}  json prompts sent to a strong model: {_f(json_strong)}{cpu}")


_SLICES: tuple[tuple[str, Callable[[Item], bool]], ...] = (
    ("tricky negatives", lambda i: "negative" in i.tags),
    ("typos", lambda i: "typo" in i.tags),
    ("not English", lambda i: i.lang != "en"),
    ("conversations", lambda i: sum(m["role"] == "user" for m in i.messages) > 1),
    ("system prompts", lambda i: any(m["role"] == "system" for m in i.messages)),
)


def slices(reports: Sequence[Report]) -> None:
    names = "  ".join(f"{r.name:>12}" for r in reports)
    print(f"  {'accuracy on':22}{names}")
    for label, keep in _SLICES:
        cells = []
        n = 0
        for r in reports:
            acc, n = r.accuracy(keep)
            cells.append(f"{_f(acc):>12}")
        print(f"  {label + f' ({n})':22}{'  '.join(cells)}")


def confusion(report: Report) -> None:
    counts = Counter((i.label, v.label) for i, v in zip(report.items, report.verdicts, strict=True))
    short = {c: c[:6] for c in LABELS}
    print(f"  {'label / predicted':18}" + "".join(f"{short[c]:>8}" for c in LABELS))
    for truth in LABELS:
        print(f"  {truth:18}" + "".join(f"{counts[(truth, p)]:8d}" for p in LABELS))


def worst(report: Report, n: int) -> None:
    """Under-routed first (the expensive mistake), then over-routed, then the rest; surest first."""

    def severity(pair: tuple[Item, Verdict]) -> tuple[int, float]:
        item, v = pair
        if item.label in STRONG_NEEDS and not v.strong:
            kind = 0
        elif item.label == "simple" and v.strong:
            kind = 1
        else:
            kind = 2
        return kind, -(v.confidence or 0.0)

    misses = sorted(
        ((i, v) for i, v in zip(report.items, report.verdicts, strict=True) if i.label != v.label), key=severity
    )
    kinds = {0: "UNDER", 1: "OVER ", 2: "other"}
    for item, v in misses[:n]:
        conf = "" if v.confidence is None else f" {v.confidence:.2f}"
        print(f"  {kinds[severity((item, v))[0]]} {item.label:>12} -> {v.label:<12}{conf:5}  {item.preview}")
        print(f"  {'':26}{item.id}: {v.why[:100]}")
    if len(misses) > n:
        print(f"  ... and {len(misses) - n} more misses")


def invariance(report: Report, classify: Classifier, n: int) -> None:
    """Flip rate and over/under-routing of the wrapped variants beside the bare prompts."""
    bare = {i.id: v for i, v in zip(report.items, report.verdicts, strict=True)}
    pairs = wrapped(report.items)
    variants = Report("wrapped", [item for _, item in pairs], [classify(item) for _, item in pairs], 0.0)
    flips = [
        (name, item, v)
        for (name, item), v in zip(pairs, variants.verdicts, strict=True)
        if v.label != bare[item.id.split("~")[0]].label
    ]
    print(f"  {len(WRAPPINGS)} wrappings x {len(report.items)} prompts: flip rate {len(flips) / len(pairs):.3f}")
    for name, _ in WRAPPINGS:
        total = sum(w == name for w, _ in pairs)
        print(f"    {name:24} {sum(w == name for w, _, _ in flips) / total:.3f}")
    print(f"  {'':12}accuracy  under-routing  over-routing")
    for r in (report, variants):
        acc, _ = r.accuracy()
        print(f"  {r.name:12}   {_f(acc)}          {_f(r.under)}         {_f(r.over)}")
    for name, item, v in flips[:n]:
        was = bare[item.id.split("~")[0]].label
        print(f"  FLIP {was:>9} -> {v.label:<9} {name:22} {item.preview[:60]}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="all")
    parser.add_argument("--worst", type=int, default=12, help="misses listed per split")
    parser.add_argument("--no-modelmuxer", action="store_true")
    args = parser.parse_args(argv)
    classifiers: list[tuple[str, Classifier]] = [("muxer-litellm", muxer)]
    if not args.no_modelmuxer:
        mm, note = modelmuxer()
        print(note)
        if mm is not None:
            classifiers.append(("ModelMuxer", mm))
    for split in SPLITS if args.split == "all" else (args.split,):
        items = load(split)
        counts = Counter(i.label for i in items)
        print(f"\n== {split}: {len(items)} prompts ({', '.join(f'{c} {counts[c]}' for c in LABELS)})")
        reports = [run(name, fn, items) for name, fn in classifiers]
        summary(reports)
        print()
        slices(reports)
        print("\n  confusion (muxer-litellm):")
        confusion(reports[0])
        print("\n  worst misses (muxer-litellm):")
        worst(reports[0], args.worst)
        if split in HELDOUT_SPLITS:
            print("\n  invariance under wrappings that say nothing about the need (muxer-litellm):")
            invariance(reports[0], muxer, args.worst)


if __name__ == "__main__":
    main()
