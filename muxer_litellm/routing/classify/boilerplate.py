"""What the learned scorer should not read: text that says nothing about the need.

A generic role prompt ("You are a helpful assistant."), a greeting turn before the request,
a polite opener ("Hi! Could you please help me with something?") or thanks and a sign-off
say nothing about what a prompt needs, yet a scorer learned from a few hundred prompts gives
their words weight. The scorer itself decides what to leave out, so no word list is kept:

- the system prompt and the previous user turn are read only when, on their own, they point
  at a need: some class other than simple reaches the scorer's own ``threshold``, the
  probability at which it would add that class to a request. "You are a senior Python
  reviewer" and "Answer in JSON" count, "You are a helpful assistant." does not;
- up to ``EDGE_SENTENCES`` short sentences (``EDGE_WORDS`` words, no numbers) at the start and
  end of the last user turn are dropped when, on their own, no need reaches that threshold,
  and either what stays keeps more words than all that is dropped and the model's pleasantry
  detector (``LearnedModel.filler_alone``, learned from the training wrappings against the
  training prompts' own sentences) does not rule out a pleasantry (``POSSIBLE_FILLER``), or that
  detector is sure of it (``FILLER_PROBABILITY``): so a short request in stacked pleasantries
  ("Hello again, sorry to bother you. Is 391 prime? Many thanks, have a nice day!") is read
  bare, while "My shell code fails. Thanks!" keeps its first sentence.
  A sentence that points at a need is never dropped, nor the last one left; a simple request
  may be, which leaves it simple;
- earlier user turns say nothing about the last one when the conversation has moved on
  (:func:`moved_on`): the last turn says that it changes the subject ("Unrelated, but...",
  "Totally different question", "Autre sujet", "Cambiando de tema": then neither does the
  system prompt, :func:`changes_subject`), it is only pleasantries
  ("perfect, thanks a lot! have a nice day", each sentence one the pleasantry detector is sure
  of), or, without its pleasantries, it is a question (or a request of ``STANDALONE_WORDS``
  words or more) that on its own the scorer is sure needs nothing (below ``NO_NEED``: "thanks!
  what's a good film for tonight?", "ok last thing, what should I cook tonight, I have
  chicken"). A follow-up ("now make it faster", "what about negative numbers?", "by the way, it
  should also take negatives") keeps the earlier turns.
"""

from __future__ import annotations

import re

from .learned import STOP_WORDS, LearnedModel, tokens

__all__ = [
    "CONTINUES",
    "EDGE_SENTENCES",
    "EDGE_WORDS",
    "FILLER_PROBABILITY",
    "NEW_TOPIC",
    "NO_NEED",
    "POSSIBLE_FILLER",
    "SMALL_TALK_WORDS",
    "STANDALONE_WORDS",
    "changes_subject",
    "core_span",
    "moved_on",
    "needful_context",
    "request_core",
    "sentences",
]

EDGE_WORDS = 8
#: The pleasantry detector's probability at which an edge sentence goes even when it is longer
#: than what stays of the turn.
FILLER_PROBABILITY = 0.8
#: ... and below which it stays even when what stays is longer: a short question at the end
#: ("Both open, how long until it is full?") is a request, not a pleasantry, however short.
POSSIBLE_FILLER = 0.25
EDGE_SENTENCES = 2
#: How far into each end of the turn an edge sentence is looked for (bounded work).
_EDGE_CHARS = 160
#: What ends a sentence: punctuation and a space, a line break, CJK full stops.
_BREAKS = (". ", "? ", "! ", "\n", "\u3002", "\uff01", "\uff1f")
_DIGIT = re.compile(r"\d")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+|(?<=[\u3002\uff01\uff1f])")
#: The scorer's need of a request alone below which it is sure the request needs nothing, so
#: the conversation moved on. New subjects ("ok and what's the capital of peru?") read about
#: 0.01-0.06, short follow-ups ("and what about 223?", "what about march?") 0.13-0.6.
NO_NEED = 0.1
#: A request without a question mark this long says what it wants on its own ("what should I cook
#: tonight, I have chicken and potatoes"); a shorter one may lean on the earlier turns ("make it
#: shorter").
STANDALONE_WORDS = 8
#: A last turn of at most this many words can be only pleasantries (bounded work).
SMALL_TALK_WORDS = 24
#: A turn that opens with a conjunction goes on from the one before ("and if it must be 20%
#: faster?", "but what about weekends?", "et si...", "und wenn...", "och om...").
CONTINUES = re.compile(
    r"(?:and|but|or|then|what if|och|et|mais|ou|alors|y|pero|entonces|e|ma|oppure|und|aber|oder|dann|"
    r"\u0430|\u0438|\u043d\u043e|\u0438\u043b\u0438|ve|ama|veya|dan|tapi|atau|v\u00e0|nh\u01b0ng|ho\u1eb7c)\b"
)
#: A turn that changes the subject, looked for in its first ``_EDGE_CHARS`` characters.
NEW_TOPIC = re.compile(
    r"\b(?:unrelated|off[- ]topic|on another note|switching gears|new topic"
    r"|(?:different|another) (?:subject|topic)|(?:totally|completely|entirely) different"
    r"|(?:different|separate|unrelated) question|change of (?:subject|topic)|changing (?:the )?(?:subject|topic)"
    r"|autre sujet|rien à voir|sans rapport|otro tema|cambiando de tema|nada que ver"
    r"|anderes thema|themawechsel|altro argomento|cambiando argomento|outro assunto|mudando de assunto)\b"
)


def sentences(text: str) -> list[str]:
    """``text`` cut after sentence-ending punctuation, at line breaks and after CJK full stops."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def changes_subject(lower: str) -> bool:
    """Whether the last user turn (lowercased) says that it changes the subject ("off topic,
    but...", "unrelated question:"): neither the earlier turns nor the system prompt say what
    it needs."""
    return NEW_TOPIC.search(lower, 0, _EDGE_CHARS) is not None


def moved_on(model: LearnedModel, lower: str, core: str) -> bool:
    """Whether the last user turn (lowercased; ``core``: it without its edge pleasantries, see
    :func:`request_core`) leaves the earlier turns behind: it says that it changes the subject,
    it is only pleasantries, or it is a short question (or a request of ``STANDALONE_WORDS``
    words or more) that on its own the scorer is sure needs nothing (see the module docstring)."""
    if changes_subject(lower):
        return True
    if len(lower.split()) > SMALL_TALK_WORDS:
        return False
    parts = sentences(lower)
    if not parts:
        return False
    if all(model.filler_alone(p) >= FILLER_PROBABILITY and model.need_alone(p) < model.threshold for p in parts):
        return True
    request = core.strip()
    if not (request.endswith(("?", "\uff1f")) or len(request.split()) >= STANDALONE_WORDS):
        return False
    # A question of function words only ("what does it do?") names no new subject, and a turn
    # that opens with a conjunction ("and if we skip Fridays?", "och om...") goes on from the last.
    named = any(w not in STOP_WORDS for w in tokens(request))
    return named and not CONTINUES.match(request) and model.need_alone(request) < NO_NEED


def needful_context(model: LearnedModel, lower: str) -> str:
    """``lower`` (a system prompt or earlier turn, lowercased) when it points at a need, else ""."""
    return lower if lower.strip() and model.need_alone(lower) >= model.threshold else ""


def _droppable(model: LearnedModel, sentence: str, dropped: int, total: int) -> bool:
    """Short, no numbers, pointing at no need alone, and either what stays of the turn keeps
    more words than all that is dropped (so a request is not dropped for its pleasantries) and
    the pleasantry detector does not rule out a pleasantry, or that detector is sure of it."""
    words = len(sentence.split())
    if not (0 < words <= EDGE_WORDS and not _DIGIT.search(sentence)):
        return False
    if model.need_alone(sentence) >= model.threshold:
        return False
    filler = model.filler_alone(sentence)
    return filler >= FILLER_PROBABILITY or (filler >= POSSIBLE_FILLER and total - dropped - words > dropped + words)


def _first_break(lower: str, lo: int, hi: int) -> int:
    """The end of the first sentence break in ``lower[lo:hi]`` (-1: none)."""
    ends = [at + len(p) for p in _BREAKS if (at := lower.find(p, lo, hi)) >= 0]
    return min(ends) if ends else -1


def _last_break(lower: str, lo: int, hi: int) -> int:
    """The end of the last sentence break in ``lower[lo:hi]`` before ``hi`` (-1: none)."""
    ends = [at + len(p) for p in _BREAKS if (at := lower.rfind(p, lo, hi - 1)) >= 0]
    return max(ends) if ends else -1


def core_span(model: LearnedModel, lower: str) -> tuple[int, int]:
    """Where the last user turn (lowercased) starts and ends without the short sentences at
    its edges that point at no need (see the module docstring): ``lower[start:end]``."""
    start, end = 0, len(lower.rstrip())
    if _last_break(lower, start, end) < 0:
        return 0, len(lower)  # one sentence: nothing at its edges to drop
    total = len(lower.split())
    dropped = 0
    for _ in range(EDGE_SENTENCES):
        cut = _first_break(lower, start, min(end, start + _EDGE_CHARS))
        if cut < 0 or cut >= end or not _droppable(model, lower[start:cut], dropped, total):
            break
        dropped += len(lower[start:cut].split())
        start = cut
    for _ in range(EDGE_SENTENCES):
        cut = _last_break(lower, max(start, end - _EDGE_CHARS), end)
        if cut <= start or not _droppable(model, lower[cut:end], dropped, total):
            break
        dropped += len(lower[cut:end].split())
        end = len(lower[:cut].rstrip())
    return start, end if end < len(lower.rstrip()) else len(lower)


def request_core(model: LearnedModel, lower: str) -> str:
    """The last user turn (lowercased) without the short sentences at its edges that point at
    no need (see :func:`core_span`)."""
    start, end = core_span(model, lower)
    return lower[start:end]
