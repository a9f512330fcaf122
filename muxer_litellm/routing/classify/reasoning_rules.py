"""The reasoning rules: maths words and formulas, and problems told in words (probability,
counting, logic, calendar and clock puzzles, multi-step word problems)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .rules import Rule

__all__ = [
    "FORMULA_RULES",
    "PROBLEM_RULES",
    "REASONING_RULES",
    "SMALL_COMPUTATION_WORDS",
    "WANTS_A_PUZZLE",
    "WORD_PROBLEM_NUMBERS",
    "small_computation",
    "word_problem",
]

#: Numbers a question needs to count as a word problem.
WORD_PROBLEM_NUMBERS = 3
#: The most words a request that is only a small computation has ("What is 9 times 8?").
SMALL_COMPUTATION_WORDS = 16

_DIGITS = tuple("0123456789")
#: A number that is no easy factor: two digits or more (thousands grouped by commas or not, a
#: decimal), not a power of ten.
_FACTOR = (
    r"(?!10+(?![\d.,])|1(?:[.,]000)+(?![\d.,]))"
    r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d{2,}(?:[.,]\d+)?|\d+[.,]\d+)"
)
_REAL_OPERATOR = re.compile(r"[+*^\u00d7\u00f7]|\s[-/]\s")


_OPERATOR = re.compile(r"[-+*/^\u00d7\u00f7]")
#: "plus" and "minus" in words, in the languages the rules know most of.
_SUM_WORDS = re.compile(r"\b(?:plus|minus|moins|m\u00e1s|menos|mais|pi\u00f9|meno)\b")
#: A sum: numbers joined only by + and - or their words ("12 + 7 + 3", "250 minus 75 plus 30").
_SUM = re.compile(
    r"(?<![\w.,])\d+(?:[.,]\d+)?(?:\s*(?:[-+]|" + _SUM_WORDS.pattern + r")\s*\d+(?:[.,]\d+)?)+(?![\w.,]\d|\s*%)"
)


def _drop_sum(match: re.Match[str]) -> str:
    """A sum's numbers are not counted as a word problem's (a date or phone number's are)."""
    sum_ = match.group(0)
    return " " if _REAL_OPERATOR.search(sum_) or _SUM_WORDS.search(sum_) else sum_


def _without_sums(lower: str) -> str:
    return _SUM.sub(_drop_sum, lower) if "+" in lower or " - " in lower or _SUM_WORDS.search(lower) else lower


def _beyond_a_sum(expression: str) -> bool:
    """Arithmetic a cheap model may get wrong: a power, two multiplications or divisions, or
    one beside an addition (operator precedence). Additions and subtractions alone are simple;
    dates and phone numbers (2024-03-15, 555-123-4567) have no real operator at all."""
    if _REAL_OPERATOR.search(expression) is None:
        return False
    ops = _OPERATOR.findall(expression)
    multiplicative = sum(op not in "+-" for op in ops)
    return "^" in ops or multiplicative >= 2 or 0 < multiplicative < len(ops)


REASONING_RULES: tuple[Rule, ...] = (
    Rule(
        "math words",
        re.compile(
            r"\b(?:prove|proof(?!-?read)(?! of (?:address|identity|id|purchase|income|residence|concept|insurance|age|"
            r"delivery|payment|employment|vaccination|ownership|funds|life)\b)|theorem|lemma|derive|derivation|"
            # "the integral of", not "an integral part" or "pan integral" (wholemeal bread)
            r"(?:the|this|that|definite|indefinite|double|improper) integral|integral of|"
            r"derivative|equations?|solve for|"
            # "prove" in other languages: "Докажи, что...", "Démontrez que", "Demuestra que", "Beweise"
            r"докажи(?:те)?|d[ée]montre[zr]?|prouve[zr]?|demuestr[ae]|demostrar|beweise[n]?|dimostra(?:re)?|udowodnij"
            r"|kan[\u0131i]tla|bewijs|"
            r"conditional probability|expected value|optimi[sz]ation problem|logic puzzle|riddle)\b"
            r"|证明|証明"
        ),
        (
            (
                *(
                    "докаж",
                    "montre",
                    "prouve",
                    "demuestr",
                    "demostrar",
                    "beweis",
                    "dimostra",
                    "udowodnij",
                    "kan\u0131tla",
                ),
                *("kanitla", "bewijs", "证明", "証明"),
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
    Rule(
        "formula",
        re.compile(r"\\frac|\\int|\\sum|[\u222b\u2211\u221a\u2202]"),
        (("\\frac", "\\int", "\\sum", "\u222b", "\u2211", "\u221a", "\u2202"),),
    ),
    Rule(
        "formula",
        re.compile(r"\b(?:sin|cos|tan|log|ln|exp)\s*\(|\b[a-z]\s*\^\s*\d"),
        (("sin", "cos", "tan", "log", "ln", "exp", "^"), ("(", "^")),
    ),
    # Dates (2024-03-15, 12/25/2024) and phone numbers (555-123-4567) look like arithmetic; an
    # expression counts only with a +, *, ^, x, / or an operator set off by spaces (_REAL_OPERATOR).
    Rule(
        "arithmetic",
        re.compile(r"\d+(?:\s*[-+*/\u00d7\u00f7^]\s*\d+){2,}"),
        (_DIGITS, ("+", "*", "^", "\u00d7", "\u00f7", " - ", " / ")),
        accept=_beyond_a_sum,
    ),
)

#: The reasoning rules without the maths words: a formula or arithmetic to work out.
FORMULA_RULES = tuple(rule for rule in REASONING_RULES if rule.label != "math words")

_CHANGE = (
    r"(?:rise|rises|rose|increase[sd]?|raise[sd]?|up|down|drop(?:s|ped)?|fall(?:s|en)?|fell|discount(?:ed)?|off"
    r"|cut|markup|tax|vat|interest|grow(?:s|n)?|grew|shrink(?:s)?|shrank|more|less|cheaper|dearer"
    # the same in French, Spanish, Portuguese, Italian, German
    r"|augment\w*|baiss\w*|hausse|sub(?:e|i[óou])|baj(?:a|ó)|aument\w*|ca(?:e|iu|yó)|diminu\w*|desconto|descuento"
    r"|remise|sconto|cala(?:to)?|scende|sceso|salito|steig\w*|gestiegen|sink\w*|gesunken|rabatt|erhöh\w*)"
)
_BEFORE = r"(?:before|originally|original|at first|to begin with|to start with|without (?:the )?(?:tax|vat|discount))"
_WEEKDAY = (
    "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|dienstag|mittwoch|donnerstag|freitag"
    "|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves"
    "|viernes|sábado|domingo|lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica|segunda|terça|quarta|quinta"
    "|sexta|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|poniedziałek|wtorek|środa|czwartek|piątek"
    "|sobota|niedziela|понедельник|вторник|среда|четверг|пятница|суббота|воскресенье)"
)
_WHAT_DAY = (
    "(?:(?:what|which) (?:day|weekday)|welche[rnm]? (?:tag|wochentag)|quel jour|qu[ée] d[ií]a|che giorno"
    "|welke dag|jaki dzień|какой день)"
)
_COMPARISON = (
    r"(?:\b(?:(?!rather|other|later|sooner|never|ever|over|under|after|either|neither)\w{2,}er|more \w+|less \w+)"
    r" than\b|\b\w+er als\b|\bplus \w+ que\b|\bm[áa]s \w+ que\b|\bmais \w+ (?:do )?que\b|\bpiù \w+ di\b)"
)
#: The question of an ordering puzzle asks for a rank: "the second tallest", "am ältesten".
_RANK = (
    r"\b(?:\w+est|most|least|middle|second|third|last|am \w+sten|le plus|la plus|el más|la más|o mais|a mais"
    r"|il più|la più)\b"
)
_DURATION = (
    r"\d+(?:[.,]\d+)?[- ]?(?:min(?:ute)?s?|hours?|hrs?|days?|weeks?|jours?|heures?|d[ií]as|horas|minutos|minuti|ore"
    r"|giorni|tage?n?|stunden|minuten|dagen|uur|g[üu]nde|saatte|dakikada|dni|godzin|дн(?:я|ей)|час\w*"
    r"|минут|日|天|時間|小时|分|일|시간)\b"
)
_TOGETHER_WORDS = (
    *("together", "ensemble", "juntos", "juntas", "zusammen", "gemeinsam", "insieme", "samen", "birlikte", "razem"),
    *("вместе", "一起", "一緒に", "함께"),
)
_TOGETHER = f"(?:{'|'.join(_TOGETHER_WORDS)})"
_WHO = "(?:who|which|wer|welche[rsnm]?|qui|quel(?:le)?|qui[ée]n|cu[áa]l|quem|qual|chi)"

_NTH = "(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth)"
#: A square or cube, after its number.
_SQUARE_OR_CUBE = (
    "squared|cubed|au carr[ée]|au cube|al cuadrado|al cubo|ao quadrado|ao cubo|al quadrato|zum quadrat|do kwadratu"
    "|do sześcianu|karesi|küpü|в квадрате|в кубе|i kvadrat|kuadrat|का वर्ग|का घन|的平方|的立方"
)
_PRIME = r"(?:priemgetal|primzahl|primtal|liczb\w* pierwsz\w*|asal say|素数|质数|bilangan prima|số nguyên tố|अभाज्य)"
_TIMES_TABLE_POWER = re.compile(rf"(?:\d|10+)\s*(?:{_SQUARE_OR_CUBE})")

# Maths, logic and probability problems that use no maths words.
PROBLEM_RULES: tuple[Rule, ...] = (
    Rule(
        # An equation with an unknown, in any language: "3x + 7 = 25", "x - 4 = 10", "5n = 35",
        # "n squared minus 5n plus 6 equals zero" (a number times x, y, z or n, then "equals").
        "equation",
        re.compile(
            r"(?<![\w.])(?:\d+(?:[.,]\d+)?\s*\*?\s*)?[a-z](?:\s*\^\s*\d|[\u00b2\u00b3])?\s*[-+*/]\s*\d+(?:[.,]\d+)?"
            r"(?:\s*[a-z])?\s*=\s*[-+]?\s*\d|(?<![\w.])\d+\s*[a-z]\s*=\s*[-+]?\s*\d"
            r"|(?<![\w.])\d+[nxyz]\b[^.?!\n]{0,40}?\bequals?\b"
        ),
        (("=", "equal"),),
    ),
    Rule(
        "maths problem",
        re.compile(
            # "Is 221 prime?", "is 51 prime or not", "Is 323 a prime number?"
            r"\b\d+ (?:an? )?prime\b|\bprime (?:number |factori[sz]ation )?(?:of )?\d{2,}"
            r"|\bn[u\u00fa]mero primo\b|\bnombre premier\b|\u043f\u0440\u043e\u0441\u0442\w* \u0447\u0438\u0441\u043b"
            # "Is 1001 een priemgetal?", "Ist 91 eine Primzahl?", "91 是质数吗", "Czy 97 jest liczbą pierwszą?"
            rf"|\d{{2,}}[^.?!\n]{{0,20}}?{_PRIME}|{_PRIME}[^.?!\n]{{0,20}}?\d{{2,}}"
        ),
        (
            (
                *("\u043f\u0440\u043e\u0441\u0442", "priemgetal", "primzahl", "primtal", "pierwsz", "asal", "素数"),
                *("质数", "prima", "nguyên tố", "अभाज्य"),
            ),
        ),
        quote=True,
        words=frozenset(["premier", "prime", "primes", "primo"]),
    ),
    Rule(
        "probability problem",
        re.compile(
            # Dice, coins and cards, or numbers: not "the probability of rain".
            r"\b(?:probab(?!l[ey]\b)\w*|odds|chances?|likelihood)\b[^.?!\n]{0,80}?"
            r"\b(?:dice|die|coins?|cards?|deck|roll(?:s|ing|ed)?|draw(?:s|ing|n)?|flip(?:s|ping|ped)?|toss(?:es|ing)?|"
            r"heads|tails|aces?|poker|full house|lottery|birthdays?|marbles?|urn)\b"
            r"|\b(?:probab(?!l[ey]\b)\w*|odds)\b[^.?!\n]{0,80}?(?:\b(?:at least|exactly|at most|in a row)\b|\d)"
            # "probabilità di ottenere almeno due teste", "au moins", "al menos", "mindestens"
            r"|\bprobabil\w*[^.?!\n]{0,60}?\b(?:almeno|au moins|al menos|pelo menos|mindestens|minstens|co najmniej"
            r"|esattamente|exactement|exactamente|exatamente|genau)\b"
            r"|(?:probabilit[\u00e9\u00e0]|probabilidad|wahrscheinlichkeit|\u0432\u0435\u0440\u043e\u044f\u0442\u043d\u043e\u0441\u0442|\u6982\u7387|\u78ba\u7387)[^.?!\n\u3002]{0,60}?\d"
            r"|\d[^.?!\n\u3002]{0,60}?(?:\u6982\u7387|\u78ba\u7387)"
        ),
        (("probab", "\u0432\u0435\u0440\u043e\u044f\u0442", "\u6982\u7387", "\u78ba\u7387"),),
        quote=True,
        words=frozenset(["chance", "chances", "likelihood", "odds", "wahrscheinlichkeit"]),
    ),
    Rule(
        "counting problem",
        re.compile(
            r"\bhow many (?:different |distinct |possible |unique )?(?:ways|combinations|permutations|arrangements|"
            r"handshakes|outfits|pins|passwords|squares|triangles|rectangles|paths|subsets|orderings|diagonals)\b"
            r"|\bin how many (?:different )?ways\b"
            # "How many 3-letter codes...", "how many 4-digit numbers..."
            r"|\bhow many (?:different |distinct |possible |unique )?\d+[- ](?:letter|digit|character|symbol)\b"
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
    Rule(
        "logic puzzle",
        re.compile(r"\bdoes it (?:necessarily |logically )?follow\b"),
        words=frozenset({"follow"}),
        quote=True,
    ),
    Rule(
        "logic puzzle",
        re.compile(r"\bwhat can (?:we|you|i|one) (?:conclude|infer|deduce)\b"),
        words=frozenset({"conclude", "infer", "deduce"}),
        quote=True,
    ),
    Rule(
        "logic puzzle",
        re.compile(
            r"\balways (?:tells? the truth|lies?)\b|\bknights? and knaves?\b|\btruth[- ]tellers?\b"
            r"|\b(?:exactly|only) (?:one|two) of (?:them|us|the \w+) (?:is |are )?"
            r"(?:lying|lies|tells? the truth|telling)\b"
        ),
        words=frozenset(["always", "knave", "knaves", "knight", "knights", "truth", "lying", "lies"]),
        quote=True,
    ),
    Rule(
        "logic puzzle",
        re.compile(r"\bif (?:all|every|no|some) \w+ (?:are|is)\b"),
        (("if all ", "if every ", "if no ", "if some "),),
        quote=True,
    ),
    Rule(
        "logic puzzle",
        re.compile(
            r"\bbrain ?teasers?\b|(?<!jigsaw )(?<!crossword )\bpuzzles?\b(?! (?:games?|box|pieces|apps?|books?))"
        ),
        words=frozenset(["brainteaser", "brainteasers", "puzzle", "puzzles", "teaser", "teasers"]),
        quote=True,
    ),
    Rule(
        "number sequence",
        re.compile(
            r"\bwhat comes next\b|\bnext (?:number|term) in\b|\b(?:continue|complete) the (?:sequence|series)\b"
        ),
        words=frozenset({"next", "sequence", "series"}),
        quote=True,
    ),
    Rule(
        "calendar puzzle",
        re.compile(
            r"\bwhat day (?:of the week )?will it be\b|\bday (?:before yesterday|after tomorrow)\b[^.?!\n]*\bwhat day\b"
        ),
        (("what day",),),
        quote=True,
    ),
    Rule(
        # A share of what is left: "I spend a third on food, then a quarter of what's left on..."
        "word problem",
        re.compile(
            r"\b(?:half|third|quarter|fifth|moitié|tiers|quart|mitad|tercio|cuarto|metà|terzo|quarto|hälfte|drittel"
            r"|viertel|metade|terço|\d+ ?%)[^.?!\n]{0,30}?(?:\bof (?:what(?:'s| is| was) left|the rest|the remainder"
            r"|what remains|what(?:'s| is) remaining)|\bdu reste|\bde lo que (?:le |me )?queda|\bdel resto|\bdal resto"
            r"|\bvom rest|\bdo resto)\b"
        ),
        words=frozenset(["left", "rest", "remainder", "remains", "remaining", "resto", "reste", "queda"]),
        quote=True,
    ),
    Rule(
        # Percentages compounded or reversed: "up 10% one year and down 10% the next", "after a
        # 25% rise it costs 60, what did it cost before?" (one round percentage of a number is simple).
        "percentage problem",
        re.compile(
            rf"\d+\s*%[^\n]{{0,120}}?\b{_CHANGE}\b[^\n]{{0,120}}?\d\s*%"
            rf"|\d+\s*%[^\n]{{0,80}}?\b{_CHANGE}\b[^\n]{{0,120}}?\b{_BEFORE}\b"
        ),
        (("%",),),
        quote=True,
    ),
    Rule(
        # A weekday, a number and "what day": "If the 1st of March is a Monday, what day is the
        # 1st of June?", "If today is Tuesday, what day is it in 100 days?"
        "calendar puzzle",
        re.compile(
            rf"\d[^?\n]{{0,100}}?\b{_WEEKDAY}\b[^?\n]{{0,100}}?\b{_WHAT_DAY}\b"
            rf"|\b{_WEEKDAY}\b[^?\n]{{0,100}}?\b{_WHAT_DAY}\b[^?\n]{{0,60}}?\d"
        ),
        (("day", "tag", "jour", "día", "giorno", "dag", "dzień", "день"),),
        quote=True,
    ),
    Rule(
        # Two comparisons and a question: "A is taller than B, C is shorter than B. Who is the
        # tallest?", "Anna ist älter als Ben, aber jünger als Carl. Wer ist am ältesten?"
        "ordering puzzle",
        re.compile(rf"{_COMPARISON}[^\n]{{0,160}}?{_COMPARISON}[^\n]{{0,160}}?\b{_WHO}\b[^?\n]{{0,30}}?{_RANK}"),
        (("than", " als ", " que ", " di "),),
        quote=True,
    ),
    Rule(
        "clock puzzle",
        re.compile(r"\bangle between the (?:hour|minute|clock|hands)\b"),
        words=frozenset({"angle"}),
        quote=True,
    ),
    Rule(
        # A schedule: a clock time, durations that repeat and a question for the time it ends:
        # "starts at 10:45 with four talks of 35 minutes each and a 10-minute break. When does it end?"
        "clock puzzle",
        re.compile(
            rf"\b\d{{1,2}}(?::\d{{2}}| ?[ap]\.?m\b)[^?\n]{{0,120}}?{_DURATION}[^?\n]{{0,40}}?\b(?:each|every|apiece)\b"
            r"[^?\n]{0,160}?\b(?:when|what time)\b"
        ),
        words=frozenset({"each", "every", "apiece"}),
        quote=True,
    ),
    Rule(
        # Work done together: "Ali finishes a job in 10 days and Veli in 15. Together, how long?"
        "work-rate problem",
        re.compile(
            rf"{_DURATION}[^?\n]{{0,100}}?(?:\d+|{_DURATION})[^?\n]{{0,100}}?\b{_TOGETHER}\b"
            rf"|\b{_TOGETHER}\b[^?\n]{{0,100}}?{_DURATION}[^?\n]{{0,100}}?{_DURATION}"
        ),
        words=frozenset(_TOGETHER_WORDS),
        quote=True,
    ),
    Rule(
        "arithmetic",
        # Multiplying or dividing numbers of two digits or more: "17 times 23", "144 / 0.12",
        # "2,340 divided by 0.15", "divide 7,254 by 39", "38 keer 46", "73 умножить на 48",
        # "23乘以47", "17 x 23?" (an x only ends the request: "a 160x230 rug" is a size); a power
        # of ten is an easy factor ("500 divided by 10", "1,000 times 12").
        re.compile(
            rf"(?<![\w.,]){_FACTOR} ?"
            r"(?:[*\u00d7\u00f7]| / |times|multiplied by|divided by|mal|fois|por|per|vezes|keer|razy|kere|çarp\u0131"
            r"|kali|nhân|gånger|умножить на|умножить|乘以|乘|かける|掛ける|गुणा|(?=x ?\d+(?:[.,]\d+)? ?(?:=|\?|$))x)"
            rf" ?{_FACTOR}(?![\d.,]?\d)"
            rf"|\b(?:divide|multiply) {_FACTOR} by {_FACTOR}(?![\d.,]?\d)"
        ),
        (("*", "\u00d7", "\u00f7", " / ", "x", "умнож", "乘", "かける", "掛ける", "गुणा", " by "), _DIGITS),
        words=frozenset(
            [
                *("divided", "fois", "mal", "multiplied", "per", "por", "times", "vezes", "keer", "razy", "kere"),
                *("\u00e7arp\u0131", "kali", "nhân", "gånger", "divide", "multiply"),
            ]
        ),
    ),
    Rule(
        # A power in words, in any language: "3 to the power of 7", "2 to the 20th", "7 to the
        # fourth", "12 cubed", "3 hoch 7", "2 puissance 10", "3 alla settima", "5 üzeri 6",
        # "2 в степени 10", "2の10乗", "2的十次方"; the square or cube of one digit or of a power
        # of ten is a times-table fact ("What is 3 squared?", "5 al cuadrado").
        "arithmetic",
        re.compile(
            r"(?<![\d.,])\d+(?:[.,]\d+)?\s*(?:\^\s*\d+|(?:to the )?power(?: of)?\s*\d+"
            rf"|to the (?:\d+(?:st|nd|rd|th)|{_NTH})\b"
            r"(?= power|\s*[-+?.!]|\s*$| (?:minus|plus|times|and|divided|power)\b)"
            r"|raised to (?:the power of )?\d+"
            r"|(?:squared|cubed)\b(?! ?(?:[kc]?m\b|met(?:re|er)s|f(?:ee|oo)t|inch|yard|mile))"
            r"|hoch \d+|(?:à la )?puissance \d+|elevad[oa] (?:a |al |à )\d+|elevato (?:a |alla )\d+"
            r"|alla (?:\d+|seconda|terza|quarta|quinta|sesta|settima|ottava|nona|decima)\b|do potęgi|üzeri \d+"
            r"|upphöjt till \d+|tot de (?:macht )?\d+|pangkat \d+|mũ \d+|в \d+(?:-?й)? степени|в степени \d+"
            rf"|(?!squared|cubed)(?:{_SQUARE_OR_CUBE}))"
            r"|\d\s*の\s*\d+\s*乗|\d\s*的\s*[\d一二三四五六七八九十]+\s*次方|\d+의? ?\d+제곱"
        ),
        (
            (
                *(
                    "^",
                    "power",
                    "to the ",
                    "raised",
                    "squared",
                    "cubed",
                    "hoch",
                    "puissance",
                    "elevad",
                    "elevato",
                    "alla ",
                ),
                *("potęgi", "üzeri", "upphöjt", "tot de", "pangkat", "mũ", "степен", "乗", "次方", "제곱"),
                *(" carr", " cube", "cuadrado", "cubo", "quadrat", "kwadrat", "sześcian", "kare", "küp", "квадрат"),
                *("кубе", "kvadrat", "kuadrat", "平方", "立方", "वर्ग", "घन"),
            ),
        ),
        quote=True,
        accept=lambda power: _TIMES_TABLE_POWER.fullmatch(power) is None,
    ),
    Rule(
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

#: Asking for a riddle or puzzle to enjoy, not to solve: "Give me a riddle for my kids' party".
WANTS_A_PUZZLE = re.compile(
    r"\b(?:give|tell|write|make up|create|suggest|share|know|recommend|like|love|need|want|invent)\b(?: me| us)?"
    r"[^.?!\n]{0,25}\b(?:riddles?|puzzles?|brain ?teasers?)\b"
)


#: The sentences that end in a question mark.
_QUESTION_SENTENCE = re.compile(r"[^.!?\n\uff1f]+[?\uff1f]")
#: A question asking for advice or a reason, not for a quantity: "Can I swap the baking soda for
#: baking powder?", "Any tips?", "Is it fine to just add a bit of time?".
_ADVICE_QUESTION = re.compile(
    r"\s*\u00bf?(?:why|can i|could i|should i|do i need|can you help|any (?:tips|ideas?|advice)|what am i doing wrong|"
    r"what (?:should|can) i|is (?:it|that|this) (?:fine|ok|okay|safe|normal|bad|good|enough|too)|"
    r"pourquoi|puis-je|est-ce que je (?:peux|dois)|por qu[e\u00e9]|puedo|deber\u00eda|warum|kann ich|sollte ich|"
    r"perch\u00e9|posso|dovrei|devo)\b"
)


def word_problem(user_lower: str, user_words: Sequence[str]) -> str | None:
    """Three or more numbers and a question about them: a word problem. Numbers that are only
    added or subtracted ("What's 12 + 7 + 3?", "250 minus 75 plus 30") are a sum a cheap model
    does, and a question that only asks for advice or a reason ("I use 100 g of starter, 500 g
    of flour and 350 g of water. Can you help me debug my sourdough?") asks for no quantity."""
    if user_words.count("0") < WORD_PROBLEM_NUMBERS:  # numbers are "0" in the word list
        return None
    numbers = _NUMBER.findall(_without_sums(user_lower))
    if len(numbers) < WORD_PROBLEM_NUMBERS or not _QUESTION.search(user_lower):
        return None
    questions = _QUESTION_SENTENCE.findall(user_lower)
    if questions and all(_ADVICE_QUESTION.match(q) for q in questions):
        return None
    return f"word problem ({len(numbers)} numbers)"


#: A factor that makes a product easy: one digit, a power of ten ("1,000" too), or a round percentage.
_EASY_FACTOR = re.compile(r"\d|10+|1(?:[.,]000)+|(?:[1-9]?[05]|100)%")


#: What joins two numbers into one small computation: an operator, a percentage, or a word for
#: times, divided, each or per ("9 times 8", "15% of 80", "3 apples at 2 euros each"); two
#: numbers without one ("the primes between 100 and 150") are not a computation.
_OPERATION = re.compile(
    r"[x\u00d7*/\u00f7%]|\b(?:times|multipl\w*|divided|each|per|apiece|costs?|mal|geteilt|durch|fois|divis\w*|"
    r"veces|por|diviso|vezes|dividido|keer|gedeeld|razy|przez|\u0440\u0430\u0437\w*|\u0443\u043c\u043d\u043e\u0436\w*|"
    r"\u0440\u0430\u0437\u0434\u0435\u043b\w*|kali|bagi|l\u1ea7n|chia|\u00e7arp\u0131|b\u00f6l\u00fc)\b"
    r"|[\u4e58\u9664\u500d]|\u304b\u3051|\u5272|\uacf1|\ub098\ub204"
)


def small_computation(user_lower: str, user_words: Sequence[str]) -> bool:
    """A request that is only arithmetic a cheap model does reliably: at most
    ``SMALL_COMPUTATION_WORDS`` words holding either a sum and no other number ("What's 12 + 7
    + 3?") or two numbers, one of them easy (``_EASY_FACTOR``), joined by an operation
    (``_OPERATION``: "9 times 8", "15% of 80", "3 apples at 2 euros each"). The learned scorer
    does not call such a request reasoning (the rules still may: "17 x 23" multiplies two
    numbers of two digits)."""
    if "0" not in user_words or len(user_words) > SMALL_COMPUTATION_WORDS:
        return False
    rest = _without_sums(user_lower)
    numbers = _PLAIN_NUMBER.findall(rest)
    if rest != user_lower:
        return not numbers
    return len(numbers) == 2 and any(_EASY_FACTOR.fullmatch(n) for n in numbers) and _OPERATION.search(rest) is not None


_PLAIN_NUMBER = re.compile(r"(?<![a-z0-9_.,])\d+(?:[.,]\d+)?%?")  # a digit after a CJK sign starts a number
