"""The documented prompt-size estimate (``estimate_prompt_tokens``)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from muxer_litellm.host import ChatMessage, MessageInput
from muxer_litellm.routing import classify_prompt, estimate_prompt_tokens
from muxer_litellm.routing.classify.tokens import (
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    text_tokens,
)
from tests.unit.routing.helpers import compact_json, expected_text_tokens, message_tokens, user

# A prompt big enough never to count as long context in tests that are about other rules.
NO_LONG = 10**9

TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


def test_documented_constants() -> None:
    assert (CHARS_PER_TOKEN, MESSAGE_OVERHEAD, REPLY_PRIMING, IMAGE_TOKENS) == (3, 4, 3, 765)


# --------------------------------------------------------------------------- estimate_prompt_tokens


def test_estimate_empty_list_is_reply_priming() -> None:
    assert estimate_prompt_tokens([]) == 3


@pytest.mark.parametrize(
    ("chars", "text_tokens"),
    [(0, 0), (1, 1), (2, 1), (3, 1), (4, 2), (6, 2), (7, 3), (300, 100), (301, 101)],
)
def test_estimate_rounds_ascii_text_up_to_whole_tokens_of_three_chars(chars: int, text_tokens: int) -> None:
    assert text_tokens == math.ceil(chars / 3)
    assert estimate_prompt_tokens(user("a" * chars)) == 3 + 4 + text_tokens


def test_estimate_rounds_each_message_separately() -> None:
    messages: list[MessageInput] = [{"role": "system", "content": "abcde"}, {"role": "user", "content": "f"}]
    # Separately: ceil(5/3) + ceil(1/3) = 3; pooled it would be ceil(6/3) = 2.
    assert estimate_prompt_tokens(messages) == 3 + (4 + 2) + (4 + 1)
    assert estimate_prompt_tokens(messages) == 3 + message_tokens("abcde") + message_tokens("f")


def test_estimate_pools_a_messages_text_parts_name_and_tool_calls_before_rounding() -> None:
    """One ceil per message over its text parts, name and tool-call JSON together."""
    calls = [TOOL_CALL]
    message = {
        "role": "assistant",
        "name": "c",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "tool_calls": calls,
    }
    pooled = "a" + "b" + "c" + compact_json(calls)
    per_piece = 3 + math.ceil(len(compact_json(calls)) / 3)
    assert math.ceil(len(pooled) / 3) < per_piece  # the two readings differ for this message
    assert estimate_prompt_tokens([message]) == 3 + 4 + math.ceil(len(pooled) / 3)


def test_estimate_counts_the_name() -> None:
    message = {"role": "user", "name": "alice_smith", "content": "hi"}
    # "hi" + "alice_smith": 13 ASCII characters, ceil(13/3) = 5.
    assert estimate_prompt_tokens([message]) == 3 + 4 + 5
    assert estimate_prompt_tokens([message]) == 3 + message_tokens("hi" + "alice_smith")


def test_estimate_counts_tool_calls_json() -> None:
    calls = [TOOL_CALL, {**TOOL_CALL, "id": "call_2"}]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    assert estimate_prompt_tokens([message]) == 3 + message_tokens(compact_json(calls))


def test_estimate_counts_text_parts_and_images_but_not_other_parts() -> None:
    text_a, text_b = "Describe these pictures", "briefly"
    content = [
        {"type": "text", "text": text_a},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 5000}},
        {"type": "input_text", "text": text_b},
        {"type": "input_image", "image_url": "https://example.invalid/x.png"},
        {"type": "image", "source": {"data": "B" * 999}},
        {"type": "input_audio", "input_audio": {"data": "C" * 4000}},
        {"type": "text", "text": 12345},  # not a string: not text
        "not a part",
    ]
    expected = 3 + message_tokens(text_a + text_b, images=3)
    assert estimate_prompt_tokens([{"role": "user", "content": content}]) == expected


def test_estimate_sums_messages_and_adds_tools_once() -> None:
    messages: list[MessageInput] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "name": "bob", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        ChatMessage(role="user", content="And tomorrow?"),
    ]
    tools = [TOOL]
    expected = (
        3
        + message_tokens("Be brief.")
        + message_tokens("Weather in Oslo?" + "bob")
        + message_tokens(compact_json([TOOL_CALL]))
        + message_tokens("sunny, 21C")
        + message_tokens("And tomorrow?")
        + expected_text_tokens(compact_json(tools))
    )
    assert estimate_prompt_tokens(messages, tools) == expected
    assert estimate_prompt_tokens(messages) == expected - expected_text_tokens(compact_json(tools))


@pytest.mark.parametrize("tools", [None, []])
def test_estimate_without_tools_adds_nothing(tools: Any) -> None:
    assert estimate_prompt_tokens(user("abcd"), tools) == 3 + message_tokens("abcd")


def test_estimate_message_without_content() -> None:
    assert estimate_prompt_tokens([{"role": "assistant"}]) == 3 + 4


# --------------------------------------------------------------------------- non-ASCII text
# text_tokens(t) = ceil(ascii_chars / 3) + non_ascii_chars: every non-ASCII code point is one token
# (CJK and other non-Latin scripts run about one token per character); the ASCII characters of the
# whole text are pooled into one ceil, wherever they sit between non-ASCII ones.


@pytest.mark.parametrize(
    ("text", "ascii_chars", "non_ascii_chars"),
    [
        pytest.param("\u4f60\u597d\u4e16\u754c", 0, 4, id="cjk"),
        pytest.param("caf\u00e9", 3, 1, id="accented-latin"),
        pytest.param("na\u00efve r\u00e9sum\u00e9", 9, 3, id="accented-words"),
        pytest.param("\u041f\u0440\u0438\u0432\u0435\u0442", 0, 6, id="cyrillic"),
        pytest.param("\U0001f44d", 0, 1, id="emoji"),
        pytest.param("\U0001f44d\U0001f44d\U0001f44d", 0, 3, id="three-emoji"),
        # Code points, not graphemes: a ZWJ family is 3 emoji + 2 joiners, a flag 2 regional indicators.
        pytest.param("\U0001f468\u200d\U0001f469\u200d\U0001f467", 0, 5, id="zwj-sequence"),
        pytest.param("\U0001f1f3\U0001f1f4", 0, 2, id="flag"),
        pytest.param("e\u0301", 1, 1, id="combining-accent"),
        pytest.param("Hello, \u4e16\u754c!", 8, 2, id="mixed"),
        pytest.param("a\u4f60b\u597dc", 3, 2, id="ascii-pooled-across-non-ascii"),
    ],
)
def test_non_ascii_characters_count_one_token_each(text: str, ascii_chars: int, non_ascii_chars: int) -> None:
    assert len(text) == ascii_chars + non_ascii_chars
    expected = math.ceil(ascii_chars / 3) + non_ascii_chars
    assert expected == expected_text_tokens(text)
    assert text_tokens(text) == expected
    assert estimate_prompt_tokens(user(text)) == 3 + 4 + expected


def test_cjk_prompt_is_one_token_per_character_plus_overhead() -> None:
    assert estimate_prompt_tokens(user("\u4f60\u597d\u4e16\u754c")) == 3 + 4 + 4  # "ni hao shi jie"


def test_accented_latin_counts_the_accented_letter_as_a_token() -> None:
    # "caf\u00e9": c, a, f are ASCII (ceil(3/3) = 1), the e-acute is one token.
    assert estimate_prompt_tokens(user("caf\u00e9")) == 3 + 4 + (1 + 1)
    # The same word in ASCII is one token fewer.
    assert estimate_prompt_tokens(user("cafe")) == 3 + 4 + 2


def test_emoji_count_one_token_each() -> None:
    assert estimate_prompt_tokens(user("\U0001f600" * 7)) == 3 + 4 + 7
    assert estimate_prompt_tokens(user("ok \U0001f600")) == 3 + 4 + (1 + 1)


def test_mixed_ascii_and_non_ascii_in_one_message_is_not_chars_over_three() -> None:
    text = "\u4f60\u597d world"  # 2 CJK + 6 ASCII (" world")
    assert estimate_prompt_tokens(user(text)) == 3 + 4 + (2 + 2)
    assert 3 + 4 + math.ceil(len(text) / 3) != 3 + 4 + (2 + 2)  # the old chars/N rule would differ


def test_mixed_text_parts_and_name_of_one_message_are_pooled() -> None:
    message = {
        "role": "user",
        "name": "Jos\u00e9",
        "content": [{"type": "text", "text": "Hi "}, {"type": "input_text", "text": "\u4e16\u754c"}],
    }
    # ASCII: "Hi " + "Jos" = 6 -> 2 tokens; non-ASCII: two CJK + e-acute = 3 tokens.
    assert estimate_prompt_tokens([message]) == 3 + 4 + (2 + 3)
    assert estimate_prompt_tokens([message]) == 3 + message_tokens("Hi \u4e16\u754cJos\u00e9")


def test_non_ascii_name_counts_one_token_per_non_ascii_character() -> None:
    message = {"role": "user", "name": "Zo\u00eb", "content": "hi"}
    # "hi" + "Zo" = 4 ASCII -> 2 tokens, the e-diaeresis 1.
    assert estimate_prompt_tokens([message]) == 3 + 4 + (2 + 1)


def test_non_ascii_in_tools_json_is_counted_as_characters_not_u_escapes() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "m\u00e9t\u00e9o",
                "description": "\u5929\u6c14 in Z\u00fcrich \u2014 pr\u00e9visions",
                "parameters": {"type": "object", "properties": {"ville": {"type": "string"}}},
            },
        }
    ]
    kept = compact_json(tools)
    escaped = json.dumps(tools, separators=(",", ":"))  # ensure_ascii: each one becomes 6 ASCII chars
    non_ascii = 2 + 2 + 1 + 1 + 1  # m-e-t-e-o, the two CJK, u-umlaut, em dash, e-acute
    assert len(kept) - sum(1 for ch in kept if ord(ch) < 128) == non_ascii
    assert "\\u" not in kept
    expected = math.ceil((len(kept) - non_ascii) / 3) + non_ascii
    assert expected < expected_text_tokens(escaped)  # the two readings differ
    base = estimate_prompt_tokens(user("Weather?"))
    assert estimate_prompt_tokens(user("Weather?"), tools) == base + expected
    assert classify_prompt(user("Weather?"), tools=tools).prompt_tokens == base + expected


def test_non_ascii_in_tool_call_json_is_counted_as_characters_not_u_escapes() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Z\u00fcrich","note":"\u6771\u4eac"}'},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    kept = compact_json([call])
    assert "\u00fc" in kept
    non_ascii = 3  # u-umlaut and two CJK
    expected = math.ceil((len(kept) - non_ascii) / 3) + non_ascii
    assert expected < expected_text_tokens(json.dumps([call], separators=(",", ":")))
    assert estimate_prompt_tokens([message]) == 3 + 4 + expected
