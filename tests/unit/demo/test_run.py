"""The demo's one error line: a limit of ours names the setting to raise; anything else names its class."""

from __future__ import annotations

import pytest

from muxer_litellm.demo.run import _error_line
from muxer_litellm.errors import DemoError, ProviderTimeoutError, ProviderUnavailableError, ReplyTooLargeError


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            ReplyTooLargeError(
                "reply from gpt-4o-mini passed 1,024 bytes",
                provider="litellm",
                limit="max_chat_reply_bytes",
                limit_bytes=1024,
            ),
            "reply from gpt-4o-mini passed 1,024 bytes (setting: LITELLM_MAX_CHAT_REPLY_BYTES)",
        ),
        (
            ProviderTimeoutError("no reply within\n3 s", provider="litellm", limit="deadline"),
            "no reply within 3 s (setting: LITELLM_DEADLINE)",
        ),
        (ProviderTimeoutError("read timed out", provider="litellm"), "ProviderTimeoutError: read timed out"),
        (
            ProviderUnavailableError("proxy not reachable", provider="litellm"),
            "ProviderUnavailableError: proxy not reachable",
        ),
        (DemoError("demo config not found: x.yaml"), "demo config not found: x.yaml"),
    ],
)
def test_each_failure_is_one_line_naming_what_to_change(exc: BaseException, line: str) -> None:
    text = _error_line(exc)
    assert text == line
    assert "\n" not in text
