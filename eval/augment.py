"""Training copies of each prompt in wrappings that say nothing about its need (same label).

A scorer learned from a few hundred prompts picks up whatever co-occurs with a label: if the
only prompts with a system prompt are code prompts, "helpful" means code. Each training prompt
is therefore also learned in a few random wrappings: a role prompt (a generic one, or half the
time one of ``PERSONAS``, a company's product assistant or an everyday feature: "the help-centre
assistant of a project-management tool, open Mon-Fri 9-17" says nothing about what its users
ask), a greeting or polite opener, thanks or a sign-off, a small-talk exchange first, from one
of them to all four at once, with openers and closers sometimes two in a row (stacked
pleasantries around a short request are where a scorer is most easily swayed). These templates
are deliberately different from ``eval/invariance.py``'s, which measure whether this generalised.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .dataset import Item

ROLE_PROMPTS = (
    "You are an AI assistant. Answer the user's questions.",
    "You're a friendly, knowledgeable assistant.",
    "Assistant is a large language model. Be polite and accurate.",
    "You are a kind and useful chatbot that helps people.",
    "You are Aria, a virtual assistant. Keep a warm tone.",
    "The following is a conversation with an AI assistant.",
    "Tu es un assistant utile.",
    "Eres un asistente amable.",
    "Du bist ein hilfreicher Assistent.",
    "You are a smart, reliable and respectful assistant. Always do your best.",
    "You are an intelligent assistant created to help users with their requests.",
    "Act as a supportive personal assistant.",
    "You are a trustworthy AI. Be clear, kind and factual.",
    "System: you are a chat assistant. Follow the user's instructions carefully.",
    "You are Max, a cheerful assistant who loves helping.",
    "Sei un assistente disponibile.",
    "Você é um assistente prestativo.",
)
SYSTEM_PROMPTS = Path(__file__).resolve().parent / "data" / "system"


def _lines(path: Path) -> tuple[str, ...]:
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


#: System prompts that point at no need (``system/simple.txt``, one a line): a company's product
#: assistant (who it is, whom it serves, how it sounds, the facts it may quote: opening hours,
#: prices, plan limits), an everyday feature's instructions ("rewrite the user's text in the tone
#: they ask for"), everyday tutors, coaches and shops; never code, maths or JSON.
PERSONAS = _lines(SYSTEM_PROMPTS / "simple.txt")
#: How many times each system prompt alone is learned (``system_prompts``).
SYSTEM_COPIES = 4
OPENERS = (
    "Hello! ",
    "Hey, quick question. ",
    "Good morning, I hope you're well. ",
    "Hi there, can you help me? ",
    "Please help me with this: ",
    "Hi assistant,\n",
    "I have a question. ",
    "Dear assistant, ",
    "Bonjour ! ",
    "Hola, ",
    "Hallo, ",
    "yo ",
    "Hope you're doing great! ",
    "Sorry for the trouble, ",
    "Quick one: ",
    "Greetings. ",
    "Hey hey :) ",
    "Hi, me again. ",
    "Excuse me, ",
    "Morning! Hope all is well. ",
    "Hello friend, I need a hand. ",
    "Can I ask you something? ",
    "Hi! Wondering if you could assist. ",
    "Ciao! ",
    "Olá! ",
    "Hey! ",
    "Hi everyone, ",
    "Good afternoon. ",
    "Good evening, hope you had a good day. ",
    "Apologies for the late message. ",
    "Hi, hope your week is going well! ",
    "Hi, I hope this is the right place to ask. ",
    "Sorry if this is a silly question. ",
    "Hello, I need your help please. ",
    "Hiya! ",
    "Howdy! ",
    "Hi team, ",
    "Greetings from Berlin! ",
    "Salut ! ",
    "Buenos días, ",
    "Guten Tag, ",
    "Buongiorno! ",
    "Bom dia! ",
    "こんにちは。",
    "你好！",  # noqa: RUF001
    "Привет! ",
    "Ok so, ",
    "Hey, got a minute? ",
    "I hope you can help. ",
    "Good day to you. ",
    "Sorry for the interruption. ",
    "Long time no see! ",
    "Hi again, thanks for earlier. ",
)
CLOSERS = (
    " Thanks!",
    " Thanks a lot.",
    " Much appreciated!",
    "\nBest regards",
    " Thank you in advance :)",
    " thx",
    "\n\nKind regards,\nAlex",
    " Merci !",
    " Gracias.",
    " Danke!",
    " Please and thank you.",
    " Have a nice day!",
    " Appreciate it :)",
    " Thanks so much for your time!",
    "\n\nBest,\nJo",
    " Thank you kindly.",
    " You're the best!",
    " Grateful for any help.",
    "\n-- Maria",
    " Take care!",
    " Thanks heaps, enjoy your evening.",
    " Looking forward to your answer.",
    " Obrigado!",
    " Grazie mille.",
    " Thank you!",
    " Cheers!",
    " Thanks again.",
    " Thank you very much for your help.",
    " Any help is appreciated.",
    " Thanks in advance!",
    "\n\nRegards,\nPriya",
    "\nThanks,\nTom",
    " Sorry for the long message.",
    " Hope that makes sense.",
    " Let me know, thanks!",
    " Have a great weekend!",
    " Cheers mate.",
    " ty!",
    " Enjoy your day :)",
    " I really appreciate your help.",
    " Muchas gracias.",
    " Vielen Dank!",
    " Merci beaucoup.",
    " ありがとうございます。",
    " 谢谢！",  # noqa: RUF001
    " Спасибо!",
    " Cordialement,\nMarc",
    "\n\nSaludos,\nAna",
    " Thanks a bunch!",
    " Take it easy.",
    " Thank you for your time and patience.",
    " Have a good one!",
    " All the best.",
    " Thanks heaps, you're a star.",
)
SMALL_TALK = (
    ("Hi!", "Hello! What can I do for you?"),
    ("How are you today?", "I'm doing well, thanks for asking! How can I help?"),
    ("hello", "Hi there! What would you like to know?"),
    ("Good evening", "Good evening! How may I assist you?"),
    ("Are you there?", "Yes, I'm here. What do you need?"),
    ("good afternoon :)", "Good afternoon! How can I help?"),
    ("Hi, hope your day is going well", "Thank you, it is! What can I do for you?"),
    ("Thanks for your help earlier!", "You're welcome! Anything else?"),
    ("Bonjour", "Bonjour ! Comment puis-je vous aider ?"),
    ("hey", "Hey! What's up?"),
    ("Good morning, assistant", "Good morning! How can I help you?"),
    ("Hola", "¡Hola! ¿En qué puedo ayudarte?"),
    ("Hi, it's me again", "Welcome back! What do you need?"),
    ("yo, you awake?", "Always! What can I do for you?"),
)


def _wrap(messages: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    out = [dict(m) for m in messages]
    last = max(i for i, m in enumerate(out) if m["role"] == "user")
    text = out[last]["content"]
    kinds = rng.sample(("role", "opener", "closer", "turn"), rng.randint(1, 4))
    if "opener" in kinds:
        text = "".join(rng.sample(OPENERS, 1 + (rng.random() < 0.35))) + text
    if "closer" in kinds:
        text = text + "".join(rng.sample(CLOSERS, 1 + (rng.random() < 0.35)))
    out[last]["content"] = text
    if "turn" in kinds:
        at = next((i for i, m in enumerate(out) if m["role"] not in ("system", "developer")), len(out))
        user, assistant = rng.choice(SMALL_TALK)
        out[at:at] = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    if "role" in kinds and not any(m["role"] in ("system", "developer") for m in out):
        roles = PERSONAS if rng.random() < 0.5 else ROLE_PROMPTS
        out.insert(0, {"role": "system", "content": rng.choice(roles)})
    return out


def augmented(items: Sequence[Item], copies: int, seed: int = 3) -> list[Item]:
    """``copies`` wrapped copies of each item (ids ``<id>+<n>``), after the items themselves;
    long documents are not copied (they are told apart by size, not words)."""
    rng = random.Random(seed)
    out = list(items)
    for item in items:
        if item.generated:
            continue
        for n in range(copies):
            out.append(replace(item, id=f"{item.id}+{n}", messages=_wrap(item.messages, rng)))
    return out


def system_prompts() -> list[Item]:
    """System prompts alone, each labelled by the need it points at (``system/<label>.txt``):
    the classifier reads a system prompt with the request only when, on its own, the scorer
    calls it a need ("You are a SQL expert.", "Answer in JSON.") and not when it only says who
    the assistant is (``PERSONAS``). Each is learned ``SYSTEM_COPIES`` times (ids ``<id>+<n>``)."""
    out = []
    for path in sorted(SYSTEM_PROMPTS.glob("*.txt")):
        for n, text in enumerate(_lines(path)):
            item = Item(f"system/{path.stem}/{n}", path.stem, [{"role": "system", "content": text}])
            out += [item, *(replace(item, id=f"{item.id}+{k}") for k in range(SYSTEM_COPIES - 1))]
    return out


def group(item_id: str) -> str:
    """The original prompt an item (or a wrapped copy of it) comes from: copies stay in one fold."""
    return item_id.split("+")[0]
