"""Content that says nothing about the need does not change the decision
(``routing.classify.boilerplate``), the line between arithmetic a cheap model does and
quantitative reasoning, and short tech-looking words in everyday text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from muxer_litellm.routing import PromptProfile, classify_prompt
from muxer_litellm.routing.classify import load_model
from muxer_litellm.routing.classify.boilerplate import (
    FILLER_PROBABILITY,
    moved_on,
    needful_context,
    request_core,
    sentences,
)
from muxer_litellm.routing.classify.learned import tokens
from muxer_litellm.routing.classify.reasoning_rules import small_computation

NO_LONG = 10**9
Messages = list[dict[str, Any]]


def classify(messages: Messages, **kwargs: Any) -> PromptProfile:
    return classify_prompt(messages, long_context_tokens=NO_LONG, **kwargs)


def user(text: str) -> Messages:
    return [{"role": "user", "content": text}]


def _system(text: str) -> Callable[[Messages], Messages]:
    return lambda m: [{"role": "system", "content": text}, *m]


def _around(before: str, after: str) -> Callable[[Messages], Messages]:
    return lambda m: [*m[:-1], {"role": "user", "content": f"{before}{m[-1]['content']}{after}"}]


def _turn_first(said: str, answer: str) -> Callable[[Messages], Messages]:
    return lambda m: [{"role": "user", "content": said}, {"role": "assistant", "content": answer}, *m]


WRAPPINGS = {
    "role prompt": _system("You are a helpful assistant."),
    "long role prompt": _system("You are an AI assistant. Be friendly, polite and accurate in every answer."),
    "polite opener": _around("Hi! Could you please help me with something? ", ""),
    "greeting": _around("Hello there. ", ""),
    "thanks": _around("", " Thanks a lot!"),
    "sign-off": _around("", "\n\nBest wishes,\nRobin"),
    "small talk first": _turn_first("Hi, how are you?", "I'm well, thank you! What can I do for you?"),
}

PROMPTS = {
    "simple": [
        "Give me a simple recipe for a lemon cake.",
        "Write a short out-of-office reply for the next two weeks.",
        "What is the tallest mountain in Africa?",
        "Quelle est la différence entre un lac et un étang ?",
    ],
    "code": [
        "Write a Python function that merges two sorted lists.",
        "How do I undo the last git commit but keep the changes?",
        "My React component re-renders forever after setState, why?",
    ],
    "reasoning": [
        "Is 391 a prime number?",
        "How many ways can 6 people sit around a round table?",
        "A tank fills in 6 hours and drains in 9. Both open, how long until it is full?",
    ],
    "json": ["Return the three largest oceans as a JSON array of objects with name and area."],
}


@pytest.mark.parametrize("wrapping", WRAPPINGS)
@pytest.mark.parametrize(("need", "text"), [(n, t) for n, texts in PROMPTS.items() for t in texts])
def test_a_wrapping_that_says_nothing_keeps_the_class(wrapping: str, need: str, text: str) -> None:
    bare = classify(user(text))
    wrapped = classify(WRAPPINGS[wrapping](user(text)))
    assert bare.primary == need
    assert wrapped.primary == need


def test_a_system_prompt_that_says_something_still_counts() -> None:
    question = "Is this fine - def add(item, bucket=[]): bucket.append(item)"
    text = "What are the three primary colours?"
    assert classify([{"role": "system", "content": "You are a senior Python reviewer."}, *user(question)]).primary == (
        "code"
    )
    answered = classify([{"role": "system", "content": "Answer in JSON."}, *user(text)])
    assert answered.json_requested
    assert answered.primary == "json"
    generic = classify([{"role": "system", "content": "You are a helpful assistant."}, *user(text)])
    assert generic.primary == classify(user(text)).primary == "simple"


def test_a_turn_that_changes_the_subject_leaves_the_system_prompt_behind() -> None:
    system = {"role": "system", "content": "You are DevPal, a programming assistant. Answer with code where possible."}
    question = "what's the best month to see the northern lights in Tromsø?"
    assert classify([system, *user(question)]).primary == "code"  # read with the system prompt
    assert classify([system, *user(f"Off topic, but {question}")]).primary == "simple"
    assert classify([system, *user(f"Unrelated question: {question}")]).primary == "simple"


def test_the_scorer_reads_a_system_prompt_only_when_it_points_at_a_need() -> None:
    model = load_model()
    assert model is not None
    assert needful_context(model, "you are a senior python reviewer.") != ""
    assert needful_context(model, "answer in json.") != ""
    assert needful_context(model, "you are a helpful assistant.") == ""
    assert needful_context(model, "hi, how are you?") == ""


def test_polite_edges_are_dropped_but_never_the_request() -> None:
    model = load_model()
    assert model is not None
    core = request_core(model, "hi! could you please help me with something? what is the capital of peru? thanks!")
    assert "capital of peru" in core
    assert "thanks" not in core
    assert not core.startswith("hi!")
    assert request_core(model, "what is the capital of peru?") == "what is the capital of peru?"
    # A sentence that points at a need is never dropped, however short.
    needful = "thanks a lot for earlier! write a python function. have a wonderful evening with your family."
    assert "python function" in request_core(model, needful)
    # The last sentence left is never dropped.
    assert request_core(model, "hello! thanks! hi there. good morning!").strip()
    # Nor a short question the pleasantry detector rules out, even when what stays is longer.
    tank = "a tank fills in 6 hours and drains in 9. both open, how long until it is full?"
    assert request_core(model, tank) == tank


def test_stacked_pleasantries_around_a_short_request_are_dropped() -> None:
    model = load_model()
    assert model is not None
    text = "good evening, hope all is well. sorry for the bother. is 391 prime? thanks a million, have a great night!"
    core = request_core(model, text)
    assert "is 391 prime" in core
    assert "thanks" not in core
    assert "evening" not in core
    # A short request sentence is kept even when the pleasantry after it is longer.
    assert "shell code" in request_core(model, "my shell code prints nothing. thanks a lot, have a great weekend!")


def test_the_pleasantry_detector_tells_pleasantries_from_requests() -> None:
    model = load_model()
    assert model is not None
    for pleasantry in ("kind regards", "good morning everyone!", "have a wonderful weekend!"):
        assert model.filler_alone(pleasantry) >= FILLER_PROBABILITY, pleasantry
    for request in ("why does it crash?", "what is wrong here?", "now do the same for the other file."):
        assert model.filler_alone(request) < FILLER_PROBABILITY, request


def _after(earlier: str, last: str) -> Messages:
    return [
        {"role": "user", "content": earlier},
        {"role": "assistant", "content": "Here you go."},
        {"role": "user", "content": last},
    ]


@pytest.mark.parametrize(
    ("earlier", "last"),
    [
        ("Write a SQL query to count users by country.", "perfect, thanks a lot! have a nice day"),
        ("Write a Python script that prints the date.", "Great, thank you! Have a good weekend."),
        ("Écris une fonction Python qui trie une liste.", "Merci beaucoup ! Bonne journée"),
        ("Write a Python function to reverse a string.", "Great, thanks! Unrelated, but what's a name for a boat?"),
        ("Is 97 prime?", "Cool, thanks! Totally different question - what's a fun name for a hamster?"),
        ("Resuelve: 3x + 7 = 25, paso a paso.", "Gracias. Cambiando de tema, ¿qué película me recomiendas?"),
        # no question mark, but long enough to stand on its own
        (
            "Write a regex that matches UK postcodes.",
            "what's a good gift for a 5 year old who is obsessed with dinosaurs",
        ),
    ],
)
def test_a_conversation_that_moved_on_is_read_by_its_last_turn(earlier: str, last: str) -> None:
    assert classify(user(earlier)).primary in ("code", "reasoning")
    profile = classify(_after(earlier, last))
    assert profile.primary == "simple", profile.describe()


@pytest.mark.parametrize(
    ("earlier", "last", "need"),
    [
        ("Write a function that checks if a number is prime.", "make it faster for big numbers", "code"),
        ("Write a function that checks if a number is prime.", "Thanks! Now make it faster.", "code"),
        ("Write a Python function that sums a list.", "by the way, it should also skip None values", "code"),
        ("Is 221 prime?", "And what about 223?", "reasoning"),
        ("Here:\n```\nx = sorted(set(xs), key=xs.index)\n```", "What does it do?", "code"),
        # two numbers, one small: alone it would pass for arithmetic a cheap model does
        (
            "I flip 4 coins. What's the chance of exactly 2 heads?",
            "ok and what about 5 of them, exactly 3 heads",
            "reasoning",
        ),
    ],
)
def test_a_follow_up_keeps_the_earlier_turns(earlier: str, last: str, need: str) -> None:
    profile = classify(_after(earlier, last))
    assert profile.primary == need, profile.describe()


def test_moved_on_is_small_talk_or_a_change_of_subject() -> None:
    model = load_model()
    assert model is not None

    def left(turn: str) -> bool:
        return moved_on(model, turn, request_core(model, turn))

    assert left("thanks, that's all. bye!")
    assert left("ok, different topic: where should i go in lisbon?")
    assert left("übrigens, anderes thema: wie wird das wetter morgen?")
    assert left("perfect, thanks a lot! what's a good film for tonight?")
    assert left("nice. separate question, no code: how many primes are there below 50?")
    assert not left("thanks! now add a docstring.")
    assert not left("what about negative numbers?")
    assert not left("and for the other column?")
    # A question of function words only names no new subject.
    assert not left("what does it do?")
    assert not left("and why is that?")
    # A turn that opens with a conjunction goes on from the one before, though on its own it
    # would read as a new everyday question.
    assert not left("and what's a good name for it?")
    assert not left("but what about the weekend?")
    assert not left("et pour les enfants ?")
    # A long turn is never only pleasantries (bounded work), whatever its words.
    assert not left("thanks! " * 30)
    assert sentences("Thanks a lot! Have a nice day.\nBest, Kim") == ["Thanks a lot!", "Have a nice day.", "Best, Kim"]


STACKED = (
    _system("You are Sol, a warm and attentive assistant."),
    _turn_first("hey there :)", "Hey! Nice to see you. What can I do for you today?"),
    _around(
        "Good evening, hope all is well. Sorry for the bother. ", " Thanks a million, have a great night!\n\nBest,\nKim"
    ),
)


@pytest.mark.parametrize(
    ("need", "text"),
    [(n, t) for n, texts in PROMPTS.items() for t in texts]
    + [("simple", "What's 45 + 38?"), ("reasoning", "Is 391 prime?"), ("code", "My shell script exits with code 127.")],
)
def test_all_wrappings_stacked_keep_the_class(need: str, text: str) -> None:
    messages = user(text)
    for wrap in STACKED:
        messages = wrap(messages)
    assert classify(user(text)).primary == need
    assert classify(messages).primary == need, classify(messages).describe()


# ----------------------------------------------------------------------------- the arithmetic line


@pytest.mark.parametrize(
    "text",
    [
        "What's 12 + 7 + 3?",
        "What is 9 times 8?",
        "how much is 15% of 80",
        "If one pear costs 2 dollars, how much do 4 pears cost?",
        "Calculate 250 - 75 + 30.",
        "What is 100 divided by 4?",
        "What's 500 divided by 10?",
        "What is 37 times 100?",
        "What is 6,200 times 3?",
        "What is 1,000 times 48?",
        "Divide 90 by 3.",
    ],
)
def test_arithmetic_a_cheap_model_does_reliably_stays_simple(text: str) -> None:
    profile = classify(user(text))
    assert profile.primary == "simple", profile.describe()


@pytest.mark.parametrize(
    "text",
    [
        "What is 37 times 43?",
        "What is 100.5 times 12?",
        "What is 3,456 divided by 24?",
        "Divide 8,316 by 27.",
        "Multiply 45 by 0.35.",
        "Compute 12 + 8 * 7 - 3.",
        "What is 2^10 + 3^5?",
        "I buy 3 shirts at 18 euros, get 15% off the total and pay with 50 euros. What change do I get?",
        "A train leaves at 9:00 at 80 km/h and another at 10:00 at 120 km/h. When does the second catch up?",
        "If a car loses 15% of its value each year, after how many years is it worth less than half?",
    ],
)
def test_multi_step_quantitative_problems_stay_reasoning(text: str) -> None:
    profile = classify(user(text))
    assert profile.primary == "reasoning", profile.describe()


@pytest.mark.parametrize(
    "text",
    [
        "Resuelve: 3x + 7 = 25, paso a paso.",
        "Löse 2x - 4 = 10",
        "x + 5 = 12, what is x?",
        "5n = 35. n?",
        "Find all whole numbers n such that n squared minus 5n plus 6 equals zero.",
    ],
)
def test_an_equation_with_an_unknown_is_reasoning(text: str) -> None:
    profile = classify(user(text))
    assert profile.primary == "reasoning", profile.describe()
    assert "equation" in profile.signals


@pytest.mark.parametrize("text", ["2 + 2 = 4, right?", "My rating: 4.5/5 = 90%", "Is 10 km equal to 6.2 miles?"])
def test_an_equality_without_an_unknown_is_no_equation(text: str) -> None:
    assert "equation" not in classify(user(text)).signals


@pytest.mark.parametrize(
    ("text", "small"),
    [
        ("what's 12 + 7 + 3?", True),
        ("what is 9 times 8?", True),
        ("what is 15% of 80?", True),
        ("9乘以8等于多少", True),
        ("wie viel ist 100 geteilt durch 4?", True),
        ("list the prime numbers between 100 and 150", False),  # two numbers, no operation
        ("what is 37 times 43?", False),  # two factors of two digits: beyond the times table
        ("what is 23% of 347?", False),
        ("add 4, 9 and 11 then multiply by 6", False),  # three numbers outside a written sum
        ("if a car loses 15% of its value each year, after how many years is it worth less than half?", False),
    ],
)
def test_small_computation_is_the_documented_line(text: str, small: bool) -> None:
    assert small_computation(text, tokens(text)) is small


# ----------------------------------------------------------------------------- short tech words


def test_a_mistyped_word_that_looks_like_an_acronym_is_not_code() -> None:
    profile = classify(user("I typed API for APE in my story"))
    assert profile.primary == "simple", profile.describe()


def test_a_short_programming_term_still_counts_in_a_programming_question() -> None:
    profile = classify(user("How do I call a REST API with an API key from my app?"))
    assert profile.primary == "code", profile.describe()
