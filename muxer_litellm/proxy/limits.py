"""Bounded time and memory per call: size limits on decoded replies, and call deadlines.

Both hold above the HTTP transport (they only read an ``httpx.Response`` stream), so they
apply whatever transport the client uses.

Sizes count **decoded** bytes, while decoding: :class:`BodyDecoder` inflates gzip and
deflate (the encodings we ask for) a bounded piece at a time, so a small compressed reply that
inflates to gigabytes is refused after ``limit`` bytes, never inflated in memory.

Deadlines use :class:`CallGuard`: one timer per call (not one per read), moved forward only
when it fires early. When it fires while the call waits on the network, it cancels the
waiting task, and the call turns that cancellation into a typed error; the response is then
closed unread, so its connection is dropped, never returned to the pool.
"""

from __future__ import annotations

import asyncio
import math
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple, TypeVar

import httpx

from ..errors import ProviderClosedError, ProviderError, ProviderTimeoutError, ReplyTooLargeError
from .replies import PROVIDER

__all__ = [
    "ACCEPT_ENCODING",
    "BodyDecoder",
    "DEADLINE",
    "FRAMING",
    "CallGuard",
    "Framing",
    "ReplyLimits",
    "framing",
    "read_body",
    "too_large",
]

MiB: Final = 1024 * 1024
#: Largest decoded piece made from one network read; a bomb inflates a piece at a time.
PIECE: Final = 64 * 1024

#: What we ask for: only encodings :class:`BodyDecoder` inflates with a bound.
ACCEPT_ENCODING: Final = "gzip, deflate"


@dataclass(frozen=True, slots=True)
class ReplyLimits:
    """Decoded bytes a reply may have, per endpoint, and one stream event's size (see
    docs/limits.md for why each default)."""

    chat: int = 32 * MiB
    embeddings: int = 160 * MiB
    catalog: int = 16 * MiB
    health: int = 4 * MiB
    event: int = 16 * MiB

    def __post_init__(self) -> None:
        for name in ("chat", "embeddings", "catalog", "health", "event"):
            value = getattr(self, name)
            if type(value) is not int or value < 1024:
                raise ValueError(f"ReplyLimits.{name} must be an int of at least 1024 bytes, got {value!r}")

    def for_path(self, path: str) -> tuple[str, int]:
        """The setting's name and its value for a request path."""
        if path.endswith("/chat/completions"):
            return "max_chat_reply_bytes", self.chat
        if path.endswith("/embeddings"):
            return "max_embeddings_reply_bytes", self.embeddings
        if path in ("/model/info", "/v1/models"):
            return "max_catalog_reply_bytes", self.catalog
        return "max_health_reply_bytes", self.health


def too_large(limit: str, limit_bytes: int, what: str, model: str | None, status: int | None) -> ReplyTooLargeError:
    return ReplyTooLargeError(
        f"LiteLLM proxy sent {what} larger than {limit} ({limit_bytes:,} bytes decoded)"
        f"{f' for model {model!r}' if model else ''}; the connection was dropped",
        status,
        PROVIDER,
        limit=limit,
        limit_bytes=limit_bytes,
        model=model,
    )


# ---------------------------------------------------------------------- decoding


class BodyDecoder:
    """Undoes a Content-Encoding a bounded piece at a time: :meth:`feed` takes a network
    read, :meth:`piece` hands out at most :data:`PIECE` decoded bytes until it has none left."""

    __slots__ = ("_deflate_probe", "_pending", "_zlib")

    def __init__(self, encoding: str) -> None:
        self._deflate_probe = False
        self._pending = b""
        name = encoding.strip().lower()
        if name in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif name == "deflate":
            self._zlib = zlib.decompressobj()
            self._deflate_probe = True  # zlib-wrapped, or raw deflate as some servers send
        else:
            raise ValueError(f"unsupported content-encoding {encoding!r}")

    @staticmethod
    def for_response(response: httpx.Response) -> BodyDecoder | None:
        """A decoder for the reply's Content-Encoding; None when there is nothing to undo."""
        encoding = framing(response).coding.strip().lower()
        if encoding in ("", "identity"):
            return None
        if "," in encoding:
            raise ValueError(f"unsupported content-encoding {encoding!r} (more than one)")
        return BodyDecoder(encoding)

    def feed(self, data: bytes) -> None:
        self._pending = self._pending + data if self._pending else data

    def piece(self) -> bytes:
        """Up to :data:`PIECE` decoded bytes; b"" when it needs more input."""
        if not self._pending:
            return b""
        try:
            out = self._zlib.decompress(self._pending, PIECE)
        except zlib.error:
            if not self._deflate_probe:
                raise
            self._deflate_probe = False
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(self._pending, PIECE)
        self._deflate_probe = False
        self._pending = self._zlib.unconsumed_tail
        if not out and self._pending and self._zlib.eof:
            self._pending = b""  # bytes after the end of the compressed data: ignored, as httpx does
        return out


class Framing(NamedTuple):
    """What a reply's headers say about its body and cookies: Content-Length and
    Content-Encoding as sent ("" when absent; repeated ones joined) and whether it sets one."""

    length: str
    coding: str
    sets_cookie: bool


#: The ``Response.extensions`` key of a reply's :class:`Framing`. A transport that parsed the
#: headers already (the aiohttp one) puts it there; otherwise the first :func:`framing` does.
FRAMING = "muxer_litellm.framing"

#: The ``Request.extensions`` key of the seconds the caller allows the whole exchange, reply
#: read included (its :class:`CallGuard`'s total). A per-read timeout at least that long can
#: never fire first, so a transport may leave it unarmed: aiohttp re-arms it on every read.
DEADLINE = "muxer_litellm.deadline"


def framing(response: httpx.Response) -> Framing:
    """The reply's :class:`Framing`, read once per reply in one pass over its headers (a
    lookup by name in ``httpx.Headers`` decodes and scans every header, three times over)."""
    known = response.extensions.get(FRAMING)
    if isinstance(known, Framing):
        return known
    length = coding = b""
    cookie = False
    for _, lowered, value in response.headers._list:  # (name as sent, lower-case name, value)
        if lowered == b"content-length":
            length = value
        elif lowered == b"content-encoding":
            coding = coding + b", " + value if coding else value
        elif lowered in (b"set-cookie", b"set-cookie2"):
            cookie = True
    found = Framing(length.decode("latin-1"), coding.decode("latin-1"), cookie)
    response.extensions[FRAMING] = found
    return found


async def read_body(response: httpx.Response, limit_name: str, limit: int, model: str | None) -> bytearray:
    """The whole reply, decoded, refused past ``limit`` bytes. The caller closes the response."""
    declared = framing(response).length.strip()
    status = response.status_code
    try:
        decoder = None if response.is_stream_consumed else BodyDecoder.for_response(response)
    except ValueError as exc:
        raise ProviderError(f"LiteLLM proxy sent a reply with an {exc}", status, PROVIDER, model=model) from None
    if decoder is None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit_name, limit, "a reply", model, status)
    body = bytearray()
    if response.is_stream_consumed:  # a mock transport's reply, already in memory
        body += response.content
        if len(body) > limit:
            raise too_large(limit_name, limit, "a reply", model, status)
        return body
    # The transport's stream itself: aiter_raw's chunking and bookkeeping are unused here.
    stream = response.stream
    async for raw in stream if isinstance(stream, httpx.AsyncByteStream) else response.aiter_raw():
        if decoder is None:
            body += raw
            if len(body) > limit:
                raise too_large(limit_name, limit, "a reply", model, status)
            continue
        decoder.feed(raw)
        while piece := decoder.piece():
            body += piece
            if len(body) > limit:
                raise too_large(limit_name, limit, "a reply", model, status)
    return body


# ---------------------------------------------------------------------- deadlines

Reason = Literal["deadline", "timeout", "stream_timeout", "closed"]
T = TypeVar("T")
E = TypeVar("E", bound=Exception)


class CallGuard:
    """One call's time limits, and the hook ``aclose()`` uses to stop it.

    ``gap`` bounds the time to the first data event and between data events (a stream's
    ``timeout``: :meth:`progress` moves it on); ``total`` bounds the whole call. The call sets
    ``task`` while it waits on the network; a limit that fires then cancels that task, and
    :meth:`cancelled` turns the cancellation into the typed error. A limit that fires while
    the caller is elsewhere is raised at its next read (``fired`` is set).
    """

    __slots__ = (
        "_cancel_sent",
        "_cancelling",
        "_due",
        "_end",
        "_gap",
        "_handle",
        "_loop",
        "_on_stop",
        "_total",
        "base_url",
        "fired",
        "model",
        "task",
    )

    def __init__(
        self,
        *,
        gap: float | None,
        total: float | None,
        model: str | None,
        base_url: str,
        on_stop: Callable[[CallGuard], None] | None = None,
    ) -> None:
        self._loop = loop = asyncio.get_running_loop()
        now = loop.time()
        self._gap = gap
        self._total = total
        self._due = math.inf if gap is None else now + gap
        self._end = math.inf if total is None else now + total
        self._cancelling = 0
        self._cancel_sent = False
        self._on_stop = on_stop
        self.base_url = base_url
        self.model = model
        self.fired: Reason | None = None
        self.task: asyncio.Task[Any] | None = None
        when = min(self._due, self._end)
        self._handle = None if when == math.inf else loop.call_at(when, self._expire)

    def progress(self) -> None:
        """A data event arrived: the gap starts again."""
        if self._gap is not None:
            self._due = self._loop.time() + self._gap

    def _expire(self) -> None:
        now = self._loop.time()
        when = min(self._due, self._end)
        if now < when:
            self._handle = self._loop.call_at(when, self._expire)
            return
        self._handle = None
        self.abort(
            "stream_timeout"
            if self._end <= now and self._gap is not None
            else "timeout"
            if self._gap is not None
            else "deadline"
        )

    def abort(self, reason: Reason) -> None:
        """Stop the call: at once if it waits on the network, else at its next check."""
        if self.fired is not None:
            return
        self.fired = reason
        task = self.task
        if task is not None and not task.done():
            self._cancelling = task.cancelling()
            self._cancel_sent = True
            task.cancel()

    async def watch(
        self,
        step: Awaitable[T],
        errors: type[E] | tuple[type[E], ...],
        translate: Callable[[E], ProviderError],
    ) -> T:
        """Await ``step``, a wait on the network a limit of ours may cut short. A limit that
        fires meanwhile wins over whatever the step then raised (its cancellation, or one of
        ``errors``, which ``translate`` types otherwise); a cancellation from anyone else
        propagates. The error is raised outside the ``except`` block: no implicit context."""
        failure: ProviderError | None = None
        self.task = asyncio.current_task()
        try:
            return await step
        except errors as exc:
            failure = self.cancelled() or translate(exc)
        except asyncio.CancelledError:
            failure = self.cancelled()
            if failure is None:
                raise
        finally:
            self.task = None
        assert failure is not None  # set by whichever except clause ran; a return leaves earlier
        raise failure

    def cancelled(self) -> ProviderError | None:
        """Where the call fails (a cancellation, or a transport error that won the race with
        our cancellation): our error when a limit of ours fired and nobody else cancelled the
        task, else None (re-raise what was caught). Takes our cancellation back."""
        if self.fired is None:
            return None
        task = self.task
        if self._cancel_sent and task is not None:
            self._cancel_sent = False
            if task.uncancel() > self._cancelling:
                return None
        return self.error()

    def error(self) -> ProviderError:
        reason = self.fired
        gap, total = self._gap, self._total
        if reason == "closed":
            return ProviderClosedError(
                f"this LiteLLMProvider for {self.base_url} was closed with aclose() while the call was in flight",
                None,
                PROVIDER,
                model=self.model,
            )
        if reason == "timeout":
            text = f"no data event within timeout={gap:g}s"
        elif reason == "stream_timeout":
            text = f"the stream outlived stream_timeout={total:g}s"
        else:
            text = f"the reply did not complete within deadline={total:g}s"
        return ProviderTimeoutError(
            f"LiteLLM proxy at {self.base_url} did not answer in time ({text}); the connection was dropped",
            None,
            PROVIDER,
            model=self.model,
            limit=reason,
        )

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._on_stop is not None:
            self._on_stop(self)
            self._on_stop = None
