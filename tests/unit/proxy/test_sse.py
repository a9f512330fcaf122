"""The event-stream parser that replaced httpx-sse (``muxer_litellm.proxy.sse``): framing rules
(multi-line ``data:``, comments, CRLF / CR / LF, a CRLF split across reads, any split of the
bytes, a byte-order mark, an unfinished event at the end), the frame rules (``[DONE]``, blank
frames, what orjson refuses, other charsets, error frames) and a reply that is not an event
stream; then the same through ``stream_chat_completion`` with awkward reads and gzip."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider, ProviderError
from muxer_litellm.errors import ReplyTooLargeError
from muxer_litellm.proxy.limits import CallGuard
from muxer_litellm.proxy.sse import SKIP, EventReader, SSEDecoder
from tests.unit.replies import chunk, final_chunk, sse

MODEL = "gpt-test"
EVENT_STREAM = {"content-type": "text/event-stream"}


def decode(*pieces: bytes) -> list[bytes]:
    decoder = SSEDecoder()
    out: list[bytes] = []
    for piece in pieces:
        out += decoder.feed(piece)
    return out + decoder.flush()


# ---------------------------------------------------------------------------- framing

#: One body with every framing rule in it, and the data of its events.
BODY = (
    b": keep-alive\n\n"
    b'data: {"a": 1}\n\n'
    b"event: message\r\nid: 7\r\ndata: first line\r\ndata: second line\r\n\r\n"
    b"data:no space\rdata:  two spaces\r\r"
    b"retry: 3000\n: a comment between fields\ndata\ndata: after a bare field\n\n"
    b"\n\n\n"  # blank lines alone dispatch nothing
    b"event: ping\n\n"  # an event with no data is not one
    b"data: [DONE]\n\n"
)
EVENTS = [
    b'{"a": 1}',
    b"first line\nsecond line",
    b"no space\n two spaces",
    b"\nafter a bare field",
    b"[DONE]",
]


def test_one_read_gives_every_event_with_the_framing_rules() -> None:
    assert decode(BODY) == EVENTS


@pytest.mark.parametrize("at", range(1, len(BODY)))
def test_any_split_into_two_reads_gives_the_same_events(at: int) -> None:
    assert decode(BODY[:at], BODY[at:]) == EVENTS


def test_one_byte_per_read_gives_the_same_events() -> None:
    assert decode(*(BODY[i : i + 1] for i in range(len(BODY)))) == EVENTS


def test_a_crlf_split_across_reads_is_one_line_end() -> None:
    # Read as two line ends, the CR and the LF would end the event after "a".
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [b"a\nb"]
    assert decode(b"data: a\r", b"\r", b"\n\r\n") == [b"a"]


def test_cr_alone_ends_lines() -> None:
    assert decode(b"data: a\rdata: b\r\rdata: c\r\r") == [b"a\nb", b"c"]


def test_a_leading_byte_order_mark_is_skipped_even_split() -> None:
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [b"x"]
    assert decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [b"x"]
    assert decode(b"data: \xef\xbb\xbfx\n\n") == [b"\xef\xbb\xbfx"]  # only at the very start


def test_an_event_unfinished_at_the_end_is_dropped() -> None:
    assert decode(b"data: whole\n\ndata: cut off\n") == [b"whole"]
    assert decode(b"data: whole\n\ndata: cut off") == [b"whole"]


def test_a_final_cr_still_ends_the_last_line() -> None:
    assert decode(b"data: x\n\r") == [b"x"]
    assert decode(b"data: x\r\r") == [b"x"]


def test_data_is_returned_undecoded() -> None:
    raw = 'data: {"t": "é 😀"}\n\n'.encode()
    assert decode(raw) == ['{"t": "é 😀"}'.encode()]


# ---------------------------------------------------------------------------- frames


def reader(
    content_type: str = "text/event-stream",
    errors: list[dict[str, Any]] | None = None,
    *,
    body: bytes = b"",
    event_limit: int = 1 << 20,
) -> EventReader:
    """The stream reader over a reply (must run inside an event loop: its guard has a timer)."""
    response = httpx.Response(200, headers={"content-type": content_type, "x-litellm-call-id": "call-1"}, content=body)

    def on_error_frame(frame: dict[str, Any]) -> ProviderError:
        (errors if errors is not None else []).append(frame)
        return ProviderError("mid-stream boom", 500, "litellm")

    def on_transport_error(exc: httpx.HTTPError) -> ProviderError:
        raise AssertionError(exc)

    guard = CallGuard(gap=5.0, total=None, model=MODEL, base_url="http://test")
    return EventReader(
        response,
        on_error_frame=on_error_frame,
        on_transport_error=on_transport_error,
        model=MODEL,
        call_id="call-1",
        guard=guard,
        event_limit=event_limit,
    )


async def test_json_object_frames_are_chunks_and_done_ends() -> None:
    frames = reader()
    assert frames.chunk(b'{"id": "c", "choices": []}') == {"id": "c", "choices": []}
    assert frames.chunk(b"[DONE]") is None
    assert frames.chunk(b"  [DONE] \n") is None


@pytest.mark.parametrize("blank", [b"", b" ", b"\n", b" \t "])
async def test_blank_frames_are_skipped(blank: bytes) -> None:
    assert reader().chunk(blank) is SKIP


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"null", "not a JSON object: 'null'"),
        (b"[1, 2]", "not a JSON object: '[1, 2]'"),
        (b'"text"', "not a JSON object: '\"text\"'"),
        (b"{broken", "not JSON: '{broken'"),
    ],
    ids=["null", "list", "string", "broken"],
)
async def test_frames_that_are_not_json_objects_are_provider_errors(data: bytes, says: str) -> None:
    with pytest.raises(ProviderError) as caught:
        reader().chunk(data)
    assert says in str(caught.value)
    assert caught.value.call_id == "call-1"
    assert caught.value.model == MODEL
    assert caught.value.status_code == 200


async def test_what_orjson_refuses_is_read_as_the_stdlib_reads_it() -> None:
    frames = reader()
    nan = frames.chunk(b'{"a": NaN}')
    assert nan is not None
    assert nan["a"] != nan["a"]
    # Invalid UTF-8 is replaced, as a text decoder would, instead of failing the stream.
    assert frames.chunk(b'{"t": "a\xffb"}') == {"t": "a\ufffdb"}
    # Whole 64-bit integers stay exact integers.
    big = {"min": -(2**63), "max": 2**64 - 1}
    assert frames.chunk(json.dumps(big).encode()) == big


async def test_a_declared_charset_is_honoured() -> None:
    frames = reader("text/event-stream; charset=iso-8859-1")
    assert frames.chunk(b'{"t": "caf\xe9"}') == {"t": "café"}


async def test_error_frames_raise_what_on_error_frame_makes() -> None:
    seen: list[dict[str, Any]] = []
    frame = {"error": {"message": "boom", "code": "500"}}
    with pytest.raises(ProviderError, match="mid-stream boom"):
        reader(errors=seen).chunk(json.dumps(frame).encode())
    assert seen == [frame]
    # An "error" key beside real choices is content, not an error frame.
    with_choices = {"error": None, "choices": [{"index": 0, "delta": {"content": "x"}}]}
    assert reader().chunk(json.dumps(with_choices).encode()) == with_choices


@pytest.mark.parametrize("content_type", ["application/json", "text/html; charset=utf-8", ""])
async def test_a_reply_that_is_not_an_event_stream_is_refused(content_type: str) -> None:
    with pytest.raises(ProviderError) as caught:
        reader(content_type)
    message = str(caught.value)
    assert "without an event stream" in message
    assert repr(content_type.partition(";")[0]) in message


async def read_all(frames: EventReader) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while (datas := await frames.read()) is not None:
        for data in datas:
            chunk = frames.chunk(data)
            if chunk is None:
                return got
            if chunk is not SKIP:
                got.append(chunk)
    return got


async def test_the_reader_reads_a_whole_response_and_stops_at_done() -> None:
    body = b'data: {"n": 1}\r\n\r\n: ping\r\n\r\ndata: {"n": 2}\n\ndata: [DONE]\n\ndata: {"n": 3}\n\n'
    assert await read_all(reader(body=body)) == [{"n": 1}, {"n": 2}]


async def test_an_event_exactly_at_the_limit_is_read() -> None:
    data = b'{"t": "' + b"x" * 1000 + b'"}'
    event = b"data: " + data + b"\n\n"
    assert await read_all(reader(body=event, event_limit=len(event))) == [{"t": "x" * 1000}]


@pytest.mark.parametrize(
    "body",
    [b'data: {"t": "' + b"x" * 2000 + b'"}\n\n', b"data: " + b"x" * 5000, b": " + b"c" * 5000],
    ids=["one-long-event", "a-line-that-never-ends", "a-comment-that-never-ends"],
)
async def test_an_event_past_the_limit_is_reply_too_large(body: bytes) -> None:
    with pytest.raises(ReplyTooLargeError) as caught:
        await read_all(reader(body=body, event_limit=1024))
    assert caught.value.limit == "max_event_bytes"
    assert caught.value.model == MODEL
    assert caught.value.retryable is False
    assert "max_event_bytes" in str(caught.value)


# ---------------------------------------------------------------------------- through the provider


class Pieces(httpx.AsyncByteStream):
    """A body delivered in reads of ``size`` bytes (a slow network, a proxy that re-chunks)."""

    def __init__(self, body: bytes, size: int) -> None:
        self.body = body
        self.size = size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), self.size):
            yield self.body[start : start + self.size]


CONTENT = [chunk("Hel"), chunk("lo"), chunk("\n", finish_reason="stop")]
LAST = final_chunk(4, 3, cost=0.0002)


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
async def test_reads_of_any_size_give_the_same_chunks(
    proxy: respx.MockRouter, provider: LiteLLMProvider, size: int
) -> None:
    body = sse(*CONTENT, LAST).replace(b"\n", b"\r\n")
    proxy.post("/v1/chat/completions").mock(
        return_value=httpx.Response(200, headers=EVENT_STREAM, stream=Pieces(body, size))
    )
    async with provider.stream_chat_completion([{"role": "user", "content": "hi"}], MODEL) as stream:
        chunks = [c async for c in stream]
    assert chunks[:3] == CONTENT
    assert {k: v for k, v in chunks[3].items() if k != "router_metadata"} == LAST
    assert stream.cost == pytest.approx(0.0002)
    assert stream.ended is True


async def test_a_frame_split_over_several_data_lines_is_one_chunk(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    first = json.dumps(CONTENT[0], indent=1).replace("\n", "\ndata: ")
    body = f"data: {first}\n\n".encode() + sse(LAST)
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, headers=EVENT_STREAM, content=body))
    chunks = [c async for c in provider.stream_chat_completion([{"role": "user", "content": "hi"}], MODEL)]
    assert chunks[0] == CONTENT[0]
    assert len(chunks) == 2


async def test_a_gzip_encoded_stream_is_decoded(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    body = gzip.compress(sse(*CONTENT, LAST))
    headers = {**EVENT_STREAM, "content-encoding": "gzip"}
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, headers=headers, stream=Pieces(body, 16)))
    chunks = [c async for c in provider.stream_chat_completion([{"role": "user", "content": "hi"}], MODEL)]
    assert chunks[:3] == CONTENT
    assert chunks[3]["usage"] == LAST["usage"]
