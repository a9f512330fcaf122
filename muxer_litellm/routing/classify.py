"""Prompt classification and token estimates: the inputs to every routing rule.

Rules are plain regular expressions over the request so an operator can read why a
prompt was called "code" or "reasoning" (each hit is kept in ``PromptProfile.signals``).
Token counts are estimates; see :func:`estimate_prompt_tokens` for the formula.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..host import ChatMessage, MessageInput

__all__ = [
    "CHARS_PER_TOKEN",
    "IMAGE_TOKENS",
    "PROMPT_CLASSES",
    "PromptClass",
    "PromptProfile",
    "classify_prompt",
    "estimate_prompt_tokens",
]

PromptClass = Literal["code", "reasoning", "long_context", "vision", "tools", "json", "simple"]
PROMPT_CLASSES: tuple[PromptClass, ...] = ("code", "reasoning", "long_context", "vision", "tools", "json", "simple")

#: English text averages about four characters per token in OpenAI/Anthropic tokenizers.
CHARS_PER_TOKEN = 4
#: Role and separator tokens each message adds (OpenAI's cookbook counts 3-4).
MESSAGE_OVERHEAD = 4
#: Tokens that prime the reply.
REPLY_PRIMING = 3
#: One image at high detail, 1024x1024, in OpenAI's tile formula (85 + 4 * 170): a
#: deliberately high guess so an image prompt is never thought to fit a window it does not.
IMAGE_TOKENS = 765
#: Only this much of the conversation's text is scanned by the rules, so routing a
#: 500-page prompt costs the same as a 50-page one. The end (the current turn) is kept.
SCAN_CHARS = 20_000

#: The request's own words; assistant turns are the model's, tool results are data.
_SCANNED_ROLES = frozenset({"user", "system", "developer"})
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_TEXT_PARTS = frozenset({"text", "input_text"})

_Rule = tuple[str, re.Pattern[str]]

_CODE_RULES: tuple[_Rule, ...] = (
    ("code block", re.compile(r"```")),
    (
        "code syntax",
        re.compile(
            r"^\s*(?:def \w+\(|class \w+[:(]|import [\w.]+(?: as \w+)?\s*$|from [\w.]+ import |#include\b|"
            r"public (?:static |final |abstract )*(?:class|interface|void|int|String|static)\b|"
            r"function\s+\w+\s*\(|(?:const|let|var) \w+\s*=[^\n]*;\s*$|fn \w+\s*\(|func \w+\s*\(|SELECT .+ FROM )",
            re.MULTILINE,
        ),
    ),
    (
        "stack trace",
        re.compile(r"Traceback \(most recent call last\)|\b\w+(?:Error|Exception): |\bat [\w.$]+\(\w+\.\w+:\d+\)"),
    ),
    (
        "programming words",
        re.compile(
            # Language names are also snakes, coffee and rust belts: they count next to a code noun
            # or after "in" ("write it in Rust"); the other words are unambiguous.
            r"\b(?:javascript|typescript|golang|regex|refactor\w*|debugg(?:er|ing)|"
            r"compil(?:e|er|ing)|unit tests?|stack trace|algorithm|api endpoint|"
            r"(?:python|java|rust|go|sql|ruby|php|kotlin|swift|bash|shell|c\+\+|c#)\s+(?:code|scripts?|functions?|"
            r"class(?:es)?|methods?|programs?|librar(?:y|ies)|packages?|modules?|errors?|exceptions?|quer(?:y|ies)|"
            r"snippets?|apps?)|"
            r"in (?:python|java|rust|golang|sql|ruby|php|kotlin|swift|bash|c\+\+|c#)|"
            r"(?:write|implement) (?:a |an |the |this |my )?(?:program|script|function|class|method))(?!\w)"
            r"|\bc\+\+(?![a-z_])",
            re.IGNORECASE,
        ),
    ),
)

_REASONING_RULES: tuple[_Rule, ...] = (
    (
        "math words",
        re.compile(
            r"\b(?:prove|proof(?!-?read)|theorem|lemma|derive|derivation|integral|derivative|equations?|solve for|"
            r"conditional probability|expected value|optimi[sz]ation problem|logic puzzle|riddle)\b",
            re.IGNORECASE,
        ),
    ),
    ("formula", re.compile(r"\\frac|\\int|\\sum|[∫∑√∂]|\b(?:sin|cos|tan|log|ln|exp)\s*\(|\b[a-z]\s*\^\s*\d")),
    ("arithmetic", re.compile(r"\d+(?:\s*[-+*/\u00d7\u00f7^]\s*\d+){2,}")),
)

# Dates (2024-03-15, 12/25/2024) and phone numbers (555-123-4567) look like arithmetic;
# an expression counts only with a +, *, ^, x, / or an operator set off by spaces.
_REAL_OPERATOR = re.compile(r"[+*^\u00d7\u00f7]|\s[-/]\s")

# A request verb shortly before "JSON" ("respond in JSON", "give me the list as JSON"), or
# "JSON only"; "the difference between null in JSON and undefined" asks for none.
_JSON_ASKED = re.compile(
    # Output verbs ask for JSON by naming it ("respond with JSON", "return json with keys ...");
    # general verbs only with "in/as JSON" ("give me the list as JSON"), so "write an essay about
    # JSON" and "list the advantages of JSON" ask for prose.
    r"\b(?:respond|reply|answer|return|output|format|emit)\b[^.?!\n]{0,40}\bjson\b"
    r"|\b(?:give|provide|produce|generate|write|list|print|send)\b[^.?!\n]{0,40}"
    r"\b(?:in|as) (?:valid |a |an |the |strict |pure )?json\b"
    r"|\bjson only\b|\bonly (?:valid )?json\b|\bvalid json\b|\bjson (?:object|format|output|response)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PromptProfile:
    """What a request needs. ``classes`` is never empty: "simple" when no rule fired."""

    prompt_tokens: int
    classes: frozenset[PromptClass]
    signals: tuple[str, ...]
    needs_tools: bool
    needs_vision: bool
    json_requested: bool
    needs_json_schema: bool

    @property
    def is_simple(self) -> bool:
        return "simple" in self.classes

    def describe(self) -> str:
        """E.g. ``code+reasoning (code block; math words 'prove')``."""
        names = "+".join(c for c in PROMPT_CLASSES if c in self.classes)
        return f"{names} ({'; '.join(self.signals)})" if self.signals else names


def message_dict(message: MessageInput) -> Mapping[str, Any]:
    if isinstance(message, ChatMessage):
        return message.model_dump(exclude_none=True)
    if isinstance(message, Mapping):
        return message
    raise TypeError(f"messages must be ChatMessage or dict, got {type(message).__name__}")


def content_parts(content: Any) -> Iterable[tuple[str, str]]:
    """(kind, text) for each piece of content: kind is "text", "image" or "other"."""
    if isinstance(content, str):
        yield "text", content
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
                yield "text", part["text"]
            elif kind in _IMAGE_PARTS:
                yield "image", ""
            else:
                yield "other", ""


def _json_len(value: Any) -> int:
    try:
        return len(json.dumps(value, separators=(",", ":"), default=str))
    except (TypeError, ValueError):
        return 0


def estimate_prompt_tokens(messages: Sequence[MessageInput], tools: Any = None) -> int:
    """A cheap, deterministic prompt-size estimate (no tokenizer):

    ``3 + sum over messages(4 + ceil(chars / 4) + 765 per image) + ceil(len(tools JSON) / 4)``,
    where chars counts text content, the name, and tool-call JSON. It errs high for code and
    non-English text less than a tokenizer would; routing that must be exact near a context
    window asks the proxy's ``/utils/token_counter`` (``HeuristicRouter.route_request``).
    """
    total = REPLY_PRIMING
    for message in messages:
        data = message_dict(message)
        chars = 0
        images = 0
        for kind, text in content_parts(data.get("content")):
            if kind == "image":
                images += 1
            else:
                chars += len(text)
        name = data.get("name")
        if isinstance(name, str):
            chars += len(name)
        if data.get("tool_calls"):
            chars += _json_len(data["tool_calls"])
        total += MESSAGE_OVERHEAD + math.ceil(chars / CHARS_PER_TOKEN) + images * IMAGE_TOKENS
    if tools:
        total += math.ceil(_json_len(tools) / CHARS_PER_TOKEN)
    return total


def _first_hit(rules: Sequence[_Rule], text: str) -> str | None:
    for label, pattern in rules:
        for match in pattern.finditer(text):
            if label == "arithmetic" and not _REAL_OPERATOR.search(match.group(0)):
                continue
            snippet = match.group(0).strip()[:30]
            return f"{label} {snippet!r}" if label in ("math words", "programming words") else label
    return None


def classify_prompt(
    messages: Sequence[MessageInput],
    *,
    tools: Any = None,
    functions: Any = None,
    response_format: Any = None,
    long_context_tokens: int = 8000,
    prompt_tokens: int | None = None,
) -> PromptProfile:
    """Classify a chat request. Rules, in order (several classes can hold at once):

    - ``vision``: a content part of type image_url / input_image / image, in any message.
    - ``tools``: ``tools``/``functions`` passed, or the conversation has tool calls/results.
    - ``json``: ``response_format`` json_object/json_schema, or the system prompt or the last
      user turn asks for JSON: an output verb (respond, reply, answer, return, output, format,
      emit) within 40 characters before "JSON", a general verb (give, provide, write, list...)
      before "in/as JSON", or "JSON only", "only JSON", "valid JSON", "JSON object/format".
    - ``code``: a code fence, code syntax at a line start, a stack trace, or programming words
      (language names only beside a code noun or after "in").
    - ``reasoning``: proof/math words, a formula, or arithmetic with 2+ operators (not dates
      or phone numbers: one operator must be +, *, ^ or set off by spaces).
    - ``long_context``: the prompt estimate is at least ``long_context_tokens``.
    - ``simple``: none of code, reasoning, long_context, vision, tools.

    Code and reasoning rules read user, system and developer text (assistant turns are
    the model's own words, tool results are data), at most the last ``SCAN_CHARS`` characters.
    """
    dicts = [message_dict(m) for m in messages]
    classes: set[PromptClass] = set()
    signals: list[str] = []
    needs_vision = any(kind == "image" for d in dicts for kind, _ in content_parts(d.get("content")))
    if needs_vision:
        classes.add("vision")
        signals.append("image content")
    needs_tools = bool(tools) or bool(functions)
    if not needs_tools:
        needs_tools = any(d.get("tool_calls") or d.get("role") in ("tool", "function") for d in dicts)
    if needs_tools:
        classes.add("tools")
        signals.append("tool use")

    texts = [
        t
        for d in dicts
        if d.get("role") in _SCANNED_ROLES
        for kind, t in content_parts(d.get("content"))
        if kind == "text"
    ]
    scanned = "\n".join(texts)[-SCAN_CHARS:]
    last_user = next((d for d in reversed(dicts) if d.get("role") == "user"), None)
    instructions = [d for d in dicts if d.get("role") in ("system", "developer")]
    if last_user is not None:
        instructions.append(last_user)
    # Each instruction message is cut on its own, so a huge user turn cannot hide the system prompt.
    instruction_text = "\n".join(
        "\n".join(t for k, t in content_parts(d.get("content")) if k == "text")[-SCAN_CHARS:] for d in instructions
    )

    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    needs_json_schema = kind == "json_schema"
    json_requested = kind in ("json_object", "json_schema") or bool(_JSON_ASKED.search(instruction_text))
    if json_requested:
        classes.add("json")
        signals.append("JSON requested")

    for cls, rules in (("code", _CODE_RULES), ("reasoning", _REASONING_RULES)):
        hit = _first_hit(rules, scanned)
        if hit is not None:
            classes.add(cls)  # type: ignore[arg-type]
            signals.append(hit)

    tokens = prompt_tokens if prompt_tokens is not None else estimate_prompt_tokens(messages, tools or functions)
    if tokens >= long_context_tokens:
        classes.add("long_context")
        signals.append(f"~{tokens} prompt tokens >= {long_context_tokens}")
    if not classes & {"code", "reasoning", "long_context", "vision", "tools"}:
        classes.add("simple")
    return PromptProfile(
        prompt_tokens=tokens,
        classes=frozenset(classes),
        signals=tuple(signals),
        needs_tools=needs_tools,
        needs_vision=needs_vision,
        json_requested=json_requested,
        needs_json_schema=needs_json_schema,
    )
