"""The cascade's default answer check (``default_quality_check``): each rule, its score,
the order in which rules win, and ``answer_text``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from muxer_litellm.host import ChatCompletionResponse, ChatMessage, Choice, MessageInput, RouterMetadata, Usage
from muxer_litellm.routing import QualityVerdict, classify_prompt, default_quality_check
from muxer_litellm.routing.quality import MAX_WORDS_REQUIRED, answer_text
from tests.unit.routing.helpers import user

TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
QUESTION = user("What is the capital of France?")
JSON_FORMAT = {"type": "json_object"}
JSON_SYSTEM: list[MessageInput] = [
    {"role": "system", "content": "Always respond in JSON."},
    {"role": "user", "content": "What is the capital of France?"},
]


def response(
    content: str | list[dict[str, Any]] | None,
    *,
    finish_reason: str | None = "stop",
    tool_calls: list[dict[str, Any]] | None = None,
    choices: bool = True,
) -> ChatCompletionResponse:
    message = ChatMessage(role="assistant", content=content, tool_calls=tool_calls)
    return ChatCompletionResponse(
        id="resp-1",
        created=int(time.time()),
        model="m",
        choices=[Choice(index=0, message=message, finish_reason=finish_reason)] if choices else [],
        usage=Usage(prompt_tokens=10, completion_tokens=20, total_tokens=30),
        router_metadata=RouterMetadata(
            selected_provider="p", selected_model="m", routing_reason="direct", response_time_ms=1.0
        ),
    )


def check(
    content: str | list[dict[str, Any]] | None,
    messages: list[MessageInput] = QUESTION,
    *,
    response_format: Any = None,
    **kwargs: Any,
) -> QualityVerdict:
    profile = classify_prompt(messages, response_format=response_format)
    return default_quality_check(messages, response(content, **kwargs), profile)


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


# --------------------------------------------------------------------------- pass


def test_plain_good_answer_passes() -> None:
    verdict = check("The capital of France is Paris.")
    assert verdict == QualityVerdict(1.0, "passed the default checks")


# --------------------------------------------------------------------------- empty


@pytest.mark.parametrize("content", [None, "", "   \n\t ", [], [{"type": "image_url", "image_url": {}}]])
def test_no_text_is_empty_answer(content: Any) -> None:
    verdict = check(content)
    assert verdict.score == 0.0
    assert verdict.reason == "empty answer"


def test_no_choices_is_empty_answer() -> None:
    resp = response("ignored", choices=False)
    assert answer_text(resp) == ""
    verdict = default_quality_check(QUESTION, resp, classify_prompt(QUESTION))
    assert verdict == QualityVerdict(0.0, "empty answer")


# --------------------------------------------------------------------------- tool calls


@pytest.mark.parametrize(
    ("content", "finish_reason", "response_format"),
    [
        (None, "tool_calls", None),
        ("", "tool_calls", JSON_FORMAT),  # would be "empty answer"
        ("not json", "tool_calls", JSON_FORMAT),  # would be "invalid JSON"
        ("I'm sorry, but I can't", "tool_calls", None),  # would be a refusal
        ("Let me check", "length", None),  # would be cut off
    ],
)
def test_tool_calls_always_pass(content: str | None, finish_reason: str, response_format: Any) -> None:
    verdict = check(
        content,
        user(words(500)),
        finish_reason=finish_reason,
        tool_calls=[TOOL_CALL],
        response_format=response_format,
    )
    assert verdict == QualityVerdict(1.0, "tool call")


def test_empty_tool_calls_list_is_not_a_tool_call() -> None:
    verdict = check("", tool_calls=[])
    assert verdict.reason == "empty answer"


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    "answer",
    [
        '{"capital": "Paris"}',
        '  {"capital": "Paris"}\n',
        '["Paris", "Lyon"]',
        '```json\n{"capital": "Paris"}\n```',
        '```\n{"capital": "Paris"}\n```',
        '  ```json\n{\n  "capital": "Paris"\n}\n  ```  ',
    ],
)
@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"response_format": JSON_FORMAT}, id="json_object"),
        pytest.param({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, id="json_schema"),
        pytest.param({"messages": user("What is the capital of France? Respond in JSON.")}, id="prompt"),
        pytest.param({"messages": JSON_SYSTEM}, id="system-prompt"),
    ],
)
def test_valid_or_fenced_json_passes_as_valid_json_when_json_asked(answer: str, how: dict[str, Any]) -> None:
    verdict = check(answer, **how)
    assert verdict == QualityVerdict(1.0, "valid JSON")


@pytest.mark.parametrize("answer", ["{}", "[]", "0", "null", '{"a": 1}'])
def test_valid_json_is_never_too_short(answer: str) -> None:
    long_question = words(300) + ". Respond in JSON."  # would need 30 words
    verdict = check(answer, user(long_question))
    assert verdict == QualityVerdict(1.0, "valid JSON")
    # Without JSON asked the same reply is judged by its length.
    plain = check(answer, user(words(300)))
    n = len(answer.split())
    assert plain == QualityVerdict(0.3, f"too short: {n} words for a question that needs about 30")


def test_cut_off_wins_over_valid_json() -> None:
    verdict = check('{"capital": "Paris"}', finish_reason="length", response_format=JSON_FORMAT)
    assert verdict == QualityVerdict(0.2, "cut off (finish_reason=length)")


@pytest.mark.parametrize(
    "answer",
    [
        "The capital is Paris.",
        'Here you go: {"capital": "Paris"}',
        '```json\n{"capital": "Paris"}\n```\nHope that helps!',
        '{"capital": "Paris"',
        "```json\n{'capital': 'Paris'}\n```",
        '``` {"capital": "Paris"} ```',
    ],
)
@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"response_format": JSON_FORMAT}, id="json_object"),
        pytest.param({"messages": user("What is the capital of France? Return JSON.")}, id="prompt"),
        pytest.param({"messages": JSON_SYSTEM}, id="system-prompt"),
    ],
)
def test_invalid_json_fails_when_json_asked(answer: str, how: dict[str, Any]) -> None:
    verdict = check(answer, **how)
    assert verdict.score == 0.0
    assert verdict.reason == "invalid JSON (JSON was asked for)"


def test_non_json_answer_is_fine_when_json_not_asked() -> None:
    assert check("Paris, obviously.").score == 1.0
    assert check("{broken json").score == 1.0
    mentioned = user("What is the difference between null in JSON and undefined in JavaScript?")
    assert check("null is a value; undefined means no value was set.", mentioned).score == 1.0


def test_json_rule_follows_the_profile_passed_in() -> None:
    """The check reads ``profile.json_requested``, not the request again."""
    messages = user("What is the capital of France? Respond in JSON.")
    plain_profile = classify_prompt(QUESTION)
    assert default_quality_check(messages, response("Paris."), plain_profile).score == 1.0


def test_empty_wins_over_invalid_json() -> None:
    verdict = check("  ", response_format=JSON_FORMAT)
    assert verdict.reason == "empty answer"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that.",
        "I\u2019m sorry, but I can\u2019t help with that.",
        "Im sorry but I cant do that",
        "I am sorry, I cannot provide that information.",
        "Sorry, I am unable to answer.",
        "Sorry, but I won't do that.",
        "Sorry I'm not able to browse the web.",
        "Sorry, I am not able to share that.",
        "I'm sorry, but I'm unable to open links.",
        "Unfortunately, I cannot assist with this request.",
        "Unfortunately, I am unable to help.",
        "Unfortunately I'm not able to do that.",
        "  i'm SORRY, i can't",
        "I cannot help with that.",
        "I can't assist with this.",
        "I cannot fulfil that request.",
        "I can't do that.",
        "I cannot provide that.",
        "I won't answer that.",
        "I won't comply with that.",
        "I am unable to answer that.",
        "I am not able to do that.",
        "I'm unable to help.",
        "I\u2019m not able to see images.",
        "As an AI, I don't have opinions.",
        "As an AI language model, I cannot browse.",
    ],
)
def test_refusal_like_opening_scores_point_one(answer: str) -> None:
    verdict = check(answer)
    assert verdict == QualityVerdict(0.1, "refusal-like answer")


@pytest.mark.parametrize(
    "answer",
    [
        "The capital is Paris. Sorry, I can't be more precise than that.",
        "Paris. I'm sorry, but I cannot say more.",
        "Sorry to hear that! Here are some tips to feel better.",
        "Sorry for the confusion earlier; the capital of France is Paris, and you cannot miss it.",
        "I cannot stress this enough: back up your data.",
        "I can't believe how easy this is: the answer is Paris.",
        "As an aside, Paris is also the largest city.",
        "Asian cuisine is varied.",
        "Paris is the capital, as an AI would tell you.",
        "Unfortunately, the library can't parse that, but json.loads can.",
        "Unfortunately the proxy cannot reach it; restart it and try again.",
        "I cannot answer definitively, but it is most likely Paris.",
        "I can't do this justice in one line: Paris, on the Seine.",
        "I won't lie: Paris is lovely in spring.",
        "Sorry, I can finally answer: it is Paris.",
    ],
)
def test_sorry_or_cannot_that_is_not_an_opening_refusal_passes(answer: str) -> None:
    assert check(answer) == QualityVerdict(1.0, "passed the default checks")


@pytest.mark.parametrize(
    ("answer", "refusal"),
    [
        ("Sorry, I can't", True),
        ("Sorry I can't", True),
        ("Sorry, but I can't", True),
        ("Sorry but I can't", True),
        ("Sorry, but honestly I can't", False),
        ("Sorry, x I can't", False),
        ("Sorry, the tool can't", False),
        ("Sorry, we can't", False),
    ],
)
def test_apology_refuses_only_when_i_refusing_follows_it_directly(answer: str, refusal: bool) -> None:
    """An apology, an optional comma, an optional "but", then "I" and a refusal verb."""
    assert (check(answer) == QualityVerdict(0.1, "refusal-like answer")) is refusal


@pytest.mark.parametrize("verb", ["can't", "cant", "cannot", "unable", "won't", "wont", "not able"])
@pytest.mark.parametrize("apology", ["I'm sorry", "Im sorry", "I am sorry", "Sorry", "Unfortunately"])
def test_every_apology_with_every_refusal_verb_is_a_refusal(apology: str, verb: str) -> None:
    assert check(f"{apology}, I {verb} do it.").score == 0.1


@pytest.mark.parametrize(
    "answer",
    [
        "I{a}m sorry, but I can{a}t help with that.",
        "Sorry, I won{a}t do that.",
        "I{a}m unable to help.",
        "I{a}m not able to browse.",
        "I can{a}t assist with that.",
        "I won{a}t comply.",
        "Sorry, I{a}m unable to.",
    ],
)
@pytest.mark.parametrize("apostrophe", ["'", "\u2019"], ids=["straight", "curly"])
def test_refusals_with_straight_or_curly_apostrophes(answer: str, apostrophe: str) -> None:
    assert check(answer.format(a=apostrophe)) == QualityVerdict(0.1, "refusal-like answer")


@pytest.mark.parametrize("obj", ["help", "assist", "comply", "fulfil", "do that", "provide that", "answer that"])
@pytest.mark.parametrize("refusing", ["I can't", "I cannot", "I am unable to", "I am not able to", "I won't"])
def test_i_refusing_to_help_is_a_refusal_without_an_apology(refusing: str, obj: str) -> None:
    assert check(f"{refusing} {obj} here.").score == 0.1


def test_apology_then_sentence_end_then_refusal_verb_is_not_refusal() -> None:
    assert check("Sorry. I can't wait to tell you: it is Paris.").score == 1.0


def test_invalid_json_wins_over_refusal() -> None:
    verdict = check("I'm sorry, but I can't do that.", response_format=JSON_FORMAT)
    assert verdict.score == 0.0
    assert verdict.reason.startswith("invalid JSON")


def test_refusal_in_json_is_valid_json_and_passes() -> None:
    """With JSON asked, a JSON string is checked as JSON and then by the refusal rule."""
    verdict = check("\"I'm sorry, but I can't\"", response_format=JSON_FORMAT)
    assert verdict == QualityVerdict(1.0, "valid JSON")


# --------------------------------------------------------------------------- cut off


def test_finish_reason_length_is_cut_off() -> None:
    verdict = check("The capital of France is", finish_reason="length")
    assert verdict == QualityVerdict(0.2, "cut off (finish_reason=length)")


@pytest.mark.parametrize("finish_reason", ["stop", None, "content_filter", "tool_calls"])
def test_other_finish_reasons_are_not_cut_off(finish_reason: str | None) -> None:
    assert check("The capital of France is Paris.", finish_reason=finish_reason).score == 1.0


def test_refusal_wins_over_cut_off() -> None:
    assert check("I'm sorry, but I can't", finish_reason="length").score == 0.1


def test_cut_off_wins_over_too_short() -> None:
    verdict = check("Well", user(words(300)), finish_reason="length")
    assert verdict.score == 0.2


def test_invalid_json_wins_over_cut_off() -> None:
    verdict = check('{"capital": "Par', finish_reason="length", response_format=JSON_FORMAT)
    assert verdict.score == 0.0


# --------------------------------------------------------------------------- too short


@pytest.mark.parametrize("question_words", [10, 19, 20, 55, 199, 299, 300, 301, 1000])
def test_too_short_boundary_is_exactly_the_needed_word_count(question_words: int) -> None:
    needed = min(30, question_words // 10)
    messages = user(words(question_words))
    at = check(words(needed), messages)
    assert at == QualityVerdict(1.0, "passed the default checks")
    below = check(words(needed - 1), messages) if needed > 1 else check("", messages)
    if needed > 1:
        assert below == QualityVerdict(0.3, f"too short: {needed - 1} words for a question that needs about {needed}")
    else:
        assert below.reason == "empty answer"


def test_words_required_are_capped_at_30() -> None:
    assert MAX_WORDS_REQUIRED == 30
    messages = user(words(5000))
    assert check(words(30), messages).score == 1.0
    assert check(words(29), messages).reason == "too short: 29 words for a question that needs about 30"


@pytest.mark.parametrize("question_words", [0, 1, 9])
def test_short_question_accepts_a_one_word_answer(question_words: int) -> None:
    assert check("Paris", user(words(question_words))).score == 1.0


def test_example_four_word_reply_to_200_word_question_is_too_short() -> None:
    verdict = check("Just use a loop.", user(words(200)))
    assert verdict == QualityVerdict(0.3, "too short: 4 words for a question that needs about 20")


def test_question_words_come_from_the_last_user_turn_only() -> None:
    messages: list[MessageInput] = [
        {"role": "system", "content": words(1000)},
        {"role": "user", "content": words(1000)},
        {"role": "assistant", "content": words(1000)},
        {"role": "user", "content": words(25)},  # needs 2
        {"role": "assistant", "content": "partial"},
    ]
    assert check("Two words", messages).score == 1.0
    assert check("One", messages).reason == "too short: 1 words for a question that needs about 2"


def test_question_words_count_text_parts_only() -> None:
    content = [
        {"type": "text", "text": words(100)},
        {"type": "input_audio", "text": words(1000)},
        {"type": "image_url", "image_url": {"url": "data:" + " x" * 500}},
        {"type": "input_text", "text": words(100)},
    ]
    messages: list[MessageInput] = [ChatMessage(role="user", content=content)]
    # 200 text words: needs 20.
    assert check(words(20), messages).score == 1.0
    assert check(words(19), messages).reason == "too short: 19 words for a question that needs about 20"


def test_no_user_turn_needs_no_words() -> None:
    messages: list[MessageInput] = [{"role": "system", "content": words(500)}]
    assert check("Ok", messages).score == 1.0


def test_answer_words_are_whitespace_separated_after_strip() -> None:
    messages = user(words(30))  # needs 3
    assert check("  one\ttwo\nthree  ", messages).score == 1.0
    assert check("  one\ttwo  ", messages).score == 0.3


# --------------------------------------------------------------------------- answer_text


def test_answer_text_joins_text_parts_only() -> None:
    parts = [
        {"type": "text", "text": "The capital "},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "input_text", "text": "is Paris."},
        {"type": "refusal", "refusal": "no"},
        {"type": "text", "text": None},
    ]
    resp = response(parts)
    assert answer_text(resp) == "The capital " + "is Paris."


def test_answer_text_of_string_and_none() -> None:
    assert answer_text(response("Paris")) == "Paris"
    assert answer_text(response(None)) == ""


def test_content_parts_answer_is_checked_like_text() -> None:
    messages = user(words(50))  # needs 5
    parts: list[dict[str, Any]] = [{"type": "text", "text": "one two "}, {"type": "text", "text": "three four five"}]
    assert check(parts, messages).score == 1.0
    refusal: list[dict[str, Any]] = [{"type": "text", "text": "I'm sorry, "}, {"type": "text", "text": "I can't."}]
    assert check(refusal).score == 0.1
    fenced: list[dict[str, Any]] = [{"type": "text", "text": "```json\n"}, {"type": "text", "text": '{"a": 1}\n```'}]
    assert check(fenced, response_format=JSON_FORMAT).score == 1.0


def test_chat_message_objects_are_accepted() -> None:
    messages: list[MessageInput] = [ChatMessage(role="user", content=words(100))]
    assert check(words(10), messages).score == 1.0
    assert check(words(9), messages).score == 0.3


@pytest.mark.parametrize(
    "answer",
    [
        "Unfortunately, I can't give an exact figure, but roughly 8.1 billion people live on Earth.",
        "Sorry, I cannot be certain, but it's about 8 billion.",
    ],
)
def test_a_hedge_that_answers_in_the_same_sentence_is_not_a_refusal(answer: str) -> None:
    assert check(answer).reason != "refusal-like answer"


@pytest.mark.parametrize(
    "answer",
    ["I apologize, but I cannot help with that request.", "I'm afraid I can't help with that."],
)
def test_apologise_and_afraid_openings_are_refusals(answer: str) -> None:
    assert check(answer) == QualityVerdict(0.1, "refusal-like answer")
