"""The code rules: fences, syntax, stack traces, programming words, and shapes only code has."""

from __future__ import annotations

import re

from .rules import Rule

__all__ = ["CODE_RULES", "SHAPE_RULES", "WRITTEN_CODE_RULES"]

_UNAMBIGUOUS_LANGS = ("sql", "php", "kotlin", "c++", "c#", "golang")
#: "in" before a language name, in the languages the classifier reads.
_IN = r"\b(?:in|en|em|na|\u043d\u0430|mit|con|com|w|i|v) "
#: Python, JavaScript, TypeScript and Kotlin in Hangul.
_HANGUL_LANGS = "파이썬|자바스크립트|타입스크립트|코틀린"
_AMBIGUOUS_LANGS = ("python", "java", "rust", "ruby", "swift", "bash", "shell", "go")
_AMBIGUOUS_NAMES = "|".join(_AMBIGUOUS_LANGS)
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

CODE_RULES: tuple[Rule, ...] = (
    Rule("code block", re.compile(r"```"), (("```",),)),
    Rule(
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
    Rule(
        "stack trace",
        re.compile(
            r"Traceback \(most recent call last\)|\w(?:Error|Exception): "
            r"|\bat [\w.$<>]+\([\w.]+\.(?:java|kt|scala|js|ts|py|go|rb|cs):\d+\)"
        ),
        (("traceback (most recent call last)", "error: ", "exception: ", ":"),),
        lowered=False,
    ),
    # Language names count next to a code noun or after "in" ("write it in Rust"; also "en",
    # "em", "на", "mit", "con", "com", "w", "i", "v": "lire un fichier en Java", "zapytanie w
    # SQL"). Some are also snakes, coffee, islands, rust belts and parties: those are ``ambiguous``.
    Rule(
        "programming words",
        re.compile(
            r"\b(?:sql|php|kotlin|c\+\+|c#)\s+"
            + _CODE_NOUN_PATTERN
            + rf"|{_IN}(?:golang|sql|php|kotlin|c\+\+|c#)(?![a-z_])"
        ),
        (_UNAMBIGUOUS_LANGS,),
        quote=True,
    ),
    Rule(
        "programming words",
        re.compile(
            rf"\b(?:{_AMBIGUOUS_NAMES})\s+"
            + _CODE_NOUN_PATTERN
            + rf"|{_IN}(?:python|java|rust|ruby|swift|bash)(?![a-z_])"
        ),
        (_AMBIGUOUS_LANGS,),
        quote=True,
        ambiguous=True,
    ),
    # A language asked for by name is code whatever the scorer says: "Write a Python function
    # that...", "implement a Go method".
    Rule(
        "programming words",
        re.compile(
            rf"\b(?:write|implement|code) (?:me )?(?:a |an |the |some )?(?:{_AMBIGUOUS_NAMES})\s+"
            r"(?:code|scripts?|functions?|methods?|programs?|snippets?)(?!\w)"
        ),
        (("write", "implement", "code"), _AMBIGUOUS_LANGS),
        quote=True,
    ),
    Rule(
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
    Rule(
        "programming words",
        # Not "write a script for a wedding toast" nor "a program for the conference".
        re.compile(
            r"\b(?:write|implement) (?:a |an |the |this |my )?(?:(?:program|script)(?! (?:for|about|of)\b)|function|"
            r"class|method)(?!\w)"
        ),
        (("write", "implement"), ("program", "script", "function", "class", "method")),
        quote=True,
    ),
    # Language names written in Hangul, which name nothing else ("파이썬에서", "자바스크립트로").
    Rule("programming words", re.compile(_HANGUL_LANGS), (tuple(_HANGUL_LANGS.split("|")),), quote=True),
)

#: Code written out (a block, syntax, a stack trace), without the programming words: what still
#: counts in a question about a word ("Where does the word 'algorithm' come from?").
WRITTEN_CODE_RULES = tuple(rule for rule in CODE_RULES if rule.label != "programming words")

_EXTENSIONS = (
    *("py", "js", "ts", "tsx", "jsx", "java", "kt", "go", "rs", "rb", "php", "cpp", "hpp", "cs", "sh", "ps1"),
    *("sql", "yml", "yaml", "toml", "gradle", "swift", "lua", "ipynb", "vue", "svelte", "scss", "tf", "mjs"),
    *("jar", "whl", "dll"),
)

#: Shapes only code has, read in the user's focus text (``focus_parts``): source file names,
#: calls, operators, exception class names, error codes, inline `code`, HTML tags, SQL.
SHAPE_RULES: tuple[Rule, ...] = (
    # A file name: ".py" after a word ("app.py"); the literal "." first keeps the scan fast.
    Rule("code syntax", re.compile(r"\.(?:" + "|".join(_EXTENSIONS) + r")\b"), quote=True),
    Rule(
        "code syntax",
        re.compile(r"(?<=\w)\.[a-z_]\w*\(|(?<=\w)\(\)|===|!==|=>|&&|\|\||::|\+=|!=|(?<![=!<>])==(?!=)", re.IGNORECASE),
        (("(", "==", "=>", "&&", "||", "::", "+="),),
        lowered=False,
        quote=True,
    ),
    Rule(
        "error message",
        re.compile(r"(?<=[a-z])(?:Error|Exception)\b|npm ERR!|\bE(?:RESOLVE|NOENT|ACCES|CONNREFUSED)\b"),
        (("error", "exception", "npm err", "eresolve", "enoent", "eacces", "econnrefused"),),
        lowered=False,
        quote=True,
    ),
    Rule(
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
    Rule("inline code", re.compile(r"`[^`\n]{1,60}`"), (("`",),)),
    Rule(
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
    Rule(
        "code syntax",
        re.compile(r"</?(?:div|span|button|input|form|html|body|script|img|ul|li|table)\b[^>\n]{0,80}>"),
        (("<",), (">",)),
        quote=True,
    ),
    Rule(
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
