"""``classify_prompt``: rules first, the learned scorer for what they miss, then one need.

Rules are plain regular expressions and word lists, so an operator can read why a prompt was
called "code" or "reasoning" (each hit is kept in ``PromptProfile.signals``); the learned
scorer (``learned``) reads the focus text (``focus``) when no sure rule settled the tier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...host import MessageInput
from .boilerplate import changes_subject, core_span, moved_on, needful_context
from .code_rules import CODE_RULES, SHAPE_RULES, WRITTEN_CODE_RULES
from .focus import SCAN_CHARS, current_request, focus_parts, joined
from .json_rules import JSON_ASKED, asks_about_json, json_loosely_asked
from .learned import MODEL_CLASSES, LearnedModel, ModelClass, features, load_model, symbols
from .learned import tokens as words_of
from .messages import SCANNED_ROLES, content_parts, message_dict, text_of
from .profile import RULE_CONFIDENCE, PromptClass, PromptProfile
from .reasoning_rules import (
    FORMULA_RULES,
    PROBLEM_RULES,
    REASONING_RULES,
    WANTS_A_PUZZLE,
    small_computation,
    word_problem,
)
from .rules import Rule, first_hit, rule_hit, rule_signal
from .terms import asks_about_a_word, asks_for_prose, code_terms, reasoning_terms
from .tokens import estimate_prompt_tokens

__all__ = ["LEARNED_JSON_THRESHOLD", "LEARNED_THRESHOLD", "classify_prompt"]

#: The learned scorer adds a class when its probability reaches the shipped model's
#: ``threshold`` (calibrated out-of-fold; rules add it outright), and an everyday-word rule ("in
#: Java", "pandas" + "app") is ignored when all needs together score below its ``veto``. This
#: is the default threshold, also what the semantic refiner's blended scores must reach.
LEARNED_THRESHOLD = 0.6
#: Higher for JSON: a false request makes the cascade's check reject good prose answers.
LEARNED_JSON_THRESHOLD = 0.8

Probabilities = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class _Request:
    """What the rules and the learned scorer read of one request."""

    scanned_dicts: Sequence[Mapping[str, Any]]
    #: User, system and developer text, cut to its last ``SCAN_CHARS``.
    scanned: str
    #: The system/developer prompts and the last user turn when earlier user turns exist.
    current: Sequence[Mapping[str, Any]] | None
    current_text: str
    #: The system/developer prompts and the last user turn, each cut on its own.
    instruction_text: str
    #: The last user turn as the focus text cuts it, and its words.
    user: str
    user_lower: str
    user_words: list[str]
    #: The focus text's system and previous-turn parts, lowercased.
    system_lower: str
    previous_lower: str


def _read(dicts: Sequence[Mapping[str, Any]]) -> _Request:
    scanned_dicts = [d for d in dicts if d.get("role") in SCANNED_ROLES]
    scanned = joined(scanned_dicts)
    last_user = next((d for d in reversed(dicts) if d.get("role") == "user"), None)
    instructions = [d for d in dicts if d.get("role") in ("system", "developer")]
    if last_user is not None:
        instructions.append(last_user)
    # Each instruction message is cut on its own, so a huge user turn cannot hide the system prompt.
    instruction_text = "\n".join(text_of(d)[-SCAN_CHARS:] for d in instructions)
    system_focus, previous_focus, user_focus = focus_parts(dicts)
    user_lower = user_focus.lower()
    user_words = words_of(user_lower)
    current = current_request(scanned_dicts)
    return _Request(
        scanned_dicts=scanned_dicts,
        scanned=scanned,
        current=current,
        current_text=joined(current) if current is not None else scanned,
        instruction_text=instruction_text,
        user=user_focus,
        user_lower=user_lower,
        user_words=user_words,
        system_lower=system_focus.lower(),
        previous_lower=previous_focus.lower(),
    )


def _last_turn_only(request: _Request, current: Sequence[Mapping[str, Any]]) -> _Request:
    """The request read as if ``current`` (its system prompts and last user turn) were all of it."""
    return replace(request, scanned_dicts=current, scanned=request.current_text, current=None, previous_lower="")


@dataclass(frozen=True, slots=True)
class _Reading:
    """What the learned scorer reads: the focus text without what says nothing about the need."""

    words: list[str]
    marks: set[str]
    #: The last user turn without its edge pleasantries (``core_span``), lowercased, and its words.
    core: str
    core_words: list[str]
    #: The previous user turn is read, so the scorer can tell whether the conversation moved on.
    previous: bool = False


def _reading(model: LearnedModel, request: _Request, span: tuple[int, int]) -> _Reading:
    """``span``: the last user turn's ``core_span``."""
    previous = needful_context(model, request.previous_lower)
    context = "\n".join(part for part in (needful_context(model, request.system_lower), previous) if part)
    lower = request.user_lower
    start, end = span
    core = lower[start:end]
    words = request.user_words
    if start or end < len(lower):  # the dropped sentences hold whole words and no numbers
        words = words[len(words_of(lower[:start])) : len(words) - len(words_of(lower[end:]))]
    if not context:
        return _Reading(words, symbols(core), core, words)
    return _Reading(words_of(context) + words, symbols(f"{context}\n{core}"), core, words, previous=bool(previous))


@dataclass(frozen=True, slots=True)
class _Json:
    requested: bool = False
    schema: bool = False
    #: Asked for outright (``response_format`` or an instruction), not guessed by the scorer.
    sure: bool = False
    signal: str = "JSON requested"


def _json_need(request: _Request, response_format: Any, probs: Probabilities | None, *, has_code: bool) -> _Json:
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    schema = kind == "json_schema"
    if kind in ("json_object", "json_schema"):
        return _Json(requested=True, schema=schema, sure=True)
    lower = request.instruction_text.lower()
    if "json" not in lower:
        return _Json(schema=schema)
    if first_hit((JSON_ASKED,), request.instruction_text, lower) is not None:
        return _Json(requested=True, schema=schema, sure=True)
    if has_code:
        return _Json(schema=schema)
    if json_loosely_asked(lower):
        return _Json(requested=True, schema=schema, sure=True)
    if probs is not None and probs["json"] >= LEARNED_JSON_THRESHOLD and not asks_about_json(lower):
        return _Json(requested=True, schema=schema, signal=f"JSON requested (learned {probs['json']:.2f})")
    return _Json(schema=schema)


def _conversation_hit(rules: Sequence[Rule], request: _Request, *, sure_not: bool, judged: bool) -> str | None:
    """Rules over the current request first (ambiguous ones unless the learned scorer is sure
    the prompt is everyday, ``sure_not``); a hit only in earlier user turns ("write a
    SQL query" ... "and group it by month") counts unless the scorer read the previous turn
    (``judged``) and is sure the conversation has moved on. (A last turn of small talk or on a
    new subject has already cut the earlier turns: ``moved_on``.)"""
    text = request.current_text
    hit = rule_hit(rules, text, text.lower(), skip_ambiguous=sure_not)
    if hit is None and request.current is not None and not (sure_not and judged):
        hit = rule_hit(rules, request.scanned, request.scanned.lower())
    return None if hit is None else hit[0]


def _everyday(probs: Probabilities | None, veto: float) -> bool:
    """The scorer is sure the prompt needs nothing (at most ``veto`` for all needs together), so
    an ambiguous rule's hit is an everyday sense ("a week in Java"); a prompt the scorer finds
    unclear keeps its rules ("Как отсортировать список на Python?" leans to JSON as much as to
    code)."""
    return probs is not None and probs["simple"] > 1 - veto


def _code_rules(about: bool) -> Sequence[Rule]:
    """For a question about a word ("What does 'recursive' mean?"), only code written out counts."""
    return WRITTEN_CODE_RULES if about else CODE_RULES


def _code_hit(
    request: _Request, probs: Probabilities | None, veto: float, threshold: float, *, judged: bool, about: bool
) -> str | None:
    """When no sure code rule fired on the current request: the ambiguous rules there unless
    the learned scorer is sure the prompt is everyday (``_everyday``), any code rule in earlier turns unless it
    read the previous turn (``judged``) and is sure the conversation moved on to something
    simple; then the shape and word rules on the last user turn (no word rules for a question
    about a word, ``about``)."""
    sure_not = _everyday(probs, veto)
    rules = _code_rules(about)
    hit = None
    if not sure_not:
        hit = rule_hit(rules, request.current_text, request.current_text.lower(), only_ambiguous=True)
    # The conversation moved on only when the request is small talk now ("thanks, bye"), not
    # when it went from code to a harder follow-up ("make it faster for big numbers").
    left_behind = judged and sure_not
    if hit is None and request.current is not None and not left_behind:
        hit = rule_hit(rules, request.scanned, request.scanned.lower())
    words = set(request.user_words)
    if hit is not None:
        return hit[0]
    return rule_signal(SHAPE_RULES, request.user, request.user_lower, words) or (
        None
        if about
        else code_terms(
            words,
            request.user_lower,
            allow_ambiguous=not sure_not,
            allow_short=probs is None or probs["simple"] < threshold,
        )
    )


def _reasoning_hit(
    request: _Request, probs: Probabilities | None, veto: float, *, has_code: bool, judged: bool, about: bool
) -> str | None:
    """The reasoning rules; for a question about a word (``about``), not its maths words."""
    sure_not = _everyday(probs, veto)
    hit = _conversation_hit(FORMULA_RULES if about else REASONING_RULES, request, sure_not=sure_not, judged=judged)
    if hit is None and not has_code:
        # Problems told in words; skipped for code, which needs tier 2 anyway (and whose
        # numbers and operators are not a word problem).
        words = set(request.user_words)
        hit = (
            rule_signal(PROBLEM_RULES, request.user, request.user_lower, words)
            or (None if about else reasoning_terms(words, request.user_lower))
            or word_problem(request.user_lower, request.user_words)
        )
    if (
        hit is not None
        and any(w in hit.lower() for w in ("riddle", "puzzle", "teaser"))
        and WANTS_A_PUZZLE.search(request.user_lower)
    ):
        return None
    return hit


def _learned_signal(model: LearnedModel, reading: _Reading, cls: str, p: float) -> str:
    words = model.evidence(features(reading.words, reading.marks), cls)
    because = f" ({', '.join(repr(w) for w in words)})" if words else ""
    return f"learned {cls} {p:.2f}{because}"


@dataclass(frozen=True, slots=True)
class _Found:
    """Code and reasoning, each with the signal that found it; ``ruled``: found by a rule."""

    signals: dict[PromptClass, str]
    ruled: frozenset[PromptClass]

    def ruled_only(self) -> _Found:
        """Without the scorer's additions."""
        return _Found({cls: hit for cls, hit in self.signals.items() if cls in self.ruled}, self.ruled)


def _code_and_reasoning(
    request: _Request,
    sure_code: str | None,
    scored: tuple[LearnedModel, _Reading] | None,
    probs: Probabilities | None,
    *,
    about: bool,
) -> _Found:
    """``about``: the request asks about a word ("What does the word 'algorithm' mean?"), which
    names the subject without needing its work: no word rules and no learned addition. A request
    to write prose ("draft a friendly reply to a customer", ``asks_for_prose``) gets no learned
    addition either."""
    model = None if scored is None else scored[0]
    veto = 0.0 if model is None else model.veto
    threshold = 1.0 if model is None else model.threshold
    judged = scored is not None and scored[1].previous
    code = (
        sure_code if sure_code is not None else _code_hit(request, probs, veto, threshold, judged=judged, about=about)
    )
    reasoning = _reasoning_hit(request, probs, veto, has_code=code is not None, judged=judged, about=about)
    hits: tuple[tuple[ModelClass, str | None], ...] = (("code", code), ("reasoning", reasoning))
    signals: dict[PromptClass, str] = {cls: hit for cls, hit in hits if hit is not None}
    ruled = frozenset(signals)
    learned = not ruled and not about and not asks_for_prose(request.user_lower)
    if learned and model is not None and scored is not None and probs is not None:
        for cls, _ in hits:
            if probs[cls] < model.threshold:
                continue
            # Arithmetic a cheap model does is the rules' line, not the scorer's: judged on what the
            # scorer read of the turn ("Hi! Sorry to bother you. 9 times 8?"), unless it is a
            # follow-up the scorer read with its problem ("and with 12 of them?").
            reading = scored[1]
            if cls == "reasoning" and not reading.previous and small_computation(reading.core, reading.core_words):
                continue
            signals[cls] = _learned_signal(*scored, cls, probs[cls])
    return _Found(signals, ruled)


def _primary(
    found: _Found, classes: set[PromptClass], json: _Json, probs: Probabilities | None
) -> tuple[PromptClass, set[PromptClass]]:
    """The one need the prompt stands for, and the classes a rule (not the scorer) found."""
    sure: set[PromptClass] = set(found.ruled)
    if "long_context" in classes:
        return "long_context", sure
    if found.signals:
        # A rule beats the learned scorer; between two rules (or two learned), the likelier one.
        return max(found.signals, key=lambda c: (c in found.ruled, probs[c] if probs is not None else 0.0)), sure
    if "vision" in classes:
        return "vision", sure
    if "tools" in classes:
        return "tools", sure
    if json.requested:
        return "json", sure | ({"json"} if json.sure else set())
    return "simple", sure


def _confidence(
    primary: PromptClass, sure: set[PromptClass], probs: Probabilities | None
) -> tuple[float, ModelClass | None, float]:
    """How sure the classifier is of ``primary``, and the likeliest other class and its score."""
    if primary in ("long_context", "vision", "tools"):
        return 1.0, None, 0.0
    if probs is None:  # rules alone: a sure code rule, or no model shipped
        return (RULE_CONFIDENCE if primary in sure else 1.0), None, 0.0
    confidence = probs[primary]
    if primary in sure:
        confidence = max(confidence, RULE_CONFIDENCE)
    other = max((c for c in MODEL_CLASSES if c != primary), key=probs.__getitem__)
    return confidence, other, probs[other]


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
    - ``reasoning``: proof/math words, a formula, or arithmetic beyond what a cheap model does
      reliably (see ``reasoning_rules``).
    - ``long_context``: the prompt estimate is at least ``long_context_tokens``.
    - ``simple``: none of code, reasoning, long_context, vision, tools.

    Code and reasoning rules read user, system and developer text (assistant turns are
    the model's own words, tool results are data), at most the last ``SCAN_CHARS`` characters.
    """
    dicts = [message_dict(m) for m in messages]
    classes: set[PromptClass] = set()
    signals: list[str] = []
    if any(kind == "image" for d in dicts for kind, _ in content_parts(d.get("content"))):
        classes.add("vision")
        signals.append("image content")
    if tools or functions or any(d.get("tool_calls") or d.get("role") in ("tool", "function") for d in dicts):
        classes.add("tools")
        signals.append("tool use")
    request = _read(dicts)
    # Code rules on the current request first: a sure hit (a code fence, a stack trace...)
    # settles the tier, and the learned scorer is not needed.
    about = asks_about_a_word(request.user_lower, request.user_words)
    sure_code = rule_hit(_code_rules(about), request.current_text, request.current_text.lower(), skip_ambiguous=True)
    model = None if sure_code is not None else load_model()
    scored = None
    if model is not None:
        lower = request.user_lower
        span = core_span(model, lower)
        current = request.current
        if current is not None and moved_on(model, lower, lower[span[0] : span[1]]):
            request = _last_turn_only(request, current)  # "thanks, bye", "unrelated, but...": earlier turns say nothing
        if changes_subject(lower):
            request = replace(request, system_lower="")  # "off topic, but...": nor does the system prompt
        scored = (model, _reading(model, request, span))
    probs = None if scored is None else scored[0].probabilities_of(scored[1].words, scored[1].marks)
    found = _code_and_reasoning(request, None if sure_code is None else sure_code[0], scored, probs, about=about)
    json = _json_need(request, response_format, probs, has_code="code" in found.ruled)
    if json.sure:
        # An easy task whose answer must be JSON ("pull out the name and email, as JSON"): the
        # scorer's guess of code or reasoning does not outweigh the instruction; rules still do.
        found = found.ruled_only()
    if json.requested:
        classes.add("json")
        signals.append(json.signal)
    classes.update(found.signals)
    signals.extend(found.signals.values())
    tokens = prompt_tokens if prompt_tokens is not None else estimate_prompt_tokens(messages, tools or functions)
    if tokens >= long_context_tokens:
        classes.add("long_context")
        signals.append(f"~{tokens} prompt tokens >= {long_context_tokens}")
    if not classes & {"code", "reasoning", "long_context", "vision", "tools"}:
        classes.add("simple")
    primary, sure = _primary(found, classes, json, probs)
    confidence, runner_up, runner_up_score = _confidence(primary, sure, probs)
    return PromptProfile(
        prompt_tokens=tokens,
        classes=frozenset(classes),
        signals=tuple(signals),
        needs_tools="tools" in classes,
        needs_vision="vision" in classes,
        json_requested=json.requested,
        needs_json_schema=json.schema,
        primary=primary,
        confidence=confidence,
        runner_up=runner_up,
        runner_up_score=runner_up_score,
        scores=tuple((c, probs[c]) for c in MODEL_CLASSES) if probs is not None else (),
    )
