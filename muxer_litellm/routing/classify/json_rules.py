"""Is JSON asked for? An instruction to answer in JSON, not a question about JSON."""

from __future__ import annotations

import re

from .rules import Rule

__all__ = ["JSON_ASKED", "asks_about_json", "json_loosely_asked"]

JSON_ASKED = Rule(
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
        r"|\bjson only\b|\b(?:must|should|shall) be (?:in |a |an |valid |strict )*json\b"
        # "only JSON", "solo con JSON", "nur mit JSON", "uniquement en JSON"
        r"|\b(?:only|solo|solamente|\u00fanicamente|nur|seulement|uniquement|apenas|somente|alleen|tylko)\s+"
        r"(?:(?:with|in|con|en|mit|avec|com|em|met|w)\s+)?(?:valid |v\u00e1lido |g\u00fcltigem )?json\b"
        # "Make a JSON list of the Beatles"
        r"|\b(?:make|create|build)\b[^.?!\n]{0,20}\ba json (?:list|array|object) (?:of|with|for)\b",
        re.MULTILINE,
    ),
    (("json",),),
)


#: Asking for JSON without an output verb first: "in json format pls", "could you kindly format
#: this as JSON", "als JSON", "en formato JSON", "JSON形式で", "json only", "JSON: ...". Read
#: around each "json" (``json_loosely_asked``), only when the prompt is not about code ("How
#: do I return JSON in Flask" asks for code) and not in a question about JSON ("What is the
#: difference between null in JSON and undefined?").
_JSON_BEFORE = re.compile(
    r"(?:\b(?:in|as|into|to|im|als|en|em|como|no|nel|au|na|w)|\u0432)\s+(?:(?:a|an|the|valid|proper|strict|pure|plain|un|"
    r"una|le|el|o|ein|eine|einen|une|um|uma|een)\s+)?(?:(?:formato|format|\u0444\u043e\u0440\u043c\u0430\u0442\u0435|array|arreglo|"
    r"tableau|objeto|objet|object|objekt|lista|liste|list)\s+)?$"
    r"|\b(?:answer|response|reply|output|result|format)\b[^.?!\n]{0,30}\b(?:be|as|is|in)\s+(?:(?:a|an|valid)\s+)?$"
    r"|(?:^|\n)\s*$|(?:\u4ee5|\u7528)\s*$"
    # "Convierte esta lista a JSON", "converta para JSON", "konvertiere nach JSON"
    r"|\b(?:conv(?:ie|e|i)rt\w*|pasa|transforma\w*|exporta\w*|konvertier\w*)\b[^.?!\n]{0,40}\b(?:a|para|nach|naar)\s+$"
)
_JSON_NOT_AFTER = re.compile(
    r"\s*(?:files?|and|or|vs\.?|versus|over|compared|against|is|are|was|has|have|schemas?|objects? (?:and|or|vs))\b"
    r"|-?(?:like|ish)\b"
)
_JSON_AFTER = re.compile(
    r"[ -]?(?:format|formato|fromat)\b(?!\s+(?:is|are|was|vs|and|or)\b)|\s*(?:only|please|pls|plz|back)\b"
    r"|\s*(?:\u5f62\u5f0f|\u683c\u5f0f)|\s+(?:with|containing) (?:the )?(?:keys?|fields?|properties)\b"
    # "JSONで返して", "JSON으로 답해"
    r"|\s*(?:\u3067(?:\u8fd4|\u51fa\u529b|\u7b54|\u56de\u7b54|\u66f8|\u304f\u3060\u3055\u3044|\u304a\u9858)|\uc73c\ub85c)"
)
_ASKS_ABOUT = re.compile(
    r"(?:what|how|why|when|where|which|who|is|are|does|do|did|should|explain|describe|tell me about|wie|was|"
    r"comment|qu|c\u00f3mo|qu\u00e9|come|cosa|\u0447\u0442\u043e|\u043a\u0430\u043a)\b"
)


def json_loosely_asked(lower: str) -> bool:
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


def asks_about_json(lower: str) -> bool:
    """No "json" is in a sentence that could ask for it: each is in a question about JSON
    ("What is JSON?") or a statement about it ("JSON is a text format", "my JSON files")."""
    at = lower.find("json")
    while at >= 0:
        start = max(lower.rfind(end, 0, at) for end in (".", "?", "!", "\n", "\u3002")) + 1
        if not _ASKS_ABOUT.match(lower[start:at].lstrip()) and not _JSON_NOT_AFTER.match(lower, at + 4):
            return False
        at = lower.find("json", at + 4)
    return True
