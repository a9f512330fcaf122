"""Reading the proxy's server-sent events as OpenAI chunk dicts.

A streamed answer is parsed once per chunk, so this is the hot loop of streaming. Framing
is done here, on bytes: each read is split into events once (no text decoding, no object per
line), the common event (one ``data: `` line) is sliced out directly, and orjson parses the
JSON from those bytes. This replaced httpx-sse, whose line-by-line text path and ``json.loads``
per chunk were most of a stream's client CPU.

The framing rules (WHATWG "event stream interpretation"): a line ends in CRLF, LF or CR, also
when a read splits a CRLF in two; a blank line ends an event; a line starting with ``:`` is a
comment; ``data:`` lines join with ``\\n`` and lose one space after the colon; other fields
(``event``, ``id``, ``retry``) are ignored, as the proxy sends none that matter; an event not
ended by a blank line when the stream ends is dropped; a leading byte-order mark is skipped.
On top: ``[DONE]``, error frames inside a 200 stream, size and time limits (:mod:`.limits`),
and usage/cost accounting.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import httpx
import orjson

from .._utils import redact
from ..errors import ProviderError
from .limits import BodyDecoder, CallGuard, too_large

__all__ = ["SKIP", "EventReader", "EventTooLargeError", "SSEDecoder", "StreamUsage"]

ErrorFactory = Callable[[dict[str, Any]], ProviderError]

_BOM = b"\xef\xbb\xbf"
_DONE = b"[DONE]"
#: Returned by :meth:`FrameReader.chunk` for an event with no data (a keep-alive, say).
SKIP: Final[dict[str, Any]] = {}


class EventTooLargeError(Exception):
    """An event (complete, or still buffering without an end) is longer than the limit."""


class SSEDecoder:
    """Incremental event-stream framing: bytes in, each complete event's data out.

    ``limit`` bounds one event: an event longer than that, or that many bytes buffered
    without completing an event (a ``data:`` line that never ends), raise EventTooLargeError.
    """

    __slots__ = ("_buffer", "_cr", "_limit", "_started")

    def __init__(self, limit: int = 2**62) -> None:
        self._buffer = bytearray()  # an unfinished event
        self._cr = False  # the last read ended in CR: a line end, or half of a CRLF
        self._started = False
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        """The data of every event that ``data`` completes, in order."""
        if (
            data[:6] == b"data: "
            and data.find(b"\n") == len(data) - 2
            and data[-1:] == b"\n"
            and not self._buffer
            and self._started
            and b"\r" not in data
            and not self._cr
            and len(data) <= self._limit
        ):
            return [data[6:-2]]  # the usual read: exactly one event of one data line
        if self._cr:
            data = b"\r" + data
            self._cr = False
        if b"\r" in data:
            if data[-1:] == b"\r":
                data = data[:-1]
                self._cr = True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        limit = self._limit
        if not self._started:
            buffer = bytes(self._buffer) + data
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = bytearray(buffer)
                return []
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]
            self._started = True
        elif self._buffer:
            # Appended in place, and only the new bytes searched (from the held bytes' last one,
            # where an event end may begin): a long unfinished event costs linear time.
            held = self._buffer
            start = len(held) - 1
            held += data
            if held.find(b"\n\n", start) < 0:
                if len(held) > limit:
                    raise EventTooLargeError
                return []
            buffer = bytes(held)
        else:
            buffer = data
        if b"\n\n" not in buffer:
            if len(buffer) > limit:
                raise EventTooLargeError
            self._buffer = bytearray(buffer)
            return []
        *events, rest = buffer.split(b"\n\n")
        if len(rest) > limit:
            raise EventTooLargeError
        self._buffer = bytearray(rest)
        out: list[bytes] = []
        for event in events:
            if len(event) > limit:
                raise EventTooLargeError
            if event[:6] == b"data: " and b"\n" not in event:  # the proxy's frames: one data line
                out.append(event[6:])
            elif event:
                found = _event_data(event)
                if found is not None:
                    out.append(found)
        return out

    def flush(self) -> list[bytes]:
        """At the end of the stream: a final CR still ends a line (an unfinished event is dropped)."""
        if not self._cr:
            return []
        self._cr = False
        return self.feed(b"\n")


def _event_data(event: bytes) -> bytes | None:
    """The data of one event of several lines (comments, other fields, many ``data:`` lines)."""
    data: list[bytes] = []
    for line in event.split(b"\n"):
        if not line or line[:1] == b":":
            continue
        name, _, value = line.partition(b":")
        if name == b"data":
            data.append(value[1:] if value[:1] == b" " else value)
    return b"\n".join(data) if data else None


class EventReader:
    """The reader of a streamed reply: network reads, decoded with a bound, framed into
    events, each event's data turned into a chunk dict with the proxy's rules.

    Refuses a reply that is not an event stream when created. :meth:`read` returns the data
    of the events one network read completes (often none: a comment, half an event), None
    once the body has ended; a transport failure is a typed error, an event longer than
    ``event_limit`` (or that many bytes without completing one) a ReplyTooLargeError, and a
    limit of ``guard`` that fires the error it names. ``chunk`` returns the JSON object,
    ``SKIP`` for an empty frame, None at ``[DONE]``; an ``{"error": ...}`` frame raises
    ``on_error_frame(frame)``, and a frame that is not a JSON object a ProviderError quoting it.
    """

    __slots__ = (
        "_body",
        "_call_id",
        "_done",
        "_encoding",
        "_events",
        "_guard",
        "_limit",
        "_model",
        "_on_error_frame",
        "_on_transport_error",
        "_pieces",
        "_secrets",
        "_status",
        "_utf8",
    )

    def __init__(
        self,
        response: httpx.Response,
        *,
        on_error_frame: ErrorFactory,
        on_transport_error: Callable[[httpx.HTTPError], ProviderError],
        model: str,
        call_id: str | None,
        guard: CallGuard,
        event_limit: int,
        secrets: Sequence[str] = (),
    ) -> None:
        self._on_error_frame = on_error_frame
        self._on_transport_error = on_transport_error
        self._secrets = secrets
        self._model = model
        self._call_id = call_id
        self._guard = guard
        self._limit = event_limit
        self._status = response.status_code
        content_type = response.headers.get("content-type", "").partition(";")[0]
        if "text/event-stream" not in content_type:
            raise self._error(
                "LiteLLM proxy answered a streaming request without an event stream: Expected response "
                f"header Content-Type to contain 'text/event-stream', got {content_type!r}"
            )
        self._encoding = response.encoding or "utf-8"
        self._utf8 = self._encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        self._events = SSEDecoder(event_limit)
        self._done = False
        if response.is_stream_consumed:  # a body already read (a mock transport's): from memory, decoded
            self._body = None
            self._pieces = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
        else:  # the raw bytes, and a bounded decoder when there is a Content-Encoding to undo
            try:
                self._body = BodyDecoder.for_response(response)
            except ValueError as exc:
                raise self._error(f"LiteLLM proxy sent a stream with an {exc}") from None
            self._pieces = cast(AsyncGenerator[bytes, None], response.aiter_raw())

    async def read(self) -> list[bytes] | None:
        """The data of the events the next read completes; None after the end of the body."""
        body = self._body
        if body is not None:
            piece = body.piece()  # a compressed read inflates a bounded piece at a time
            if piece:
                return self._frames(piece)
        guard = self._guard
        if guard.fired is not None:
            raise guard.error()
        try:
            raw = await guard.watch(anext(self._pieces), httpx.HTTPError, self._on_transport_error)
        except StopAsyncIteration:
            if self._done:
                return None
            self._done = True
            return self._events.flush()
        if body is not None:
            body.feed(raw)
            return self._frames(body.piece())
        return self._frames(raw)

    def _frames(self, data: bytes) -> list[bytes]:
        try:
            frames = self._events.feed(data)
        except EventTooLargeError:
            frames = None
        if frames is None:
            error = too_large("max_event_bytes", self._limit, "a stream event", self._model, self._status)
            error.call_id = self._call_id
            raise error
        if frames:
            self._guard.progress()
        return frames

    async def aclose(self) -> None:
        await self._pieces.aclose()

    def _redact(self, text: str) -> str:
        """A broken frame is quoted in the error: never with a key the proxy echoed in it."""
        return redact(text, self._secrets)

    def _error(self, message: str) -> ProviderError:
        return ProviderError(message, self._status, "litellm", model=self._model, call_id=self._call_id)

    def chunk(self, data: bytes) -> dict[str, Any] | None:
        if data == _DONE:
            return None
        if not self._utf8:
            return self._slow(data)
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._slow(data)
        if type(value) is not dict or ("error" in value and not value.get("choices")):
            return self._checked(value, data)
        return value

    def _slow(self, data: bytes) -> dict[str, Any] | None:
        """What orjson refuses: blanks around the JSON, another charset, invalid UTF-8
        (replaced, as a text decoder would), NaN."""
        text = data.decode(self._encoding, errors="replace").strip()
        if not text:
            return SKIP
        if text == "[DONE]":
            return None
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise self._error(
                f"LiteLLM proxy sent a stream frame that is not JSON: {self._redact(text[:200])!r}"
            ) from None
        return self._checked(value, data)

    def _checked(self, value: Any, data: bytes) -> dict[str, Any]:
        if type(value) is not dict:
            text = data.decode(self._encoding, errors="replace").strip()
            raise self._error(
                f"LiteLLM proxy sent a stream frame that is not a JSON object: {self._redact(text[:200])!r}"
            )
        if "error" in value and not value.get("choices"):
            raise self._on_error_frame(value)
        return value


#: More tokens than any call can have: a count above it is garbage, not usage.
MAX_TOKENS = 2**53


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_TOKENS


@dataclass
class StreamUsage:
    """The latest ``usage`` seen in a stream (providers may repeat it; the last one counts)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    proxy_cost: Any = None
    seen: bool = False

    def observe(self, chunk: dict[str, Any]) -> bool:
        """Record the chunk's usage; True when it carried any."""
        usage = chunk.get("usage")
        if not isinstance(usage, dict):
            return False
        prompt: int = usage.get("prompt_tokens")  # type: ignore[assignment]  # checked just below
        completion: int = usage.get("completion_tokens")  # type: ignore[assignment]
        if not (_count(prompt) and _count(completion)):
            return False  # a usage we cannot bill on is no usage (the cost stays unknown, never 0)
        self.prompt_tokens, self.completion_tokens = prompt, completion
        total = usage.get("total_tokens")
        self.total_tokens = total if _count(total) else prompt + completion
        self.proxy_cost = usage.get("cost")
        self.seen = True
        return True

    def as_dict(self) -> dict[str, int] | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens if self.total_tokens is not None else 0,
        }
