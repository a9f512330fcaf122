"""Token estimates without a tokenizer: what budget and context-window checks read."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from ...host import MessageInput
from .messages import content_parts, message_dict

__all__ = ["CHARS_PER_TOKEN", "IMAGE_TOKENS", "estimate_prompt_tokens", "json_text", "text_tokens"]

#: English prose averages about four characters per token in OpenAI/Anthropic tokenizers, code
#: and JSON about three: the estimate takes three so that a budget check errs on the safe side.
CHARS_PER_TOKEN = 3
#: Role and separator tokens each message adds (OpenAI's cookbook counts 3-4).
MESSAGE_OVERHEAD = 4
#: Tokens that prime the reply.
REPLY_PRIMING = 3
#: One image at high detail, 1024x1024, in OpenAI's tile formula (85 + 4 * 170): a
#: deliberately high guess so an image prompt is never thought to fit a window it does not.
IMAGE_TOKENS = 765


def json_text(value: Any) -> str:
    """Compact JSON as the estimate counts it (tools, tool calls); "" when it cannot be dumped."""
    try:
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return ""


def estimate_prompt_tokens(messages: Sequence[MessageInput], tools: Any = None) -> int:
    """A cheap, deterministic prompt-size estimate (no tokenizer), meant to err high:

    ``3 + sum over messages(4 + text_tokens + 765 per image) + text_tokens(tools JSON)``, where a
    message's text is its text content, name and tool-call JSON, and ``text_tokens(t) =
    ceil(ascii_chars / 3) + non_ascii_chars`` (CJK and other non-Latin scripts run about one
    token per character). English prose comes out about a third high, code about right; so
    ``max_cost`` holds for the estimate with a margin. Routing that must be exact near a context
    window asks the proxy's ``/utils/token_counter`` (``HeuristicRouter.route_request``).
    """
    total = REPLY_PRIMING
    for message in messages:
        data = message_dict(message)
        texts: list[str] = []
        images = 0
        for kind, text in content_parts(data.get("content")):
            if kind == "image":
                images += 1
            else:
                texts.append(text)
        name = data.get("name")
        if isinstance(name, str):
            texts.append(name)
        if data.get("tool_calls"):
            texts.append(json_text(data["tool_calls"]))
        total += MESSAGE_OVERHEAD + text_tokens("".join(texts)) + images * IMAGE_TOKENS
    if tools:
        total += text_tokens(json_text(tools))
    return total


def text_tokens(text: str) -> int:
    """``ceil(ascii_chars / 3) + non_ascii_chars`` (see :func:`estimate_prompt_tokens`)."""
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))  # counted in C, not a Python loop
    return math.ceil((len(text) - non_ascii) / CHARS_PER_TOKEN) + non_ascii
