"""Prompt classification and token estimates: the inputs to every routing rule.

Rules are plain regular expressions over the request so an operator can read why a
prompt was called "code" or "reasoning" (each hit is kept in ``PromptProfile.signals``).
Token counts are estimates; see :func:`estimate_prompt_tokens` for the formula.
"""

from __future__ import annotations

import functools
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
    "json_text",
    "text_tokens",
]

PromptClass = Literal["code", "reasoning", "long_context", "vision", "tools", "json", "simple"]
PROMPT_CLASSES: tuple[PromptClass, ...] = ("code", "reasoning", "long_context", "vision", "tools", "json", "simple")

#: English prose averages about four characters per token in OpenAI/Anthropic tokenizers, code
#: and JSON about three: the estimate takes three so that a budget check errs on the safe side.
CHARS_PER_TOKEN = 3
#: Role and separator tokens each message adds (OpenAI's cookbook counts 3-4).
MESSAGE_OVERHEAD = 4
#: Tokens that prime the reply.
REPLY_PRIMING = 3
#: One image at high detail, 1024x1024, in OpenAI's tile formula (85 + 4 * 170): a
#: deliberately high guess so an image prompt is never thought to fit a window it does not.
IMAGE_TOKENS = 765
#: Only this much of the conversation's text is scanned by the rules (about 1,000 tokens), so
#: routing a 500-page prompt costs the same as a 2-page one. The end (the current turn, where the
#: question usually is) is kept.
SCAN_CHARS = 4_000

#: The request's own words; assistant turns are the model's, tool results are data.
_SCANNED_ROLES = frozenset({"user", "system", "developer"})
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_TEXT_PARTS = frozenset({"text", "input_text"})


@dataclass(frozen=True, slots=True)
class _Rule:
    """One named pattern. ``hints``: groups of lowercase substrings; every match contains one
    of each group, so when some group is absent from the text the regex is skipped (a substring
    test is ~10x cheaper than a regex scan, and most prompts fire no rule). ``lowered``: the
    pattern is written in lowercase and runs on the lowercased text (cheaper than IGNORECASE)."""

    label: str
    pattern: re.Pattern[str]
    hints: tuple[tuple[str, ...], ...] = ()
    lowered: bool = True
    quote: bool = False


_LANGS = ("python", "java", "rust", "sql", "ruby", "php", "kotlin", "swift", "bash", "shell", "c++", "c#", "go")
_CODE_NOUNS = (
    "code",
    "script",
    "function",
    "class",
    "method",
    "program",
    "librar",
    "package",
    "module",
    "error",
    "exception",
    "quer",
    "snippet",
    "app",
)

_CODE_RULES: tuple[_Rule, ...] = (
    _Rule("code block", re.compile(r"```"), (("```",),)),
    _Rule(
        "code syntax",
        re.compile(
            r"^\s*(?:def \w+\(|class \w+[:(]|import [\w.]+(?: as \w+)?\s*$|from [\w.]+ import |#include\b|"
            r"public (?:static |final |abstract )*(?:class|interface|void|int|String|static)\b|"
            r"function\s+\w+\s*\(|(?:const|let|var) \w+\s*=[^\n]*;\s*$|fn \w+\s*\(|func \w+\s*\(|SELECT .+ FROM )",
            re.MULTILINE,
        ),
        (
            (
                "def ",
                "class ",
                "import ",
                "#include",
                "public ",
                "function",
                "const ",
                "let ",
                "var ",
                "fn ",
                "func ",
                "select ",
            ),
        ),
        lowered=False,
    ),
    _Rule(
        "stack trace",
        re.compile(
            r"Traceback \(most recent call last\)|\w(?:Error|Exception): "
            r"|\bat [\w.$<>]+\([\w.]+\.(?:java|kt|scala|js|ts|py|go|rb|cs):\d+\)"
        ),
        (("traceback (most recent call last)", "error: ", "exception: ", ":"),),
        lowered=False,
    ),
    # Language names are also snakes, coffee and rust belts: they count next to a code noun or
    # after "in" ("write it in Rust"); the other words are unambiguous.
    _Rule(
        "programming words",
        re.compile(
            r"\b(?:python|java|rust|go|sql|ruby|php|kotlin|swift|bash|shell|c\+\+|c#)\s+(?:code|scripts?|"
            r"functions?|class(?:es)?|methods?|programs?|librar(?:y|ies)|packages?|modules?|errors?|exceptions?|"
            r"quer(?:y|ies)|snippets?|apps?)(?!\w)"
            r"|\bin (?:python|java|rust|golang|sql|ruby|php|kotlin|swift|bash|c\+\+|c#)(?![a-z_])"
        ),
        (_LANGS,),
        quote=True,
    ),
    _Rule(
        "programming words",
        re.compile(
            r"\b(?:javascript|typescript|golang|regex|refactor\w*|debugg(?:er|ing)|compil(?:e|er|ing)|unit tests?|"
            r"stack trace|algorithm|api endpoint)(?!\w)|\bc\+\+(?![a-z_])"
        ),
        (
            (
                "javascript",
                "typescript",
                "golang",
                "regex",
                "refactor",
                "debugg",
                "compil",
                "unit test",
                "stack trace",
                "algorithm",
                "api endpoint",
                "c++",
            ),
        ),
        quote=True,
    ),
    _Rule(
        "programming words",
        re.compile(r"\b(?:write|implement) (?:a |an |the |this |my )?(?:program|script|function|class|method)(?!\w)"),
        (("write", "implement"), ("program", "script", "function", "class", "method")),
        quote=True,
    ),
)

_REASONING_RULES: tuple[_Rule, ...] = (
    _Rule(
        "math words",
        re.compile(
            r"\b(?:prove|proof(?!-?read)|theorem|lemma|derive|derivation|integral|derivative|equations?|solve for|"
            r"conditional probability|expected value|optimi[sz]ation problem|logic puzzle|riddle)\b"
        ),
        (
            (
                "prove",
                "proof",
                "theorem",
                "lemma",
                "deriv",
                "integral",
                "equation",
                "solve for",
                "conditional probability",
                "expected value",
                "optimi",
                "logic puzzle",
                "riddle",
            ),
        ),
        quote=True,
    ),
    _Rule(
        "formula",
        re.compile(r"\\frac|\\int|\\sum|[\u222b\u2211\u221a\u2202]"),
        (("\\frac", "\\int", "\\sum", "\u222b", "\u2211", "\u221a", "\u2202"),),
    ),
    _Rule(
        "formula",
        re.compile(r"\b(?:sin|cos|tan|log|ln|exp)\s*\(|\b[a-z]\s*\^\s*\d"),
        (("sin", "cos", "tan", "log", "ln", "exp", "^"), ("(", "^")),
    ),
    # Dates (2024-03-15, 12/25/2024) and phone numbers (555-123-4567) look like arithmetic; an
    # expression counts only with a +, *, ^, x, / or an operator set off by spaces (_REAL_OPERATOR).
    _Rule(
        "arithmetic",
        re.compile(r"\d+(?:\s*[-+*/\u00d7\u00f7^]\s*\d+){2,}"),
        (("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), ("+", "*", "^", "\u00d7", "\u00f7", " - ", " / ")),
    ),
)

_REAL_OPERATOR = re.compile(r"[+*^\u00d7\u00f7]|\s[-/]\s")

_JSON_ASKED = _Rule(
    "JSON requested",
    re.compile(
        # An instruction, not a question about JSON: the verb opens a sentence or follows "please",
        # "always", "only", "and", "then", "just" ("Respond in JSON", "Always return json with keys
        # a and b"; not "How do I return JSON from Flask?"). Output verbs may name JSON directly,
        # general verbs need "in/as JSON" ("Give me the list as JSON"; not "Write an essay about JSON").
        r"(?:^|[.!?:;\n]\s*|\b(?:please|always|only|and|then|just)\s+)(?:"
        r"(?:respond|reply|answer|return|output|format|emit)\b[^.?!\n]{0,40}\bjson\b"
        r"|(?:give|provide|produce|generate|write|list|print|send)\b[^.?!\n]{0,40}"
        r"\b(?:in|as) (?:valid |a |an |the |strict |pure )?json\b)"
        r"|\bjson only\b|\bonly (?:valid )?json\b|\b(?:must|should|shall) be (?:in |a |an |valid |strict )*json\b",
        re.MULTILINE,
    ),
    (("json",),),
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


def json_text(value: Any) -> str:
    """Compact JSON as the estimate counts it (tools, tool calls); "" when it cannot be dumped."""
    try:
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return ""


_json_text = json_text  # the old private name, kept for code that still imports it


def estimate_prompt_tokens(messages: Sequence[MessageInput], tools: Any = None) -> int:
    """A cheap, deterministic prompt-size estimate (no tokenizer), meant to err high:

    ``3 + sum over messages(4 + text_tokens + 765 per image) + text_tokens(tools JSON)``, where a
    message's text is its text content, name and tool-call JSON, and ``text_tokens(t) =
    ceil(ascii_chars / 3) + non_ascii_chars`` (CJK and other non-Latin scripts run about one
    token per character). English prose comes out about a third high, code about right; so
    ``max_cost`` holds for the estimate with a margin. Routing that must be exact near a context
    window asks the proxy's ``/utils/token_counter`` (``HeuristicRouter.route_request``).
    """
    total = REPLY_PRIMING
    for message in messages:
        data = message_dict(message)
        texts: list[str] = []
        images = 0
        for kind, text in content_parts(data.get("content")):
            if kind == "image":
                images += 1
            else:
                texts.append(text)
        name = data.get("name")
        if isinstance(name, str):
            texts.append(name)
        if data.get("tool_calls"):
            texts.append(_json_text(data["tool_calls"]))
        total += MESSAGE_OVERHEAD + text_tokens("".join(texts)) + images * IMAGE_TOKENS
    if tools:
        total += text_tokens(_json_text(tools))
    return total


def text_tokens(text: str) -> int:
    """``ceil(ascii_chars / 3) + non_ascii_chars`` (see :func:`estimate_prompt_tokens`)."""
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))  # counted in C, not a Python loop
    return math.ceil((len(text) - non_ascii) / CHARS_PER_TOKEN) + non_ascii


@functools.cache
def _ignorecase(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern, pattern.flags | re.IGNORECASE)


def _first_hit(rules: Sequence[_Rule], text: str, lower: str) -> str | None:
    """The signal of the first rule that matches ``text`` (``lower`` is ``text.lower()``)."""
    same_length = len(lower) == len(text)  # lower() can change the length of a few characters
    for rule in rules:
        if any(not any(h in lower for h in group) for group in rule.hints):
            continue
        if rule.lowered and not same_length:
            matches = _ignorecase(rule.pattern).finditer(text)
        else:
            matches = rule.pattern.finditer(lower if rule.lowered else text)
        for match in matches:
            if rule.label == "arithmetic" and not _REAL_OPERATOR.search(match.group(0)):
                continue
            if not rule.quote:
                return rule.label
            return f"{rule.label} {text[match.start() : match.end()].strip()[:30]!r}"
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
      user turn instructs JSON: a sentence that opens (or goes on after "please", "always",
      "only", "and", "then", "just") with an output verb (respond, reply, answer, return, output,
      format, emit) within 40 characters of "JSON", or a general verb (give, provide, write,
      list...) before "in/as JSON"; or "JSON only", "only JSON", "must/should be (valid) JSON".
      A question about JSON ("What is a JSON object?") is not a request for it.
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
    scanned_lower = scanned.lower()
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
    json_requested = kind in ("json_object", "json_schema") or (
        _first_hit((_JSON_ASKED,), instruction_text, instruction_text.lower()) is not None
    )
    if json_requested:
        classes.add("json")
        signals.append("JSON requested")

    for cls, rules in (("code", _CODE_RULES), ("reasoning", _REASONING_RULES)):
        hit = _first_hit(rules, scanned, scanned_lower)
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
