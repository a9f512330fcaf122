"""Word lists the classifier's term rules match against a prompt's focus words.

General vocabulary, not phrases from any test set: tools, languages and formats that only
occur when someone is programming; words that only occur in maths and logic problems; and
names that are code only beside a code word (``pandas`` the library vs. the animal). Words of
six letters or more also match with their letters swapped (``pyhton``, ``scirpt``, ``dokcer``):
see :func:`anagram_key`.
"""

from __future__ import annotations

__all__ = [
    "AMBIGUOUS_CODE_NAMES",
    "CJK_CODE_WORDS",
    "CODE_NOUNS",
    "CODE_PHRASES",
    "CODE_TERMS",
    "NO_ANAGRAM",
    "REASONING_PHRASES",
    "REASONING_TERMS",
    "anagram_key",
    "with_anagrams",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words that mean software wherever they appear.
CODE_TERMS = _words(
    """
    dockerfile docker kubectl kubernetes terraform ansible nginx caddyfile systemd systemctl crontab cronjob
    powershell zsh regex regexp postgres postgresql mysql sqlite mongodb graphql numpy dataframe
    dataframes matplotlib jupyter pytest junit unittest virtualenv venv npm pnpm webpack eslint typescript
    javascript nodejs reactjs nextjs vuejs jquery django fastapi laravel swiftui uikit xcode gradle
    golang rustc github gitlab bitbucket localhost cors segfault stacktrace traceback subprocess stdout
    stderr malloc mutex hashmap vba haskell clojure fortran cobol webassembly gcc clang makefile cmake pypi
    conda css html flexbox tailwind endpoint endpoints backend frontend async boolean enum struct recursion
    iterrows axios redux sudo chmod grep gitignore jsx tsx devops oauth jwt websocket websockets codable
    viewmodel usestate useeffect setstate springboot hibernate ingress deserialize serialize dockerized api
    apis sdk cli vscode ssh cpp csharp dotnet scipy sklearn pytorch tensorflow keras selenium playwright
    cypress repo repos rebase nullpointerexception indexerror keyerror typeerror valueerror attributeerror
    importerror modulenotfounderror syntaxerror runtimeerror http https middleware microservice
    microservices rabbitmq elasticsearch redis yaml yml toml pythonic
    """
)

#: Names that are code only next to a code word ("pandas dataframe" vs "pandas eat bamboo").
AMBIGUOUS_CODE_NAMES = _words(
    """
    python java rust ruby swift shell bash sql kotlin c perl lua julia dart react node vue angular git express
    flutter spring pod cargo pandas flask jest yarn lambda commit commits stash rails scala curl pip
    """
)

#: Words that make an ambiguous name code ("Python script", "React component", "git branch"):
#: only words that are rarely anything but code, so "a list of things to do in Java" stays travel.
CODE_NOUNS = _words(
    """
    code coding script scripts function functions class classes method methods program programs programming
    library libraries package packages module modules error errors exception exceptions query queries snippet
    snippets app apps application component components hook hooks loop loops array arrays dict dictionary
    variable variables repo repository commit commits branch branches dataframe syntax compiler framework
    struct pointer pointers props macro macros stash clone checkout rebase project projects
    funktion skript klasse fonction fonctions requête función funciones código programa funzione codice
    branche rama zweig paket paquete pacchetto database databases widget widgets
    """
)

#: Word pairs that only programmers use (matched as the learned scorer's word-pair features).
CODE_PHRASES = frozenset(
    {
        "linked list",
        "binary search",
        "binary tree",
        "hash map",
        "hash table",
        "big o",
        "time complexity",
        "unit test",
        "unit tests",
        "pull request",
        "merge conflict",
        "code review",
        "design pattern",
        "dependency injection",
        "race condition",
        "memory leak",
        "null pointer",
        "data structure",
        "sorting algorithm",
        "lazy load",
        "web app",
        "rest api",
        "command line",
        "virtual environment",
        "environment variable",
        "environment variables",
        "version control",
        "cron expression",
        "regular expression",
        "post request",
        "get request",
        "http request",
        "status code",
        "stack overflow",
        "type hints",
        "list comprehension",
        "infinite loop",
        "calculator program",
    }
)

#: Code words of scripts written without spaces, matched as substrings beside an ambiguous name.
CJK_CODE_WORDS = ("代码", "函数", "提交", "分支", "报错", "コード", "関数", "コミット", "ブランチ", "エラー")

#: Word pairs only maths problems use.
REASONING_PHRASES = frozenset(
    {
        "common divisor",
        "common multiple",
        "common factor",
        "perfect square",
        "prime factors",
        "prime factorization",
        "prime factorisation",
        "interior angles",
        "expected value",
        "arithmetic sequence",
        "geometric sequence",
        "geometric series",
    }
)

#: Words that only occur in maths, logic and probability problems.
REASONING_TERMS = _words(
    """
    divisible factorial gcd lcm modulo eigenvalue eigenvalues eigenvector determinant irrational quadratic
    polynomial logarithm permutations permutation combinatorics hypotenuse diagonals weighings syllogism
    knaves knave brainteaser primzahl integers 素数
    """
)


#: Terms whose letters also spell a common word ("eslint"/"listen", "logarithm"/"algorithm",
#: "integers"/"steering", "ingress"/"singers", "gradle"/"glared"): matched only as written.
NO_ANAGRAM = frozenset({"eslint", "logarithm", "integers", "ingress", "gradle", "repos"})


def anagram_key(word: str) -> str:
    """A word's letters in order, marked: a swapped-letter typo has the same key."""
    return "%" + "".join(sorted(word))


def with_anagrams(words: frozenset[str]) -> dict[str, str]:
    """Feature -> the word it stands for: each word, and the anagram key of each word of six
    letters or more (shorter words have too many anagrams to be safe), except ``NO_ANAGRAM``."""
    out = {w: w for w in words}
    for w in sorted(words):
        if len(w) >= 6 and w.isalpha() and w not in NO_ANAGRAM:
            out.setdefault(anagram_key(w), w)
    return out
