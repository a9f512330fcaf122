"""Bounded time and memory per call, against a raw-socket server on loopback that misbehaves
for some model names (``misbehaving.py``).

For each misbehaviour: the call ends with the typed error within its limit plus 1 s; the
process's resident memory grows by less than 100 MB over the call; the connection that
served it is closed by the client (not kept in the pool); and calls for another model on the
same server keep answering during and after. A reply exactly at a limit succeeds.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from muxer_litellm import LiteLLMProvider, ProviderClosedError, ProviderError, ProviderTimeoutError, ReplyTooLargeError
from muxer_litellm.proxy.limits import BodyDecoder, ReplyLimits, read_body
from muxer_litellm.settings import HttpTransport
from tests.unit.proxy.misbehaving import MisbehavingServer, gzip_bomb

KEY = "sk-limits-test-0123456789"
HELLO = [{"role": "user", "content": "hi"}]
MB = 1_000_000
TIMEOUT = 2.0


def rss() -> int:
    """This process's resident memory now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_growth() -> Iterator[list[int]]:
    """Samples RSS every 5 ms in a thread (the event loop may be busy); yields a list that
    holds the peak growth over the block once it ends."""
    baseline = rss()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    growth: list[int] = []
    try:
        yield growth
    finally:
        stop.set()
        thread.join()
        growth.append(max(peak[0], rss()) - baseline)


@dataclass
class Neighbour:
    """Calls another model on the same server while a misbehaving call runs."""

    provider: LiteLLMProvider
    answered: int = 0
    failures: list[BaseException] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        for _ in range(2000):  # bounded: 2000 calls at most
            if stop.is_set():
                return
            try:
                reply = await self.provider.chat_completion(HELLO, "good")
                assert reply.choices[0].message.content == "ok"
                self.answered += 1
            except Exception as exc:  # recorded, asserted on below
                self.failures.append(exc)
            await asyncio.sleep(0.05)


async def call(provider: LiteLLMProvider, model: str, stream: bool) -> None:
    if not stream:
        await provider.chat_completion(HELLO, model)
        return
    async with provider.stream_chat_completion(HELLO, model) as chunks:
        async for _ in chunks:
            pass


@dataclass(frozen=True)
class Row:
    model: str
    stream: bool
    error: type[ProviderError]
    limit: str
    seconds: float  # the limit that bounds the call's time
    options: dict[str, Any] = field(default_factory=dict)


ROWS = {
    "json-one-byte-at-a-time": Row("drip", False, ProviderTimeoutError, "deadline", TIMEOUT),
    "json-of-1-gib": Row("huge", False, ReplyTooLargeError, "max_chat_reply_bytes", TIMEOUT),
    "sse-line-that-never-ends": Row("endless-line", True, ReplyTooLargeError, "max_event_bytes", TIMEOUT),
    "gzip-inflating-to-1-gib": Row("gzip-bomb", False, ReplyTooLargeError, "max_chat_reply_bytes", TIMEOUT),
    "stream-that-never-finishes": Row(
        "slow-stream", True, ProviderTimeoutError, "stream_timeout", 2.5, {"stream_timeout": 2.5}
    ),
    "stream-of-pings-only": Row("pings-only", True, ProviderTimeoutError, "timeout", TIMEOUT),
}


@pytest.mark.parametrize("http_transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
async def test_a_misbehaving_upstream_is_stopped_in_bounded_time_and_memory(
    row: Row, http_transport: HttpTransport
) -> None:
    async with MisbehavingServer() as server:
        if row.model == "gzip-bomb":
            server.bomb()  # built before measuring: the server's memory is not the client's
        async with LiteLLMProvider(
            server.url, KEY, timeout=TIMEOUT, http_transport=http_transport, **row.options
        ) as provider:
            neighbour = Neighbour(provider)
            stop = asyncio.Event()
            during = asyncio.ensure_future(neighbour.run(stop))
            with peak_growth() as growth:
                started = time.monotonic()
                with pytest.raises(row.error) as caught:
                    async with asyncio.timeout(row.seconds + 10):  # the test's own bound
                        await call(provider, row.model, row.stream)
                elapsed = time.monotonic() - started
            stop.set()
            await during
            after = await provider.chat_completion(HELLO, "good")

            error = caught.value
            assert getattr(error, "limit", None) == row.limit
            assert error.model == row.model
            assert row.limit in str(error)
            assert elapsed < row.seconds + 1.0
            assert growth[0] < 100 * MB, f"RSS grew by {growth[0] / MB:.0f} MB"
            assert await server.all_closed(row.model), "a connection that served it was kept"
            assert neighbour.failures == []
            assert neighbour.answered >= 1
            assert after.choices[0].message.content == "ok"
            if isinstance(error, ReplyTooLargeError):
                assert error.retryable is False


@pytest.mark.parametrize("extra", [0, 1], ids=["exactly-at-the-limit", "one-byte-over"])
async def test_a_reply_exactly_at_the_limit_succeeds(extra: int) -> None:
    size = 4096
    server = MisbehavingServer(at_limit=size + extra)
    async with server, LiteLLMProvider(server.url, KEY, reply_limits=ReplyLimits(chat=size)) as provider:
        if extra:
            with pytest.raises(ReplyTooLargeError, match="max_chat_reply_bytes"):
                await provider.chat_completion(HELLO, "at-limit")
        else:
            reply = await provider.chat_completion(HELLO, "at-limit")
            assert reply.choices[0].message.content == "ok"


def test_a_gzip_bomb_inflates_a_bounded_piece_at_a_time() -> None:
    bomb = gzip_bomb(256 * 1024 * 1024)
    decoder = BodyDecoder("gzip")
    decoder.feed(bomb[: 64 * 1024])  # one network read: ~64 MiB once inflated
    sizes = []
    for _ in range(8):
        piece = decoder.piece()
        sizes.append(len(piece))
        assert piece == bytes(len(piece))
    assert max(sizes) <= 64 * 1024
    assert min(sizes) > 0  # the rest stays compressed until asked for


async def test_aclose_lets_calls_finish_within_the_drain_then_stops_them() -> None:
    async with MisbehavingServer() as server:
        provider = LiteLLMProvider(server.url, KEY, timeout=TIMEOUT)
        stream = provider.stream_chat_completion(HELLO, "slow-stream")
        first = await anext(stream)
        assert first["choices"][0]["delta"]["content"] == "t0 "
        closing = asyncio.ensure_future(provider.aclose(drain_timeout=1.2))
        await asyncio.sleep(0)
        with pytest.raises(ProviderClosedError):  # a new call is refused at once
            await provider.chat_completion(HELLO, "good")
        started = time.monotonic()
        more = 0
        with pytest.raises(ProviderClosedError, match="closed with aclose"):
            async for _ in stream:  # chunks keep coming during the drain
                more += 1
        assert more >= 1
        assert time.monotonic() - started < 1.2 + 1.0
        await closing
        assert await server.all_closed("slow-stream")


async def test_aclose_stops_a_stuck_call_after_the_drain() -> None:
    async with MisbehavingServer() as server:
        provider = LiteLLMProvider(server.url, KEY, timeout=30.0)
        stuck = asyncio.ensure_future(provider.chat_completion(HELLO, "drip"))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await provider.aclose(drain_timeout=0.5)
        with pytest.raises(ProviderClosedError):
            await stuck
        assert time.monotonic() - started < 0.5 + 1.0


async def test_the_deadline_defaults_to_the_read_timeout_and_is_checked() -> None:
    async with LiteLLMProvider("http://127.0.0.1:9", KEY, timeout=3.0) as short, LiteLLMProvider() as default:
        assert short.deadline == 3.0
        assert default.deadline == 60.0
        assert default.stream_timeout is None
        assert default.reply_limits == ReplyLimits()
    for bad in ({"deadline": -1.0}, {"stream_timeout": 0}, {"drain_timeout": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            LiteLLMProvider("http://127.0.0.1:9", KEY, **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ReplyLimits\.chat"):
        ReplyLimits(chat=10)


class _Unread(httpx.AsyncByteStream):
    """A reply body not read yet, as a network transport hands it over."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


def unread(body: bytes, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
    return httpx.Response(200, headers=headers, stream=_Unread(body))


async def test_the_framing_headers_are_read_whatever_their_case() -> None:
    gzipped = gzip.compress(b'{"ok": true}')
    reply = unread(gzipped, [(b"Content-Encoding", b"GZIP"), (b"CONTENT-LENGTH", str(len(gzipped)).encode())])
    assert await read_body(reply, "max_chat_reply_bytes", 100, "m") == b'{"ok": true}'
    declared_too_big = unread(b"{}", [(b"Content-Length", b" 5000 ")])
    with pytest.raises(ReplyTooLargeError, match="max_chat_reply_bytes"):
        await read_body(declared_too_big, "max_chat_reply_bytes", 100, "m")


async def test_two_content_encoding_headers_are_refused_as_two_encodings() -> None:
    reply = unread(b"{}", [(b"content-encoding", b"gzip"), (b"Content-Encoding", b"deflate")])
    with pytest.raises(ProviderError, match=r"unsupported content-encoding 'gzip, deflate' \(more than one\)"):
        await read_body(reply, "max_chat_reply_bytes", 100, "m")
