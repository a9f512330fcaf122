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
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal

from ..host import ChatMessage, MessageInput
from .learned import MODEL_CLASSES, STOP_WORDS, LearnedModel, features, load_model, symbols, word_features
from .learned import tokens as words_of
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

#: The learned scorer adds a class when its probability reaches this (rules add it outright).
LEARNED_THRESHOLD = 0.6
#: Higher for JSON: a false request makes the cascade's check reject good prose answers.
LEARNED_JSON_THRESHOLD = 0.8
#: Below this probability of code, an everyday-word rule ("in Java", "pandas" + "app") is ignored.
AMBIGUOUS_VETO = 0.25
#: The least confidence a class has when a rule fired for it.
RULE_CONFIDENCE = 0.9
#: Numbers a question needs to count as a word problem.
WORD_PROBLEM_NUMBERS = 3

#: The request's own words; assistant turns are the model's, tool results are data.
_SCANNED_ROLES = frozenset({"user", "system", "developer"})
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_TEXT_PARTS = frozenset({"text", "input_text"})


@dataclass(frozen=True, slots=True)
class _Rule:
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
    #: prompt is not code (``AMBIGUOUS_VETO``).
    ambiguous: bool = False
    #: Rules read on the focus text may instead (or also) name words, one of which the text
    #: must contain: a set test on words already split is far cheaper than substring scans.
    words: frozenset[str] = frozenset()


_UNAMBIGUOUS_LANGS = ("sql", "php", "kotlin", "c++", "c#", "golang")
_AMBIGUOUS_LANGS = ("python", "java", "rust", "ruby", "swift", "bash", "shell", "go")
_CODE_NOUN_PATTERN = (
    r"(?:code|scripts?|functions?|class(?:es)?|methods?|programs?|librar(?:y|ies)|packages?|modules?|errors?|"
    r"exceptions?|quer(?:y|ies)|snippets?|apps?)(?!\w)"
)
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
    # Language names count next to a code noun or after "in" ("write it in Rust"). Some are
    # also snakes, coffee, islands, rust belts and parties: those are ``ambiguous``.
    _Rule(
        "programming words",
        re.compile(
            r"\b(?:sql|php|kotlin|c\+\+|c#)\s+"
            + _CODE_NOUN_PATTERN
            + r"|\bin (?:golang|sql|php|kotlin|c\+\+|c#)(?![a-z_])"
        ),
        (_UNAMBIGUOUS_LANGS,),
        quote=True,
    ),
    _Rule(
        "programming words",
        re.compile(
            r"\b(?:python|java|rust|go|ruby|swift|bash|shell)\s+"
            + _CODE_NOUN_PATTERN
            + r"|\bin (?:python|java|rust|ruby|swift|bash)(?![a-z_])"
        ),
        (_AMBIGUOUS_LANGS,),
        quote=True,
        ambiguous=True,
    ),
    _Rule(
        "programming words",
        re.compile(
            r"\b(?:javascript|typescript|golang|regex|refactor\w*|debugg(?:er|ing)|unit tests?|"
            # "compile" as in code, not "compile a list of hiking trails"
            r"compil(?:e|er|ing)(?! (?:a |an |the |my |this |some )?(?:\w+ )?(?:list|report|summary|playlist|"
            r"overview|collection|bibliography|reading|guide|dossier|table of))|"
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
        # Not "write a script for a wedding toast" nor "a program for the conference".
        re.compile(
            r"\b(?:write|implement) (?:a |an |the |this |my )?(?:(?:program|script)(?! (?:for|about|of)\b)|function|"
            r"class|method)(?!\w)"
        ),
        (("write", "implement"), ("program", "script", "function", "class", "method")),
        quote=True,
    ),
)

_EXTENSIONS = (
    *("py", "js", "ts", "tsx", "jsx", "java", "kt", "go", "rs", "rb", "php", "cpp", "hpp", "cs", "sh", "ps1"),
    *("sql", "yml", "yaml", "toml", "gradle", "swift", "lua", "ipynb", "vue", "svelte", "scss", "tf", "mjs"),
    *("jar", "whl", "dll"),
)

#: Shapes only code has, read in the user's focus text (``focus_parts``): source file names,
#: calls, operators, exception class names, error codes, inline `code`, HTML tags, SQL.
_SHAPE_RULES: tuple[_Rule, ...] = (
    # A file name: ".py" after a word ("app.py"); the literal "." first keeps the scan fast.
    _Rule("code syntax", re.compile(r"\.(?:" + "|".join(_EXTENSIONS) + r")\b"), quote=True),
    _Rule(
        "code syntax",
        re.compile(r"(?<=\w)\.[a-z_]\w*\(|(?<=\w)\(\)|===|!==|=>|&&|\|\||::|\+=|!=|(?<![=!<>])==(?!=)", re.IGNORECASE),
        (("(", "==", "=>", "&&", "||", "::", "+="),),
        lowered=False,
        quote=True,
    ),
    _Rule(
        "error message",
        re.compile(r"(?<=[a-z])(?:Error|Exception)\b|npm ERR!|\bE(?:RESOLVE|NOENT|ACCES|CONNREFUSED)\b"),
        (("error", "exception", "npm err", "eresolve", "enoent", "eacces", "econnrefused"),),
        lowered=False,
        quote=True,
    ),
    _Rule(
        "error message",
        re.compile(
            r"\b(?:crashloopbackoff|imagepullbackoff|oomkilled|sigsegv|sigkill)\b|segmentation fault|core dumped"
            r"|\bexit (?:code|status) \d+"
        ),
        words=frozenset(
            [
                "crashloopbackoff",
                "dumped",
                "exit",
                "imagepullbackoff",
                "oomkilled",
                "segmentation",
                "sigkill",
                "sigsegv",
            ]
        ),
        quote=True,
    ),
    _Rule("inline code", re.compile(r"`[^`\n]{1,60}`"), (("`",),)),
    _Rule(
        "shell command",
        re.compile(
            r"\b(?:sudo \w|apt(?:-get)? install|brew install|pip3? install|npm (?:install|run|i)\b|npx \w|yarn add|"
            r"git (?:add|commit|push|pull|merge|rebase|stash|clone|checkout|switch|branch|reset|revert|log|diff|"
            r"status|fetch|cherry-pick|init|remote|tag|bisect|blame)\b|docker(?:-compose| compose)? "
            r"(?:run|build|exec|ps|pull|push|up|logs)\b|kubectl \w)"
        ),
        words=frozenset(["docker", "git", "install", "kubectl", "npm", "npx", "sudo", "yarn"]),
        quote=True,
    ),
    _Rule(
        "code syntax",
        re.compile(r"</?(?:div|span|button|input|form|html|body|script|img|ul|li|table)\b[^>\n]{0,80}>"),
        (("<",), (">",)),
        quote=True,
    ),
    _Rule(
        "code syntax",
        re.compile(
            r"\bSELECT\b[^;\n]{1,80}\bFROM\b|\b(?:INSERT INTO|DELETE FROM|CREATE TABLE|ALTER TABLE|LEFT JOIN)\b"
        ),
        (("create table",),),
        lowered=False,
        words=frozenset(["alter", "delete", "insert", "join", "select"]),
        quote=True,
    ),
)

_REASONING_RULES: tuple[_Rule, ...] = (
    _Rule(
        "math words",
        re.compile(
            r"\b(?:prove|proof(?!-?read)(?! of (?:address|identity|id|purchase|income|residence|concept|insurance|age|"
            r"delivery|payment|employment|vaccination|ownership|funds|life)\b)|theorem|lemma|derive|derivation|integral|"
            r"derivative|equations?|solve for|"
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
    _ARITHMETIC := _Rule(
        "arithmetic",
        re.compile(r"\d+(?:\s*[-+*/\u00d7\u00f7^]\s*\d+){2,}"),
        (("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), ("+", "*", "^", "\u00d7", "\u00f7", " - ", " / ")),
    ),
)

_REAL_OPERATOR = re.compile(r"[+*^\u00d7\u00f7]|\s[-/]\s")

# Maths, logic and probability problems that use no maths words.
_PROBLEM_RULES: tuple[_Rule, ...] = (
    _Rule(
        "maths problem",
        re.compile(
            # "Is 221 prime?", "is 51 prime or not", "Is 323 a prime number?"
            r"\b\d+ (?:an? )?prime\b|\bprime (?:number |factori[sz]ation )?(?:of )?\d{2,}"
            r"|\bn[u\u00fa]mero primo\b|\bnombre premier\b|\u043f\u0440\u043e\u0441\u0442\w* \u0447\u0438\u0441\u043b"
        ),
        (("\u043f\u0440\u043e\u0441\u0442",),),
        quote=True,
        words=frozenset(["premier", "prime", "primes", "primo"]),
    ),
    _Rule(
        "probability problem",
        re.compile(
            # Dice, coins and cards, or numbers: not "the probability of rain".
            r"\b(?:probab(?!l[ey]\b)\w*|odds|chances?|likelihood)\b[^.?!\n]{0,80}?"
            r"\b(?:dice|die|coins?|cards?|deck|roll(?:s|ing|ed)?|draw(?:s|ing|n)?|flip(?:s|ping|ped)?|toss(?:es|ing)?|"
            r"heads|tails|aces?|poker|full house|lottery|birthdays?|marbles?|urn)\b"
            r"|\b(?:probab(?!l[ey]\b)\w*|odds)\b[^.?!\n]{0,80}?(?:\b(?:at least|exactly|at most|in a row)\b|\d)"
            r"|(?:probabilit[\u00e9\u00e0]|probabilidad|wahrscheinlichkeit|\u0432\u0435\u0440\u043e\u044f\u0442\u043d\u043e\u0441\u0442|\u6982\u7387|\u78ba\u7387)[^.?!\n\u3002]{0,60}?\d"
            r"|\d[^.?!\n\u3002]{0,60}?(?:\u6982\u7387|\u78ba\u7387)"
        ),
        (("probab", "\u0432\u0435\u0440\u043e\u044f\u0442", "\u6982\u7387", "\u78ba\u7387"),),
        quote=True,
        words=frozenset(["chance", "chances", "likelihood", "odds", "wahrscheinlichkeit"]),
    ),
    _Rule(
        "counting problem",
        re.compile(
            r"\bhow many (?:different |distinct |possible |unique )?(?:ways|combinations|permutations|arrangements|"
            r"handshakes|outfits|pins|passwords|squares|triangles|rectangles|paths|subsets|orderings|diagonals)\b"
            r"|\bin how many (?:different )?ways\b"
            r"|\bnumber of (?:ways|combinations|permutations|arrangements|subsets)\b"
            r"|\bways (?:to|of|can \w+) (?:pick|choose|arrange|select|seat|order|split|divide|distribute|pair|"
            r"colou?r)\b"
            r"|\b(?:pick|choose|select) \d+ (?:\w+ )?(?:out )?of \d+\b"
            r"|\b\d+ choose \d+\b|\bwie viele m\u00f6glichkeiten\b|\bde cu\u00e1ntas (?:maneras|formas)\b"
            r"|\bcombien de (?:fa\u00e7ons|mani\u00e8res)\b"
            # "how many ways" in Russian
            r"|\b\u0441\u043a\u043e\u043b\u044c\u043a\u043e \u0441\u043f\u043e\u0441\u043e\u0431\u043e\u0432\b"
        ),
        words=frozenset(
            ["choose", "combien", "cuántas", "many", "möglichkeiten", "number", "pick", "select", "ways", "сколько"]
        ),
        quote=True,
    ),
    # Logic and calendar puzzles, each pattern behind its own literal hints (a regex scan is
    # ~50x dearer than a substring test).
    _Rule(
        "logic puzzle",
        re.compile(r"\bdoes it (?:necessarily |logically )?follow\b"),
        words=frozenset({"follow"}),
        quote=True,
    ),
    _Rule(
        "logic puzzle",
        re.compile(r"\bwhat can (?:we|you|i|one) (?:conclude|infer|deduce)\b"),
        words=frozenset({"conclude", "infer", "deduce"}),
        quote=True,
    ),
    _Rule(
        "logic puzzle",
        re.compile(r"\balways (?:tells? the truth|lies?)\b|\bknights? and knaves?\b|\btruth[- ]tellers?\b"),
        words=frozenset(["always", "knave", "knaves", "knight", "knights", "truth"]),
        quote=True,
    ),
    _Rule(
        "logic puzzle",
        re.compile(r"\bif (?:all|every|no|some) \w+ (?:are|is)\b"),
        (("if all ", "if every ", "if no ", "if some "),),
        quote=True,
    ),
    _Rule(
        "logic puzzle",
        re.compile(
            r"\bbrain ?teasers?\b|(?<!jigsaw )(?<!crossword )\bpuzzles?\b(?! (?:games?|box|pieces|apps?|books?))"
        ),
        words=frozenset(["brainteaser", "brainteasers", "puzzle", "puzzles", "teaser", "teasers"]),
        quote=True,
    ),
    _Rule(
        "number sequence",
        re.compile(
            r"\bwhat comes next\b|\bnext (?:number|term) in\b|\b(?:continue|complete) the (?:sequence|series)\b"
        ),
        words=frozenset({"next", "sequence", "series"}),
        quote=True,
    ),
    _Rule(
        "calendar puzzle",
        re.compile(
            r"\bwhat day (?:of the week )?will it be\b|\bday (?:before yesterday|after tomorrow)\b[^.?!\n]*\bwhat day\b"
        ),
        (("what day",),),
        quote=True,
    ),
    _Rule(
        "clock puzzle",
        re.compile(r"\bangle between the (?:hour|minute|clock|hands)\b"),
        words=frozenset({"angle"}),
        quote=True,
    ),
    _Rule(
        "arithmetic",
        # Multiplying or dividing numbers of two digits or more: "17 times 23", "144 / 0.12".
        re.compile(
            r"\b\d{2,}(?:[.,]\d+)? ?(?:[*\u00d7\u00f7]| / |times|multiplied by|divided by|mal|fois|por|per) ?"
            r"(?:\d{2,}|\d+[.,]\d+)\b"
        ),
        (("*", "\u00d7", "\u00f7", " / "),),
        words=frozenset(["divided", "fois", "mal", "multiplied", "per", "por", "times"]),
    ),
    _Rule(
        "estimation problem",
        re.compile(
            r"\b(?:estimate|guesstimate)\b[^.?!\n]{0,50}\bhow many\b"
            r"|\b(?:roughly|approximately) how many\b[^.?!\n]{0,60}\b(?:fit|are there|would|could)\b|\bfermi\b"
        ),
        words=frozenset(["approximately", "estimate", "fermi", "guesstimate", "roughly"]),
        quote=True,
    ),
)

#: Standalone numbers (not parts of dates, phone numbers, times, versions or names like "m1").
_NUMBER = re.compile(r"(?<![\w.,/:-])\d+(?:[.,]\d+)?(?![\w/:-]|[.,]\d)")
_QUESTION = re.compile(
    r"\?|\b(?:how (?:many|much|long|far|fast|old)|what time|when (?:does|do|will|should)|which|find|calculate|"
    r"compute|work out|solve|plan)\b"
)

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


#: Asking for JSON without an output verb first: "in json format pls", "could you kindly format
#: this as JSON", "als JSON", "en formato JSON", "JSON形式で", "json only", "JSON: ...". Read
#: around each "json" (``_json_loosely_asked``), only when the prompt is not about code ("How
#: do I return JSON in Flask" asks for code) and not in a question about JSON ("What is the
#: difference between null in JSON and undefined?").
_JSON_BEFORE = re.compile(
    r"(?:\b(?:in|as|into|to|im|als|en|em|como|no|nel|au|na|w)|\u0432)\s+(?:(?:a|an|the|valid|proper|strict|pure|plain|un|"
    r"una|le|el|o)\s+)?(?:(?:formato|format|\u0444\u043e\u0440\u043c\u0430\u0442\u0435)\s+)?$"
    r"|\b(?:answer|response|reply|output|result|format)\b[^.?!\n]{0,30}\b(?:be|as|is|in)\s+(?:(?:a|an|valid)\s+)?$"
    r"|(?:^|\n)\s*$|(?:\u4ee5|\u7528)\s*$"
)
_JSON_NOT_AFTER = re.compile(
    r"\s*(?:files?|and|or|vs\.?|versus|is|are|was|has|have|schemas?|objects? (?:and|or|vs))\b|-?(?:like|ish)\b"
)
_JSON_AFTER = re.compile(
    r"[ -]?(?:format|formato|fromat)\b(?!\s+(?:is|are|was|vs|and|or)\b)|\s*(?:only|please|pls|plz|back)\b"
    r"|\s*(?:\u5f62\u5f0f|\u683c\u5f0f)|\s+(?:with|containing) (?:the )?(?:keys?|fields?|properties)\b"
)
_ASKS_ABOUT = re.compile(
    r"(?:what|how|why|when|where|which|who|is|are|does|do|did|should|explain|describe|tell me about|wie|was|"
    r"comment|qu|c\u00f3mo|qu\u00e9|come|cosa|\u0447\u0442\u043e|\u043a\u0430\u043a)\b"
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
    #: The one need the prompt stands for (long_context, then code/reasoning, vision, tools,
    #: json, simple) and how sure the classifier is of it, in [0, 1]: the learned scorer's
    #: probability, at least ``RULE_CONFIDENCE`` when a rule fired, 1 for structural needs.
    primary: PromptClass = "simple"
    confidence: float = 1.0
    #: The likeliest other class by the learned scorer and its probability (None without it).
    runner_up: PromptClass | None = None
    runner_up_score: float = 0.0
    #: The learned scorer's probabilities, ``(class, p)`` for simple, code, reasoning, json.
    scores: tuple[tuple[str, float], ...] = ()

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


#: What the learned scorer reads (``focus_text``): the start of the system prompt, the end of
#: the previous user turn, and the last user turn, cut to its head and tail when long.
FOCUS_SYSTEM = 150
FOCUS_PREVIOUS = 150
FOCUS_HEAD = 250
FOCUS_TAIL = 150


def _text_of(message: Mapping[str, Any]) -> str:
    return "\n".join(t for kind, t in content_parts(message.get("content")) if kind == "text")


def focus_parts(messages: Sequence[Mapping[str, Any]]) -> tuple[str, str, str]:
    """``(system, previous, last)``: the start of the first system/developer prompt, the end
    of the previous user turn, and the last user turn (its head and tail when long)."""
    system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
    users = [m for m in messages if m.get("role") == "user"]
    previous = _text_of(users[-2])[-FOCUS_PREVIOUS:] if len(users) > 1 else ""
    last = _text_of(users[-1]) if users else ""
    if len(last) > FOCUS_HEAD + FOCUS_TAIL:
        last = f"{last[:FOCUS_HEAD]}\n{last[-FOCUS_TAIL:]}"
    return (_text_of(system)[:FOCUS_SYSTEM] if system is not None else ""), previous, last


def focus_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The part of a conversation that says what is asked (see ``FOCUS_*``), what the learned
    scorer reads: bounded, so a long prompt costs no more than a short one."""
    return "\n".join(part for part in focus_parts(messages) if part)


@functools.cache
def _ignorecase(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(pattern.pattern, pattern.flags | re.IGNORECASE)


def _first_hit(rules: Sequence[_Rule], text: str, lower: str, *, skip_ambiguous: bool = False) -> str | None:
    """The signal of the first rule that matches ``text`` (``lower`` is ``text.lower()``)."""
    hit = _rule_hit(rules, text, lower, skip_ambiguous=skip_ambiguous)
    return None if hit is None else hit[0]


def _rule_hit(
    rules: Sequence[_Rule],
    text: str,
    lower: str,
    *,
    skip_ambiguous: bool = False,
    only_ambiguous: bool = False,
    words: AbstractSet[str] | None = None,
) -> tuple[str, _Rule] | None:
    """The signal and rule of the first rule that matches ``text`` (``words``: its words, for
    rules gated by ``_Rule.words``)."""
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
            if rule is _ARITHMETIC and not _REAL_OPERATOR.search(match.group(0)):
                continue
            if not rule.quote:
                return rule.label, rule
            return f"{rule.label} {text[match.start() : match.end()].strip()[:30]!r}", rule
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

    scanned_dicts = [d for d in dicts if d.get("role") in _SCANNED_ROLES]
    scanned = _joined(scanned_dicts)
    last_user = next((d for d in reversed(dicts) if d.get("role") == "user"), None)
    instructions = [d for d in dicts if d.get("role") in ("system", "developer")]
    if last_user is not None:
        instructions.append(last_user)
    # Each instruction message is cut on its own, so a huge user turn cannot hide the system prompt.
    instruction_text = "\n".join(_text_of(d)[-SCAN_CHARS:] for d in instructions)
    instruction_lower = instruction_text.lower()

    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    needs_json_schema = kind == "json_schema"
    json_rule = (
        "json" in instruction_lower and _first_hit((_JSON_ASKED,), instruction_text, instruction_lower) is not None
    )
    json_requested = kind in ("json_object", "json_schema") or json_rule

    # The learned scorer reads the focus text; the word and shape rules only the last user turn.
    system_focus, previous_focus, user_focus = focus_parts(dicts)
    user_lower = user_focus.lower()
    user_words = words_of(user_lower)
    context = "\n".join(part for part in (system_focus, previous_focus) if part).lower()
    marks = symbols(f"{context}\n{user_lower}" if context else user_lower)
    focus_words = words_of(context) + user_words if context else user_words
    # Code rules on the current request first: a sure hit (a code fence, a stack trace...)
    # settles the tier, and the learned scorer is not needed.
    current = _current(scanned_dicts)
    current_text = _joined(current) if current is not None else scanned
    current_lower = current_text.lower()
    sure_code = _rule_hit(_CODE_RULES, current_text, current_lower, skip_ambiguous=True)
    model = None if sure_code is not None else load_model()
    probs = model.probabilities_of(focus_words, marks) if model is not None else None

    user_set = set(user_words)
    if sure_code is not None:
        code: str | None = sure_code[0]
    else:
        code = _code_hit(
            current is not None, scanned, current_text, current_lower, user_focus, user_lower, user_set, probs
        )
    reasoning = _reasoning_hit(
        scanned_dicts, scanned, user_focus, user_lower, user_words, probs, has_code=code is not None
    )
    found: dict[PromptClass, str] = {}
    ruled: set[PromptClass] = set()
    for cls, hit in (("code", code), ("reasoning", reasoning)):
        if hit is not None:
            found[cls] = hit  # type: ignore[index]
            ruled.add(cls)  # type: ignore[arg-type]
        elif not (code or reasoning) and probs is not None and model is not None and probs[cls] >= LEARNED_THRESHOLD:
            feats = features(focus_words, marks)
            found[cls] = _learned_signal(model, feats, cls, probs[cls])  # type: ignore[index]

    json_signal = "JSON requested"
    if not json_requested and "code" not in found and "json" in instruction_lower:
        if _json_loosely_asked(instruction_lower):
            json_requested = json_rule = True
        elif probs is not None and probs["json"] >= LEARNED_JSON_THRESHOLD and not _asks_about_json(instruction_lower):
            json_requested = True
            json_signal = f"JSON requested (learned {probs['json']:.2f})"
    if json_requested:
        classes.add("json")
        signals.append(json_signal)
    for cls, hit in found.items():
        classes.add(cls)
        signals.append(hit)

    tokens = prompt_tokens if prompt_tokens is not None else estimate_prompt_tokens(messages, tools or functions)
    if tokens >= long_context_tokens:
        classes.add("long_context")
        signals.append(f"~{tokens} prompt tokens >= {long_context_tokens}")
    if not classes & {"code", "reasoning", "long_context", "vision", "tools"}:
        classes.add("simple")

    # The one need the prompt stands for, and how sure we are of it.
    sure: set[PromptClass] = set(ruled)
    if "long_context" in classes:
        primary: PromptClass = "long_context"
    elif found:
        # A rule beats the learned scorer; between two rules (or two learned), the likelier one.
        primary = max(found, key=lambda c: (c in ruled, probs[c] if probs is not None else 0.0))
    elif needs_vision:
        primary = "vision"
    elif needs_tools:
        primary = "tools"
    elif json_requested:
        primary = "json"
        if kind in ("json_object", "json_schema") or json_rule:
            sure.add("json")
    else:
        primary = "simple"
    runner_up: PromptClass | None = None
    runner_up_score = 0.0
    if primary in ("long_context", "vision", "tools"):
        confidence = 1.0
    elif probs is None:  # rules alone: a sure code rule, or no model shipped
        confidence = RULE_CONFIDENCE if primary in sure else 1.0
    else:
        confidence = probs[primary]
        if primary in sure:
            confidence = max(confidence, RULE_CONFIDENCE)
        other = max((c for c in MODEL_CLASSES if c != primary), key=probs.__getitem__)
        runner_up, runner_up_score = other, probs[other]  # type: ignore[assignment]
    return PromptProfile(
        prompt_tokens=tokens,
        classes=frozenset(classes),
        signals=tuple(signals),
        needs_tools=needs_tools,
        needs_vision=needs_vision,
        json_requested=json_requested,
        needs_json_schema=needs_json_schema,
        primary=primary,
        confidence=confidence,
        runner_up=runner_up,
        runner_up_score=runner_up_score,
        scores=tuple((c, probs[c]) for c in MODEL_CLASSES) if probs is not None else (),
    )


_CODE_TERM_KEYS = with_anagrams(CODE_TERMS)
_CODE_TERM_FEATURES = frozenset(_CODE_TERM_KEYS)
_REASONING_TERM_KEYS = with_anagrams(REASONING_TERMS)
_REASONING_TERM_FEATURES = frozenset(_REASONING_TERM_KEYS)


def _joined(dicts: Sequence[Mapping[str, Any]]) -> str:
    """The messages' text parts, one per line, cut to the last ``SCAN_CHARS`` characters."""
    return "\n".join(t for d in dicts for k, t in content_parts(d.get("content")) if k == "text")[-SCAN_CHARS:]


def _current(scanned_dicts: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]] | None:
    """The system/developer prompts and the last user turn, when earlier user turns exist
    (else None: the whole scanned text is the current request)."""
    users = [i for i, d in enumerate(scanned_dicts) if d.get("role") == "user"]
    if len(users) < 2:
        return None
    return [d for i, d in enumerate(scanned_dicts) if d.get("role") != "user" or i == users[-1]]


def _conversation_hit(
    rules: Sequence[_Rule],
    scanned_dicts: Sequence[Mapping[str, Any]],
    scanned: str,
    *,
    sure_not: bool,
) -> str | None:
    """Rules over the current request first; a hit only in earlier user turns ("write a SQL
    query" ... "thanks, have a nice day") counts unless the learned scorer is sure the
    conversation has moved on (``sure_not``), and so do ambiguous rules."""
    current = _current(scanned_dicts)
    text = _joined(current) if current is not None else scanned
    hit = _rule_hit(rules, text, text.lower(), skip_ambiguous=sure_not)
    if hit is None and current is not None and not sure_not:
        hit = _rule_hit(rules, scanned, scanned.lower())
    return None if hit is None else hit[0]


def _code_hit(
    earlier_turns: bool,
    scanned: str,
    current: str,
    current_lower: str,
    user: str,
    user_lower: str,
    user_words: AbstractSet[str],
    probs: Mapping[str, float] | None,
) -> str | None:
    """When no sure code rule fired on the current request: the ambiguous rules there, and
    any code rule in earlier turns, unless the learned scorer is sure the prompt is not code;
    then the shape and word rules on the last user turn."""
    sure_not = probs is not None and probs["code"] < AMBIGUOUS_VETO
    hit = None
    if not sure_not:
        hit = _rule_hit(_CODE_RULES, current, current_lower, only_ambiguous=True)
        if hit is None and earlier_turns:
            hit = _rule_hit(_CODE_RULES, scanned, scanned.lower())
    return (
        (hit[0] if hit is not None else None)
        or _rule_hit_signal(_SHAPE_RULES, user, user_lower, user_words)
        or _code_terms(user_words, user_lower, allow_ambiguous=not sure_not)
    )


#: Asking for a riddle or puzzle to enjoy, not to solve: "Give me a riddle for my kids' party".
_WANTS_A_PUZZLE = re.compile(
    r"\b(?:give|tell|write|make up|create|suggest|share|know|recommend|like|love|need|want|invent)\b(?: me| us)?"
    r"[^.?!\n]{0,25}\b(?:riddles?|puzzles?|brain ?teasers?)\b"
)


def _reasoning_hit(
    scanned_dicts: Sequence[Mapping[str, Any]],
    scanned: str,
    user: str,
    user_lower: str,
    user_words: Sequence[str],
    probs: Mapping[str, float] | None,
    *,
    has_code: bool,
) -> str | None:
    sure_not = probs is not None and probs["reasoning"] < AMBIGUOUS_VETO
    hit = _conversation_hit(_REASONING_RULES, scanned_dicts, scanned, sure_not=sure_not)
    if hit is None and not has_code:
        # Problems told in words; skipped for code, which needs tier 2 anyway (and whose
        # numbers and operators are not a word problem).
        words = set(user_words)
        hit = (
            _rule_hit_signal(_PROBLEM_RULES, user, user_lower, words)
            or _terms(words, _REASONING_TERM_FEATURES, _REASONING_TERM_KEYS, "math words")
            or _phrase(words, user_lower, _REASONING_PHRASES, "math words")
            or _word_problem(user_lower, user_words)
        )
    if (
        hit is not None
        and any(w in hit.lower() for w in ("riddle", "puzzle", "teaser"))
        and _WANTS_A_PUZZLE.search(user_lower)
    ):
        return None
    return hit


def _rule_hit_signal(rules: Sequence[_Rule], text: str, lower: str, words: AbstractSet[str]) -> str | None:
    hit = _rule_hit(rules, text, lower, words=words)
    return None if hit is None else hit[0]


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


def _code_terms(user_words: AbstractSet[str], user_lower: str, *, allow_ambiguous: bool) -> str | None:
    """A word only programmers use, or an everyday name beside a code word ("pandas" +
    "dataframe"), written by the user; typos with swapped letters count ("pyhton scirpt")."""
    hit = _terms(user_words, _CODE_TERM_FEATURES, _CODE_TERM_KEYS, "programming words")
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
    pair = next(((n, m) for n in sorted(names) for m in nouns if n != m), None)
    return None if pair is None else f"programming words {pair[0]!r} + {pair[1]!r}"


_NAME_KEYS = {k: w for k, w in with_anagrams(AMBIGUOUS_CODE_NAMES).items() if k.startswith("%")}
_NOUN_KEYS = {k: w for k, w in with_anagrams(CODE_NOUNS).items() if k.startswith("%")}


def _phrase(
    user_words: AbstractSet[str], user_lower: str, phrases: Mapping[str, tuple[str, ...]], label: str
) -> str | None:
    """A listed word pair the user wrote ("linked list", "lazy-load"); ``phrases`` is keyed by
    the pair's first word, so only pairs whose first word occurs are looked for."""
    hits = [
        p
        for w in user_words & phrases.keys()
        for p in phrases[w]
        if p in user_lower or p.replace(" ", "-") in user_lower
    ]
    return f"{label} {min(hits)!r}" if hits else None


def _by_first_word(phrases: frozenset[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for phrase in sorted(phrases):
        out.setdefault(phrase.split()[0], []).append(phrase)
    return {k: tuple(v) for k, v in out.items()}


_CODE_PHRASES = _by_first_word(CODE_PHRASES)
_REASONING_PHRASES = _by_first_word(REASONING_PHRASES)


def _word_problem(user_lower: str, user_words: Sequence[str]) -> str | None:
    """Three or more numbers and a question about them: a word problem."""
    if user_words.count("0") < WORD_PROBLEM_NUMBERS:  # numbers are "0" in the word list
        return None
    numbers = _NUMBER.findall(user_lower)
    if len(numbers) >= WORD_PROBLEM_NUMBERS and _QUESTION.search(user_lower):
        return f"word problem ({len(numbers)} numbers)"
    return None


def _json_loosely_asked(lower: str) -> bool:
    """Around some "json": a request shape (``_JSON_BEFORE`` / ``_JSON_AFTER``) in a sentence
    that is not a question about JSON."""
    at = lower.find("json")
    while at >= 0:
        before = lower[max(0, at - 40) : at]
        after = lower[at + 4 : at + 44]
        if (_JSON_BEFORE.search(before) and not _JSON_NOT_AFTER.match(after)) or _JSON_AFTER.match(after):
            start = max(lower.rfind(end, 0, at) for end in (".", "?", "!", "\n", "\u3002")) + 1
            sentence = lower[start:at].lstrip()
            if not _ASKS_ABOUT.match(sentence):
                return True
        at = lower.find("json", at + 4)
    return False


def _asks_about_json(lower: str) -> bool:
    """No "json" is in a sentence that could ask for it: each is in a question about JSON
    ("What is JSON?") or a statement about it ("JSON is a text format", "my JSON files")."""
    at = lower.find("json")
    while at >= 0:
        start = max(lower.rfind(end, 0, at) for end in (".", "?", "!", "\n", "\u3002")) + 1
        if not _ASKS_ABOUT.match(lower[start:at].lstrip()) and not _JSON_NOT_AFTER.match(lower, at + 4):
            return False
        at = lower.find("json", at + 4)
    return True


def _learned_signal(model: LearnedModel, feats: Iterable[str], cls: str, p: float) -> str:
    words = model.evidence(feats, cls)
    because = f" ({', '.join(repr(w) for w in words)})" if words else ""
    return f"learned {cls} {p:.2f}{because}"
