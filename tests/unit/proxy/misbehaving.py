"""A raw-socket HTTP/1.1 server on loopback that misbehaves for some model names.

It answers ``POST /v1/chat/completions`` like the proxy for ``good`` (a JSON reply, or an
event stream when the request says ``"stream": true``), and for the other model names with
one misbehaviour each (see :data:`BEHAVIOURS`). Every loop is bounded, and a misbehaving
reply stops as soon as the client hangs up. It records, per connection, the models it served
and whether the client closed it, so a test can tell that no connection that served a
misbehaving reply was kept in the client's pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

GiB = 1024**3
PIECE = 64 * 1024


def chat_reply(model: str, content: str = "ok") -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    ).encode()


def event(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


def stream_chunk(model: str, content: str | None = None, usage: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [] if usage else [{"index": 0, "delta": {"content": content or ""}}],
    }
    if usage:
        out["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.0001}
    return out


@functools.cache
def gzip_bomb(size: int = GiB) -> bytes:
    """``size`` zero bytes (a multiple of 16 MiB), gzip-compressed: about a thousandth of the
    size on the wire. Built from one compressed 16 MiB segment repeated (each ends in a full
    flush, so each is compressed alike), so it takes a second, not a minute."""
    zeros = bytes(16 * 1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    count = size // len(zeros)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)  # the final, empty block
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + segment * count + end + struct.pack("<II", crc, size % 2**32)


@dataclass
class Connection:
    """One client connection: the models it served; ``closed`` once the client closed it."""

    models: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


Writer = asyncio.StreamWriter
Behaviour = Callable[["MisbehavingServer", Writer, str, dict[str, Any]], Awaitable[None]]


class MisbehavingServer:
    """``async with MisbehavingServer() as server``: ``server.url`` on 127.0.0.1."""

    def __init__(self, *, at_limit: int = 0) -> None:
        self.connections: list[Connection] = []
        self.at_limit = at_limit  # bytes of the ``at-limit`` model's reply
        self.answered: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._bomb: bytes | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[Writer] = set()
        self.url = ""

    async def __aenter__(self) -> MisbehavingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):  # the handlers then end on their own
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self._server.wait_closed()

    def bomb(self) -> bytes:
        if self._bomb is None:
            self._bomb = gzip_bomb()
        return self._bomb

    def served(self, model: str) -> list[Connection]:
        return [c for c in self.connections if model in c.models]

    async def all_closed(self, model: str, within: float = 2.0) -> bool:
        """Every connection that served ``model`` was closed by the client (not kept pooled)."""
        connections = self.served(model)
        assert connections, f"no connection served {model!r}"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                for c in connections:
                    await c.closed.wait()
        return all(c.closed.is_set() for c in connections)

    # ------------------------------------------------------------------ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        conn = Connection()
        self.connections.append(conn)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    conn.closed.set()  # the client closed the connection
                    break
                body = json.loads(request) if request else {}
                model = str(body.get("model", ""))
                conn.models.append(model)
                behaviour = BEHAVIOURS.get(model, _good)
                if model in ("good", "at-limit"):  # a sound reply: the connection is kept alive
                    await behaviour(self, writer, model, body)
                    self.answered[model] = self.answered.get(model, 0) + 1
                    continue
                # Misbehave until the client hangs up (or the bounded behaviour ends), then close.
                watcher = asyncio.ensure_future(_hangup(reader))
                runner = asyncio.ensure_future(behaviour(self, writer, model, body))
                await asyncio.wait({watcher, runner}, return_when=asyncio.FIRST_COMPLETED)
                if not watcher.done():  # all of it was sent: wait (bounded) for the client to hang up
                    await asyncio.wait({watcher}, timeout=5)
                hung_up = watcher.done() or (
                    runner.done() and not runner.cancelled() and isinstance(runner.exception(), ConnectionError)
                )
                if hung_up:
                    conn.closed.set()
                for task in (watcher, runner):
                    task.cancel()
                await asyncio.gather(watcher, runner, return_exceptions=True)
                break
        except (ConnectionError, asyncio.IncompleteReadError):
            conn.closed.set()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)
            self._writers.discard(writer)


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return await reader.readexactly(length) if length else b""


async def _hangup(reader: asyncio.StreamReader) -> None:
    """Returns when the client closes the connection (it sends nothing while it waits)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(PIECE):
            pass


def _head(status: int = 200, *, length: int | None = None, **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} OK", "connection: keep-alive", "x-litellm-response-cost: 0.0001"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"content-length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# ---------------------------------------------------------------------- behaviours


async def _good(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    if body.get("stream"):
        payload = event(stream_chunk(model, "ok")) + event(stream_chunk(model, usage=True)) + b"data: [DONE]\n\n"
        writer.write(_head(content_type="text/event-stream", length=len(payload)) + payload)
    else:
        payload = chat_reply(model)
        writer.write(_head(content_type="application/json", length=len(payload)) + payload)
    await writer.drain()


async def _at_limit(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    """A valid reply of exactly ``server.at_limit`` bytes (JSON padded with spaces)."""
    payload = chat_reply(model)
    payload += b" " * (server.at_limit - len(payload))
    writer.write(_head(content_type="application/json", length=len(payload)) + payload)
    await writer.drain()


async def _drip(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    """200 with a JSON body that arrives one byte at a time (bounded: at most 2 minutes)."""
    writer.write(_head(content_type="application/json", length=100_000))
    for _ in range(600):
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.2)


async def _huge(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    """200 with a 1 GiB JSON answer."""
    writer.write(_head(content_type="application/json", length=GiB) + b'{"id": "')
    piece = b"x" * PIECE
    for _ in range(GiB // PIECE):
        writer.write(piece)
        await writer.drain()


async def _endless_line(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    """An event stream whose one ``data:`` line never ends (1 GiB without a newline)."""
    writer.write(_head(content_type="text/event-stream") + b"data: ")
    piece = b"x" * PIECE
    for _ in range(GiB // PIECE):
        writer.write(piece)
        await writer.drain()


async def _gzip_bomb(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    """About 1 MiB of gzip on the wire that inflates to 1 GiB."""
    bomb = server.bomb()
    writer.write(_head(content_type="application/json", content_encoding="gzip", length=len(bomb)))
    for start in range(0, len(bomb), PIECE):
        writer.write(bomb[start : start + PIECE])
        await writer.drain()


async def _slow_stream(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    """A valid stream that sends one chunk every half second and never finishes (bounded: 2 minutes)."""
    writer.write(_head(content_type="text/event-stream", transfer_encoding="chunked"))
    for i in range(240):
        data = event(stream_chunk(model, f"t{i} "))
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.5)


async def _pings_only(server: MisbehavingServer, writer: Writer, model: str, body: dict[str, Any]) -> None:
    """An event stream of keep-alive comments and no data (bounded: 2 minutes)."""
    writer.write(_head(content_type="text/event-stream", transfer_encoding="chunked"))
    for _ in range(600):
        data = b": ping\n\n"
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)


BEHAVIOURS: dict[str, Behaviour] = {
    "good": _good,
    "at-limit": _at_limit,
    "drip": _drip,
    "huge": _huge,
    "endless-line": _endless_line,
    "gzip-bomb": _gzip_bomb,
    "slow-stream": _slow_stream,
    "pings-only": _pings_only,
}
