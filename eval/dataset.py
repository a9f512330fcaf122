"""The labelled prompt set: ``eval/data/<split>/<label>.yaml``.

Each file is a list of items labelled by the file's name (what the prompt *needs*: simple,
code, reasoning, json, long_context). An item is a string (one user turn) or a mapping with
``prompt`` (the last user turn) and/or ``messages``, optional ``system``, ``response_format``
(``json_object`` / ``json_schema``), ``document`` ({kind, chars}: generated text put where
``{document}`` stands, for long prompts), ``lang`` and ``tags`` (typo, negative...).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"
LABELS = ("simple", "code", "reasoning", "json", "long_context")
SPLITS = ("train", "heldout", *(f"heldout{n}" for n in range(2, 30)))
HELDOUT_SPLITS = SPLITS[1:]


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    messages: list[dict[str, Any]]
    request: dict[str, Any] = field(default_factory=dict)
    lang: str = "en"
    tags: tuple[str, ...] = ()
    generated: bool = False  # holds a generated document

    @property
    def text(self) -> str:
        """The request's own words (system, developer and user turns), for training."""
        return "\n".join(m["content"] for m in self.messages if m["role"] in ("system", "developer", "user"))

    @property
    def preview(self) -> str:
        last = next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")
        flat = " ".join(last.split())
        return flat if len(flat) <= 90 else flat[:87] + "..."


_WORDS = tuple(
    " ".join(
        (
            "the quarterly results show that revenue grew in most regions while costs stayed flat and the board",
            "approved a new plan for hiring customer support staff in the second half of the year because demand",
            "increased after the product launch and several partners asked for longer contracts with clearer terms",
            "about delivery schedules payment deadlines and responsibilities of each party in case of delays",
        )
    ).split(" ")
)
_KEYS = frozenset({"prompt", "messages", "system", "document", "response_format", "lang", "tags"})
_NAMES = ("Alice", "Bob", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana")


def _document(kind: str, chars: int, rng: random.Random) -> str:
    lines: list[str] = []
    size = 0
    n = 0
    while size < chars:
        n += 1
        if kind == "code":
            name = f"handler_{n}"
            line = (
                f"def {name}(request, limit={rng.randint(1, 99)}):\n"
                f"    items = load_items(request.user_id)[:limit]\n"
                f"    total = sum(item.price * item.qty for item in items)\n"
                f"    return {{'count': len(items), 'total': total}}\n"
            )
        elif kind == "log":
            line = (
                f"2024-05-{rng.randint(10, 28)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:11Z "
                f"{rng.choice(('INFO', 'INFO', 'WARN', 'ERROR'))} worker-{rng.randint(1, 9)} "
                f"request {rng.randint(1000, 9999)} handled in {rng.randint(3, 900)} ms"
            )
        elif kind == "csv":
            line = (
                f"{n},{rng.choice(('north', 'south', 'east', 'west'))},product-{rng.randint(1, 40)},"
                f"2024-0{rng.randint(1, 9)}-{rng.randint(10, 28)},{rng.randint(1, 500)}.{rng.randint(10, 99)}"
            )
        else:
            words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 24))]
            sentence = " ".join(words).capitalize() + "."
            line = f"{rng.choice(_NAMES)}: {sentence}" if kind == "transcript" else sentence
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:chars]


def _item(raw: Any, label: str, ident: str) -> Item:
    if isinstance(raw, str):
        return Item(ident, label, [{"role": "user", "content": raw}])
    if not isinstance(raw, dict):
        raise ValueError(f"{ident}: an item is a string or a mapping, got {type(raw).__name__}")
    unknown = set(raw) - _KEYS
    if unknown:  # usually a plain string with ": " in it that YAML read as a mapping: quote it
        raise ValueError(f"{ident}: unknown keys {sorted(unknown)}")
    doc = raw.get("document")
    text = ""
    if doc is not None:
        text = _document(doc["kind"], int(doc["chars"]), random.Random(zlib.crc32(ident.encode())))

    def fill(value: str) -> str:
        return value.replace("{document}", text) if doc is not None else value

    messages: list[dict[str, Any]] = []
    if raw.get("system") is not None:
        messages.append({"role": "system", "content": fill(str(raw["system"]))})
    for m in raw.get("messages", []):
        messages.append({"role": m["role"], "content": fill(str(m["content"]))})
    if raw.get("prompt") is not None:
        messages.append({"role": "user", "content": fill(str(raw["prompt"]))})
    if not messages:
        raise ValueError(f"{ident}: no prompt or messages")
    request: dict[str, Any] = {}
    if raw.get("response_format"):
        kind = raw["response_format"]
        request["response_format"] = {"type": kind}
        if kind == "json_schema":
            request["response_format"]["json_schema"] = {"name": "answer", "schema": {"type": "object"}}
    return Item(
        ident,
        label,
        messages,
        request,
        lang=str(raw.get("lang", "en")),
        tags=tuple(raw.get("tags", ())),
        generated=doc is not None,
    )


def load(split: str) -> list[Item]:
    """Every item of a split (``train``, ``heldout``), in file order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    items: list[Item] = []
    for label in LABELS:
        path = DATA / split / f"{label}.yaml"
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        items.extend(_item(r, label, f"{split}/{label}/{i + 1}") for i, r in enumerate(raw))
    return items
