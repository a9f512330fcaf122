"""Prompt classification (``classify_prompt``): every rule, its boundaries, and what it must
not read."""

from __future__ import annotations

from typing import Any

import pytest

from muxer_litellm.host import ChatMessage, MessageInput
from muxer_litellm.routing import PromptProfile, classify_prompt, estimate_prompt_tokens
from muxer_litellm.routing.classify import PROMPT_CLASSES, classifier
from muxer_litellm.routing.classify.focus import SCAN_CHARS
from muxer_litellm.routing.classify.learned import tokens
from muxer_litellm.routing.classify.terms import asks_about_a_word
from tests.unit.routing.helpers import compact_json, expected_text_tokens, message_tokens, user

# A prompt big enough never to count as long context in tests that are about other rules.
NO_LONG = 10**9

TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


@pytest.fixture
def rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules alone, without the learned scorer: for tests that pin one rule's contract
    (its boundaries would otherwise blur with the scorer's own judgement, which
    test_routing_classify_learned.py covers)."""
    monkeypatch.setattr(classifier, "load_model", lambda: None)


def classify(text: str, **kwargs: Any) -> PromptProfile:
    kwargs.setdefault("long_context_tokens", NO_LONG)
    return classify_prompt(user(text), **kwargs)


# --------------------------------------------------------------------------- constants


def test_documented_constants() -> None:
    assert SCAN_CHARS == 4000
    assert PROMPT_CLASSES == ("code", "reasoning", "long_context", "vision", "tools", "json", "simple")


# --------------------------------------------------------------------------- simple


@pytest.mark.parametrize(
    "text",
    [
        "Hello! How are you today?",
        "Write a poem about the sea",
        "What is the capital of France?",
        "What is 2+2?",
        "What's your zip code?",
        "Plan a 3-day trip to Rome",
        "Is this jacket waterproof?",
        "Explain what JSON is",
        "Error: it broke",
        # questions about a word: its technical or maths words name the subject
        "Where does the word 'algorithm' come from?",
        "ty. out of curiosity, what does the Y in YAML stand for?",
        "what does HTML stand for?",
        "Quick one: what does the word 'hypotenuse' mean? Just the definition.",
        "What does 'proof' mean when a bread recipe says to proof the dough?",
        "My kid asked me what a prime number is. How do I explain it simply?",
        "Vad betyder ordet 'lagom'?",
        "“画蛇添足”是什么意思\uff1f",
    ],
)
def test_everyday_prompt_is_simple(text: str) -> None:
    profile = classify(text)
    assert profile.classes == frozenset({"simple"})
    assert profile.is_simple
    assert profile.signals == ()
    assert profile.describe() == "simple"
    assert not profile.needs_tools
    assert not profile.needs_vision
    assert not profile.json_requested
    assert not profile.needs_json_schema


def test_programming_words_in_prose_fire_no_rule() -> None:
    """The words "import" and "class" in a sentence are no code syntax (that needs a line start)."""
    signals = classify("We talked about how to import goods and class sizes.").signals
    assert not any(s.startswith(("code syntax", "programming words")) for s in signals), signals


def test_empty_conversation_is_simple_with_only_reply_priming() -> None:
    profile = classify_prompt([])
    assert profile.classes == frozenset({"simple"})
    assert profile.prompt_tokens == 3


# --------------------------------------------------------------------------- vision


@pytest.mark.parametrize("part_type", ["image_url", "input_image", "image"])
@pytest.mark.parametrize("role", ["user", "system", "assistant"])
def test_image_part_of_any_type_in_any_message_is_vision(part_type: str, role: str) -> None:
    image = {"type": part_type, part_type: {"url": "data:image/png;base64,AAAA"}}
    messages: list[MessageInput] = [
        {"role": role, "content": [{"type": "text", "text": "look"}, image]},
        {"role": "user", "content": "What do you think?"},
    ]
    profile = classify_prompt(messages, long_context_tokens=NO_LONG)
    assert profile.needs_vision
    assert "vision" in profile.classes
    assert "simple" not in profile.classes
    assert "image content" in profile.signals


@pytest.mark.parametrize("part_type", ["text", "input_text", "input_audio", "file", "image_file_id"])
def test_non_image_part_is_not_vision(part_type: str) -> None:
    profile = classify_prompt([{"role": "user", "content": [{"type": part_type, "text": "hi"}]}])
    assert not profile.needs_vision
    assert "vision" not in profile.classes


def test_non_mapping_content_parts_are_ignored() -> None:
    profile = classify_prompt([{"role": "user", "content": ["image_url", 3, None]}])
    assert not profile.needs_vision
    assert profile.is_simple


# --------------------------------------------------------------------------- tools


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"tools": [TOOL]}, id="tools="),
        pytest.param({"functions": [TOOL["function"]]}, id="functions="),
    ],
)
def test_tools_or_functions_argument_means_tools(kwargs: dict[str, Any]) -> None:
    profile = classify("What's the weather in Oslo?", **kwargs)
    assert profile.needs_tools
    assert "tools" in profile.classes
    assert "simple" not in profile.classes
    assert "tool use" in profile.signals


@pytest.mark.parametrize(
    "history",
    [
        pytest.param([{"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}], id="tool_calls"),
        pytest.param([{"role": "tool", "tool_call_id": "call_1", "content": "sunny"}], id="role tool"),
        pytest.param([{"role": "function", "name": "get_weather", "content": "sunny"}], id="role function"),
    ],
)
def test_tool_use_in_history_means_tools(history: list[MessageInput]) -> None:
    messages: list[MessageInput] = [{"role": "user", "content": "Weather in Oslo?"}, *history]
    profile = classify_prompt(messages, long_context_tokens=NO_LONG)
    assert profile.needs_tools
    assert "tools" in profile.classes
    assert not profile.is_simple


@pytest.mark.parametrize("empty", [None, []])
def test_empty_tools_argument_is_not_tool_use(empty: Any) -> None:
    profile = classify("Hello", tools=empty, functions=empty)
    assert not profile.needs_tools
    assert profile.is_simple


# --------------------------------------------------------------------------- json


@pytest.mark.parametrize(
    ("response_format", "requested", "schema"),
    [
        ({"type": "json_object"}, True, False),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}, True, True),
        ({"type": "text"}, False, False),
        (None, False, False),
    ],
)
def test_response_format_json(response_format: Any, requested: bool, schema: bool) -> None:
    profile = classify("List three colours.", response_format=response_format)
    assert profile.json_requested is requested
    assert profile.needs_json_schema is schema
    assert ("json" in profile.classes) is requested
    assert ("JSON requested" in profile.signals) is requested


@pytest.mark.parametrize(
    "text",
    [
        "List three colours. Respond in JSON.",
        "Give me the answer as JSON please",
        "Give me the list as JSON",
        "Return valid JSON only",
        "Output only JSON.",
        "return json with keys a and b",
        "Respond with JSON.",
        "output JSON",
        "Name three colours, JSON only.",
        "Only JSON, please: name three colours.",
        "Name three colours. Only valid JSON!",
        "The reply must be valid JSON.",
    ],
)
def test_last_user_turn_asking_for_json_means_json_without_schema(text: str) -> None:
    profile = classify(text)
    assert profile.json_requested
    assert not profile.needs_json_schema
    assert "json" in profile.classes
    assert "JSON requested" in profile.signals


@pytest.mark.parametrize(
    "verb",
    [
        "respond",
        "reply",
        "answer",
        "return",
        "output",
        "format",
        "give",
        "provide",
        "produce",
        "generate",
        "write",
        "list",
        "print",
        "emit",
        "send",
    ],
)
def test_each_request_verb_before_json_asks_for_json(verb: str) -> None:
    assert classify(f"Please {verb} the three primary colours in JSON.").json_requested
    assert classify(f"{verb.upper()} THE COLOURS AS JSON").json_requested  # case does not matter


@pytest.mark.parametrize(
    "text",
    [
        "What is the difference between null in JSON and undefined?",
        "Explain what JSON is",
        "Is JSON better than YAML for config files?",
        "Tell me about JSON and its history",
        "Respond briefly. JSON is a text format.",  # the verb is in another sentence
        "Can you respond? JSON would be nice",
        "Respond kindly!\nJSON is fun",
        "Responding in JSON is hard for small models",  # not the verb itself
        "I keep my notes in JSON files",
    ],
)
@pytest.mark.usefixtures("rules_only")
def test_json_mentioned_without_a_request_is_not_json(text: str) -> None:
    profile = classify(text)
    assert not profile.json_requested
    assert "json" not in profile.classes
    assert "JSON requested" not in profile.signals


@pytest.mark.parametrize(("gap", "requested"), [(38, True), (39, False)])
@pytest.mark.usefixtures("rules_only")
def test_request_verb_must_come_within_40_characters_before_json(gap: int, requested: bool) -> None:
    between = " " + "z" * gap + " "  # everything between the verb and "JSON"
    assert len(between) == gap + 2
    assert classify(f"Respond{between}JSON").json_requested is requested


@pytest.mark.parametrize("role", ["system", "developer"])
def test_system_or_developer_prompt_asking_for_json_means_json(role: str) -> None:
    messages: list[MessageInput] = [
        {"role": role, "content": "You are a colour bot. Always respond in JSON."},
        {"role": "user", "content": "Name a warm colour."},
    ]
    profile = classify_prompt(messages, long_context_tokens=NO_LONG)
    assert profile.json_requested
    assert not profile.needs_json_schema
    assert profile.classes == frozenset({"json", "simple"})


def test_system_prompt_after_the_user_turn_is_read_too() -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "Name a warm colour."},
        {"role": "system", "content": "Always respond in JSON."},
    ]
    assert classify_prompt(messages).json_requested


def test_json_asked_only_in_a_tool_result_is_not_json() -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "Look it up."},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Respond in JSON only."},
    ]
    assert not classify_prompt(messages, tools=[TOOL]).json_requested


def test_system_prompt_asking_for_json_is_seen_beside_a_long_user_message() -> None:
    document = "lorem ipsum " * (SCAN_CHARS // 12 + 10)
    messages: list[MessageInput] = [
        {"role": "system", "content": "Always respond in JSON."},
        {"role": "user", "content": "Summarise this document:\n" + document},
    ]
    assert classify_prompt(messages, long_context_tokens=NO_LONG).json_requested


def test_json_alone_is_still_simple_class_and_is_simple() -> None:
    """``simple`` is about the tier: JSON output does not need a bigger model, so a JSON-only
    prompt is simple (``is_simple`` is ``"simple" in classes``)."""
    profile = classify("Respond in JSON: what are the primary colours?")
    assert profile.classes == frozenset({"json", "simple"})
    assert profile.is_simple
    assert profile.describe() == "json+simple (JSON requested)"


@pytest.mark.parametrize(
    ("kwargs", "simple"),
    [
        pytest.param({}, True, id="plain"),
        pytest.param({"response_format": {"type": "json_object"}}, True, id="json"),
        pytest.param({"tools": [TOOL]}, False, id="tools"),
        pytest.param({"long_context_tokens": 1}, False, id="long_context"),
    ],
)
def test_is_simple_is_simple_in_classes(kwargs: dict[str, Any], simple: bool) -> None:
    profile = classify_prompt(user("Name a colour."), **{"long_context_tokens": NO_LONG, **kwargs})
    assert profile.is_simple is simple
    assert profile.is_simple is ("simple" in profile.classes)


def test_json_asked_in_an_earlier_user_turn_only_is_not_json() -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "Respond in JSON: name a colour."},
        {"role": "assistant", "content": '{"colour": "red"}'},
        {"role": "user", "content": "Thanks! Now tell me a joke."},
    ]
    assert not classify_prompt(messages).json_requested


def test_json_mentioned_by_the_assistant_is_not_json() -> None:
    messages: list[MessageInput] = [
        {"role": "assistant", "content": "I can respond in JSON if you like."},
        {"role": "user", "content": "No thanks."},
    ]
    assert not classify_prompt(messages).json_requested


# --------------------------------------------------------------------------- code


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Why does this fail?\n```\nx = [1, 2\n```", "code block"),
        ("def add(a, b):\n    return a + b", "code syntax"),
        ("   def indented(x):", "code syntax"),
        ("What's wrong here?\nclass Foo(Base):\n    pass", "code syntax"),
        ("class Foo:", "code syntax"),
        ("import os", "code syntax"),
        ("from collections.abc import Mapping", "code syntax"),
        ("#include <stdio.h>", "code syntax"),
        ("public static void main(String[] args)", "code syntax"),
        ("function add(a, b) { return a + b }", "code syntax"),
        ("import numpy as np", "code syntax"),
        ("import os.path", "code syntax"),
        ("Why?\n  import os  \nprint(os.sep)", "code syntax"),
        ("public class Foo {", "code syntax"),
        ("public interface Shape {", "code syntax"),
        ("public final class Money", "code syntax"),
        ("public abstract class Animal {", "code syntax"),
        ("public static final int MAX = 3;", "code syntax"),
        ("public void run() {", "code syntax"),
        ("public int size() {", "code syntax"),
        ("public String name;", "code syntax"),
        ("const total = items.length;", "code syntax"),
        ("let count = 0;", "code syntax"),
        ("var name = 'x';  ", "code syntax"),
        ("fn main() {}", "code syntax"),
        ("func main() {}", "code syntax"),
        ("SELECT name FROM users WHERE id = 1", "code syntax"),
        ("Traceback (most recent call last):\n  File 'x'", "stack trace"),
        ("I get ValueError: invalid literal for int()", "stack trace"),
        ("Got this: KeyException: missing", "stack trace"),
        ("    at com.example.Foo.bar(Foo.java:42)", "stack trace"),
        ("How do I read a file in Python?", "programming words 'in Python'"),
        ("Write it in Rust", "programming words 'in Rust'"),
        ("Port this to something in C#", "programming words 'in C#'"),
        ("Write a Python function that adds", "programming words 'Write a Python function'"),
        ("How do I learn C++?", "programming words 'C++'"),
        ("I use c++ daily", "programming words 'c++'"),
        ("Explain C++ templates", "programming words 'C++'"),
        ("my bash scripts fail", "programming words 'bash scripts'"),
        ("Is JavaScript single threaded?", "programming words 'JavaScript'"),
        ("typescript generics", "programming words 'typescript'"),
        ("golang channels", "programming words 'golang'"),
        ("Explain this Java class", "programming words 'Java class'"),
        ("Optimise this SQL query", "programming words 'SQL query'"),
        ("a regex for emails", "programming words 'regex'"),
        ("help me with refactoring", "programming words 'refactoring'"),
        ("I'm debugging a crash", "programming words 'debugging'"),
        ("the debugger stops here", "programming words 'debugger'"),
        ("it will not compile", "programming words 'compile'"),
        ("the compiler complains", "programming words 'compiler'"),
        ("add unit tests", "programming words 'unit tests'"),
        ("Explain this stack trace", "programming words 'stack trace'"),
        ("Which sorting algorithm is stable?", "programming words 'algorithm'"),
        ("Design an API endpoint for orders", "programming words 'API endpoint'"),
        ("Please write a script that renames files", "programming words 'write a script'"),
        ("Implement the function", "programming words 'Implement the function'"),
        ("write a program that sorts", "programming words 'write a program'"),
        ("Write my method for me", "programming words 'Write my method'"),
        ("implement this class", "programming words 'implement this class'"),
        ("Write an function", "programming words 'Write an function'"),
    ],
)
def test_code_rules(text: str, signal: str) -> None:
    profile = classify(text)
    assert "code" in profile.classes
    assert not profile.is_simple
    assert signal in profile.signals
    assert profile.describe() == f"code ({signal})"


def test_code_syntax_only_counts_at_a_line_start() -> None:
    # The learned scorer may still read "def" as code: the shape rule alone is checked here.
    assert not any(s.startswith("code syntax") for s in classify("Tell me why def foo( appears in the text").signals)
    assert "code syntax" in classify("Tell me why\ndef foo(x): appears").signals


def test_first_code_rule_wins_the_signal() -> None:
    # A fence and a programming word: the fence rule is first.
    profile = classify("```python\nprint(1)\n```")
    assert [s for s in profile.signals if s.startswith(("code", "programming", "stack"))] == ["code block"]


def test_programming_words_signal_is_cut_to_30_characters() -> None:
    word = "refactor" + "x" * 40
    profile = classify(f"please {word} it")
    assert profile.signals == (f"programming words {word[:30]!r}",)


@pytest.mark.parametrize("text", ["How do I learn C++?", "I use c++ daily", "c++", "(C++)", "Is C++, or C, faster?"])
def test_cplusplus_anywhere_is_a_programming_word(text: str) -> None:
    assert "code" in classify(text).classes


@pytest.mark.parametrize("text", ["What is new in C++20?", "C++17 features"])
def test_cplusplus_with_a_standard_version_is_a_programming_word(text: str) -> None:
    assert "code" in classify(text).classes


LANGUAGES = ["python", "java", "rust", "go", "sql", "ruby", "php", "kotlin", "swift", "bash", "shell", "c#"]
CODE_NOUNS = [
    "code",
    "script",
    "function",
    "class",
    "method",
    "program",
    "library",
    "package",
    "module",
    "error",
    "exception",
    "query",
    "snippet",
    "app",
]


@pytest.mark.parametrize("language", [*LANGUAGES, "c++"])
@pytest.mark.usefixtures("rules_only")
def test_each_language_name_counts_beside_a_code_noun(language: str) -> None:
    profile = classify(f"Can you check my {language} code?")
    assert "code" in profile.classes
    assert f"programming words '{language} code'" in profile.signals


@pytest.mark.parametrize("noun", [*CODE_NOUNS, *(f"{n}s" for n in ("script", "function", "error", "app"))])
def test_each_code_noun_counts_after_a_language_name(noun: str) -> None:
    profile = classify(f"Look at this Python {noun} please")
    assert f"programming words 'Python {noun}'" in profile.signals


@pytest.mark.parametrize(
    "language", ["python", "java", "rust", "golang", "sql", "ruby", "php", "kotlin", "swift", "bash", "c++", "c#"]
)
def test_each_language_name_counts_after_in(language: str) -> None:
    profile = classify(f"Write it in {language} for me")
    assert f"programming words 'in {language}'" in profile.signals


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.usefixtures("rules_only")
def test_language_name_alone_is_not_code(language: str) -> None:
    """Snakes, coffee, rust belts and shells: a bare language name is no code."""
    assert classify(f"I like {language} a lot.").classes == frozenset({"simple"})
    assert classify(f"The {language} was big.").is_simple


@pytest.mark.parametrize("text", ["Optimise these SQL queries", "Which Python libraries parse YAML?", "Java classes"])
def test_plural_code_nouns_ending_in_ies_or_es_count(text: str) -> None:
    assert "code" in classify(text).classes


# --------------------------------------------------------------------------- reasoning


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Prove that there are infinitely many primes", "math words 'Prove'"),
        ("Give a proof of this", "math words 'proof'"),
        ("State the theorem", "math words 'theorem'"),
        ("use the lemma", "math words 'lemma'"),
        ("Derive the formula", "math words 'Derive'"),
        ("show the derivation", "math words 'derivation'"),
        ("evaluate this integral", "math words 'this integral'"),
        ("take the derivative", "math words 'derivative'"),
        ("these equations", "math words 'equations'"),
        ("solve for y", "math words 'solve for'"),
        ("Solve for x: 2x = 4", "math words 'Solve for'"),
        ("the conditional probability of rain given clouds", "math words 'conditional probability'"),
        ("the expected value of a die roll", "math words 'expected value'"),
        ("an optimization problem", "math words 'optimization problem'"),
        ("this optimisation problem", "math words 'optimisation problem'"),
        ("a logic puzzle", "math words 'logic puzzle'"),
        ("a riddle for you", "math words 'riddle'"),
        ("an equation", "math words 'equation'"),
        ("a proof by induction", "math words 'proof'"),
        ("what is \\frac{1}{2} of 6", "formula"),
        ("evaluate \\int_0^1 x dx", "formula"),
        ("\\sum_{i=1}^n i", "formula"),
        ("what is \u222b x dx", "formula"),
        ("is \u221a2 rational", "formula"),
        ("what is sin(pi/2)", "formula"),
        ("and log (100)", "formula"),
        ("expand x^2 over the reals", "formula"),
        ("what is 3 + 4 * 5", "arithmetic"),
        ("12 \u00d7 3 \u00f7 4 = ?", "arithmetic"),
        ("2^3^2", "arithmetic"),
        ("What is 12*7+3?", "arithmetic"),
        ("12 / 4 / 3", "arithmetic"),
        ("9 - 3 * 2", "arithmetic"),
        ("On 2024-03-15 we need 3 + 4 * 5 chairs", "arithmetic"),  # a date first, then an expression
    ],
)
def test_reasoning_rules(text: str, signal: str) -> None:
    profile = classify(text)
    assert "reasoning" in profile.classes
    assert not profile.is_simple
    assert profile.signals == (signal,)
    assert profile.describe() == f"reasoning ({signal})"


@pytest.mark.parametrize("text", ["What is 2+2?", "Is 10 / 2 five?", "5 - 3", "1+2+3", "7 - 2 - 1", "3 - 2 - 1 = ?"])
def test_arithmetic_with_one_operator_or_only_a_sum_is_not_reasoning(text: str) -> None:
    assert classify(text).is_simple


@pytest.mark.parametrize(
    ("expression", "arithmetic"),
    [
        ("1+2+3", False),  # a sum
        ("9 - 3 - 1", False),
        ("2*3*4", True),
        ("2^3^2", True),
        ("12 \u00d7 3 \u00d7 4", True),
        ("12 \u00f7 3 \u00f7 4", True),
        ("8 / 2 / 2", True),
        ("2 + 3 * 4", True),  # operator precedence
        ("9-3-1", False),  # a date or a phone number
        ("8/2/2", False),  # a date
        ("9 -3 -1", False),  # a minus not set off on both sides
        ("8/ 2/ 2", False),
    ],
)
@pytest.mark.usefixtures("rules_only")
def test_arithmetic_needs_a_real_operator(expression: str, arithmetic: bool) -> None:
    profile = classify(f"Work out {expression} for me")
    assert ("reasoning" in profile.classes) is arithmetic
    assert (profile.signals == ("arithmetic",)) is arithmetic


# --------------------------------------------------------------------------- false positives


@pytest.mark.parametrize(
    "text",
    [
        # language names without a code noun or "in"
        pytest.param("I had a cup of java", id="java-coffee"),
        pytest.param("I saw a python at the zoo", id="python-snake"),
        pytest.param("Tell me about Rust Belt cities", id="rust-belt"),
        pytest.param("Should I learn Java?", id="learn-java"),
        pytest.param("She sells sea shells by the shore", id="shells"),
        # code syntax words in prose
        pytest.param("public transport in Paris", id="public-transport"),
        pytest.param("import duties on cars", id="import-duties"),
        pytest.param("let x = 5 in the story", id="let-in-story"),
        # bugs that are not code
        pytest.param("fix the bug in my car", id="fix-the-bug"),
        pytest.param("Fix this bug for me", id="fix-this-bug"),
        pytest.param("I need to debug my morning routine", id="debug-alone"),
        # everyday maths words
        pytest.param("probability of rain", id="probability"),
        pytest.param("step-by-step recipe for pancakes", id="step-by-step"),
        pytest.param("think step by step", id="step by step"),
        pytest.param("proof-read my letter", id="proof-read"),
        pytest.param("please proofread my essay", id="proofread"),
        pytest.param("Compute the tip on 40 dollars at 15%.", id="compute"),
        pytest.param("portfolio optimisation tips", id="optimisation-alone"),
        # dates and phone numbers are not arithmetic
        pytest.param("My flight is on 2024-03-15", id="iso-date"),
        pytest.param("Call me at 555-123-4567", id="phone"),
        # JSON named but not asked for
        pytest.param("Is JSON pronounced like the name Jason?", id="json-mentioned"),
    ],
)
def test_ambiguous_everyday_prompt_is_simple(text: str) -> None:
    profile = classify(text)
    assert profile.classes == frozenset({"simple"})
    assert profile.signals == ()
    assert profile.is_simple
    assert not profile.json_requested


@pytest.mark.usefixtures("rules_only")
@pytest.mark.parametrize("text", ["My flight is on 2024-03-15", "Meet on 12/25/2024", "Call me at 555-123-4567"])
def test_dates_and_phone_numbers_are_no_arithmetic(text: str) -> None:
    assert classify(text).signals == ()


@pytest.mark.usefixtures("rules_only")
def test_a_maths_verb_without_numbers_is_no_rule() -> None:
    profile = classify("Calculate the area of my garden plan")
    assert profile.signals == ()
    assert profile.classes == frozenset({"simple"})


@pytest.mark.usefixtures("rules_only")
def test_a_declaration_without_a_semicolon_is_no_code_rule() -> None:
    assert classify("const x = 5 in math class").classes == frozenset({"simple"})
    assert classify("public Integer wrappers are slow").classes == frozenset({"simple"})


def test_several_classes_at_once_and_describe_order() -> None:
    messages: list[MessageInput] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Prove that this loop ends:\n```\nwhile x: x -= 1\n```"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]
    profile = classify_prompt(messages, tools=[TOOL], response_format={"type": "json_object"}, long_context_tokens=1)
    assert profile.classes == frozenset({"code", "reasoning", "long_context", "vision", "tools", "json"})
    tokens = profile.prompt_tokens
    expected_signals = (
        "image content",
        "tool use",
        "JSON requested",
        "code block",
        "math words 'Prove'",
        f"~{tokens} prompt tokens >= 1",
    )
    assert profile.signals == expected_signals
    assert profile.describe() == f"code+reasoning+long_context+vision+tools+json ({'; '.join(expected_signals)})"


# --------------------------------------------------------------------------- what is scanned


def test_assistant_text_is_not_scanned() -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "Tell me something."},
        {"role": "assistant", "content": "```python\ndef f():\n```\nProve 1 + 2 + 3 with Python."},
        {"role": "user", "content": "Thanks, that is nice."},
    ]
    profile = classify_prompt(messages)
    assert profile.is_simple


@pytest.mark.parametrize("role", ["system", "developer", "user"])
def test_user_system_and_developer_text_is_scanned(role: str) -> None:
    messages: list[MessageInput] = [
        {"role": role, "content": "Here:\n```\nx = 1\n```"},
        {"role": "user", "content": "What does it do?"},
    ]
    assert "code" in classify_prompt(messages).classes


def test_tool_result_text_is_not_scanned() -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "When is my next meeting?"},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"date": "2024-03-15", "status": "KeyError: none"}'},
    ]
    profile = classify_prompt(messages, tools=[TOOL])
    assert profile.classes == frozenset({"tools"})


@pytest.mark.parametrize("role", ["tool", "function"])
@pytest.mark.usefixtures("rules_only")
def test_tool_and_function_results_are_data_not_request_text(role: str) -> None:
    result = "```python\nimport os\n```\nProve 1 + 2 + 3 = 6. Traceback (most recent call last):"
    messages: list[MessageInput] = [
        {"role": "user", "content": "Run the checker."},
        {"role": role, "name": "checker", "tool_call_id": "call_1", "content": result},
    ]
    profile = classify_prompt(messages, long_context_tokens=NO_LONG)
    assert profile.classes == frozenset({"tools"})
    assert profile.signals == ("tool use",)
    # The same text from the user is read.
    messages.append({"role": "user", "content": result})
    assert {"code", "reasoning"} <= classify_prompt(messages, long_context_tokens=NO_LONG).classes


def test_messages_of_unknown_roles_are_not_scanned() -> None:
    messages: list[MessageInput] = [{"role": "critic", "content": "```\nx = 1\n```"}, *user("Hello")]
    assert classify_prompt(messages).is_simple


def test_text_parts_are_scanned_and_other_parts_are_not() -> None:
    messages: list[MessageInput] = [
        {
            "role": "user",
            "content": [
                {"type": "input_audio", "text": "```python"},
                {"type": "text", "text": "Hello"},
                {"type": "input_text", "text": "there"},
            ],
        }
    ]
    assert classify_prompt(messages).is_simple
    messages[0]["content"].append({"type": "input_text", "text": "Prove it"})  # type: ignore[index]
    assert "reasoning" in classify_prompt(messages).classes


@pytest.mark.parametrize(("filler", "seen"), [(SCAN_CHARS - 3, True), (SCAN_CHARS - 2, False), (SCAN_CHARS, False)])
def test_only_the_last_scan_chars_characters_are_scanned(filler: int, seen: bool) -> None:
    """The fence is 3 characters: it is seen only while the whole text fits in SCAN_CHARS."""
    text = "```" + "x" * filler
    profile = classify(text)
    assert ("code" in profile.classes) is seen


def test_code_at_the_start_of_a_huge_message_is_not_in_the_scan_window_but_at_its_end_is() -> None:
    filler = "lorem ipsum " * (SCAN_CHARS // 12 + 100)
    head = classify("def main():\n" + filler)
    # The line-start code-syntax rule reads only the last SCAN_CHARS characters (the focus
    # rules see "main():" in the head, see the next test, and name it "code syntax '()'").
    assert "code syntax" not in head.signals
    tail = classify(filler + "\ndef main():")
    assert "code" in tail.classes
    assert "code syntax" in tail.signals


def test_the_head_of_a_huge_last_message_is_read_by_the_focus_rules() -> None:
    """A long prompt often asks its question first ("Fix this:" + a paste), so the shape rules
    also read the head of the last user turn (its first FOCUS_HEAD characters), not only the
    scan window at its end."""
    filler = "lorem ipsum " * (SCAN_CHARS // 12 + 100)
    head = classify("Why does main() crash?\n" + filler)
    assert "code" in head.classes
    assert "code syntax '()'" in head.signals


def test_scan_window_spans_messages_joined_by_newlines() -> None:
    """The window is over all scanned text joined with one newline per message."""
    last = "y" * (SCAN_CHARS - 1)  # with the joining newline, exactly SCAN_CHARS characters
    messages: list[MessageInput] = [
        {"role": "system", "content": "Prove"},
        {"role": "user", "content": last},
    ]
    assert "reasoning" not in classify_prompt(messages, long_context_tokens=NO_LONG).classes
    messages[1]["content"] = last[:-1]
    # Only the last letter of "Prove" is in the window now: still no match.
    assert "reasoning" not in classify_prompt(messages, long_context_tokens=NO_LONG).classes
    messages[1]["content"] = last[: -len("Prove")]
    assert "reasoning" in classify_prompt(messages, long_context_tokens=NO_LONG).classes


def test_json_request_beyond_the_scan_window_is_not_seen() -> None:
    text = "Respond in JSON.\n" + "z" * SCAN_CHARS
    assert not classify(text).json_requested
    assert classify("z" * SCAN_CHARS + "\nRespond in JSON.").json_requested


# --------------------------------------------------------------------------- long context


def test_long_context_at_exactly_the_custom_threshold() -> None:
    messages = user("Hello there, tell me about the weather in a long essay please.")
    tokens = estimate_prompt_tokens(messages)
    at = classify_prompt(messages, long_context_tokens=tokens)
    assert "long_context" in at.classes
    assert not at.is_simple
    assert at.prompt_tokens == tokens
    assert f"~{tokens} prompt tokens >= {tokens}" in at.signals
    below = classify_prompt(messages, long_context_tokens=tokens + 1)
    assert "long_context" not in below.classes
    assert below.is_simple


# 3 + 4 + ceil(chars / 3) == 8000  <=>  ceil(chars / 3) == 7993  <=>  chars in (23976, 23979]
_LOWEST_AT_8000 = (8000 - 3 - 4 - 1) * 3 + 1  # 23977
_HIGHEST_AT_8000 = (8000 - 3 - 4) * 3  # 23979


@pytest.mark.parametrize(
    ("chars", "tokens"),
    [
        (_LOWEST_AT_8000 - 1, 7999),
        (_LOWEST_AT_8000, 8000),
        (_HIGHEST_AT_8000, 8000),
        (_HIGHEST_AT_8000 + 1, 8001),
    ],
)
def test_default_long_context_threshold_is_8000_tokens(chars: int, tokens: int) -> None:
    messages = user("w" * chars)
    assert estimate_prompt_tokens(messages) == tokens
    profile = classify_prompt(messages)
    assert profile.prompt_tokens == tokens
    assert ("long_context" in profile.classes) is (tokens >= 8000)


def test_default_long_context_threshold_counts_non_ascii_one_token_each() -> None:
    # 3 + 4 + 7993 CJK characters is 8000 tokens, far fewer characters than ASCII needs.
    at = user("字" * (8000 - 3 - 4))
    assert estimate_prompt_tokens(at) == 8000
    assert "long_context" in classify_prompt(at).classes
    below = user("字" * (8000 - 3 - 4 - 1))
    assert estimate_prompt_tokens(below) == 7999
    assert "long_context" not in classify_prompt(below).classes


@pytest.mark.parametrize(("override", "threshold", "long"), [(100, 100, True), (99, 100, False), (101, 100, True)])
def test_prompt_tokens_override_decides_long_context(override: int, threshold: int, long: bool) -> None:
    profile = classify_prompt(user("hi"), long_context_tokens=threshold, prompt_tokens=override)
    assert profile.prompt_tokens == override
    assert ("long_context" in profile.classes) is long
    assert profile.is_simple is not long


def test_prompt_tokens_override_zero_is_used_not_ignored() -> None:
    huge = "w" * 100_000
    profile = classify_prompt(user(huge), prompt_tokens=0)
    assert profile.prompt_tokens == 0
    assert "long_context" not in profile.classes


@pytest.mark.parametrize("kw", ["tools", "functions"])
def test_prompt_estimate_includes_tools_or_functions(kw: str) -> None:
    schema = [TOOL] if kw == "tools" else [TOOL["function"]]
    messages = user("Weather?")
    profile = classify_prompt(messages, **{kw: schema})
    assert profile.prompt_tokens == estimate_prompt_tokens(messages, schema)
    assert profile.prompt_tokens == 3 + message_tokens("Weather?") + expected_text_tokens(compact_json(schema))


# --------------------------------------------------------------------------- input types


def test_chat_message_objects_and_dicts_classify_the_same() -> None:
    as_dicts: list[MessageInput] = [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Refactor this"}, {"type": "image_url", "image_url": {}}],
        },
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        {"role": "user", "content": "Respond in JSON."},
    ]
    as_models: list[MessageInput] = [ChatMessage.model_validate(m) for m in as_dicts]
    a = classify_prompt(as_dicts)
    b = classify_prompt(as_models)
    assert a == b
    # "Refactor this" is in an earlier user turn: such a hit counts unless the conversation
    # moved on, which the learned scorer judges, so "code" is not pinned here.
    assert {"vision", "tools", "json"} <= a.classes
    mixed: list[MessageInput] = [as_models[0], as_dicts[1], as_models[2], as_dicts[3], as_models[4]]
    assert classify_prompt(mixed) == a
    assert estimate_prompt_tokens(as_dicts) == estimate_prompt_tokens(as_models) == a.prompt_tokens


@pytest.mark.parametrize("bad", ["hello", 42, None, ("user", "hi")])
def test_non_message_raises_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match=f"messages must be ChatMessage or dict, got {type(bad).__name__}"):
        classify_prompt([bad])
    with pytest.raises(TypeError, match="messages must be ChatMessage or dict"):
        estimate_prompt_tokens([{"role": "user", "content": "ok"}, bad])


@pytest.mark.parametrize(
    "text",
    [
        "What is the difference between a JSON object and a Python dict?",
        "Explain the JSON format to a beginner.",
        "How do I return JSON from a Flask view?",
        "Is this valid JSON: {a: 1}?",
        "List the advantages of JSON over XML",
    ],
)
def test_a_question_about_json_is_not_a_request_for_json(text: str) -> None:
    assert classify(text).json_requested is False


@pytest.mark.parametrize(
    "text",
    [
        "Respond in JSON",
        "Please respond with a JSON object.",
        "Always return json with keys a and b",
        "Hi. Answer in JSON.",
    ],
)
def test_an_instruction_to_answer_in_json_is_a_request(text: str) -> None:
    assert classify(text).json_requested is True


# --------------------------------------------------------------------------- questions about a word


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("What does idempotent mean for an HTTP endpoint?", "code"),
        ("Explain simply how to solve 3x + 7 = 25", "reasoning"),
        ("What does this mean?\n```\nTypeError: 'NoneType' object is not subscriptable\n```", "code"),
        ("Write a function that explains what a prime number is, in simple words", "code"),
    ],
)
def test_a_concept_or_written_code_is_no_question_about_a_word(text: str, need: str) -> None:
    assert classify(text).primary == need


@pytest.mark.parametrize(
    ("text", "about"),
    [
        ("where does 'OK' come from?", True),
        ("what does the data in this report mean? the numbers look off", False),
        ("what does this function do and where does the data come from?", False),
        ("what does HTML stand for, and what is 12 times 14?", False),
    ],
)
def test_a_question_about_a_word_names_the_word(text: str, about: bool) -> None:
    lower = text.lower()
    assert asks_about_a_word(lower, tokens(lower)) is about
