"""A fast OpenAI-compatible server that answers like the LiteLLM proxy, for benchmarks.

Run: ``python benchmarks/fast_server.py [--port N] [--chunks 200] [--pace-us N]``; it prints
``READY <port>`` once it listens. It runs in its own process so that its CPU is never counted
as the client's. Raw asyncio (uvloop when installed), HTTP/1.1 keep-alive, every reply
precomputed: the server should cost the machine as little as possible and never be the
bottleneck. A stream goes out in one write, so the client reads many events per read.

``--pace-us N`` instead sends each stream event on its own and waits N microseconds before
the next (blocking sockets, a thread per connection, as timers on an event loop cannot wait
less than a millisecond): the client then reads one event per read, like a real LLM stream,
and pays the event loop's wake-up per chunk.

What it answers, in the proxy's shapes (litellm 1.106): ``POST /v1/chat/completions`` (a
JSON reply with ``x-litellm-response-cost``, ``x-litellm-call-id``, ``x-litellm-model-id``
and the other ``x-litellm-*`` headers; with ``"stream": true``, ``--chunks`` SSE events
sent as HTTP chunks, the last one carrying ``usage`` with ``cost``, then ``[DONE]``),
``GET /model/info``, ``GET /v1/models``, ``/health/readiness`` and ``/health/liveliness``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import threading
import time
from typing import Any

MODEL = "gpt-4o-mini"
CREATED = 1_700_000_000
ANSWER = (
    "Paris is the capital of France. It sits on the Seine, has about two million people in the "
    "city proper, and is known for the Louvre, the Eiffel Tower and its cafes."
)


def _headers(status: str, content_type: str, extra: dict[str, str], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", "server: fast-proxy", "date: Tue, 14 Nov 2023 22:13:20 GMT"]
    lines.append(f"content-type: {content_type}")
    lines += [f"{k}: {v}" for k, v in extra.items()]
    lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_reply(status: str, body: Any, extra: dict[str, str] | None = None) -> bytes:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return _headers(status, "application/json", extra or {}, len(raw)) + raw


#: The headers the proxy puts on every model call (values as litellm 1.106 sends them).
PROXY_HEADERS = {
    "x-litellm-call-id": "5e1f6a0c-3b9d-4c62-9a57-2f0c1d8e7b44",
    "x-litellm-model-id": "c3a9f1d27e4b5a6c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e",
    "x-litellm-model-api-base": "https://api.openai.com/v1",
    "x-litellm-version": "1.106.2",
    "x-litellm-key-spend": "0.0",
    "x-litellm-response-duration-ms": "412.301",
    "x-litellm-overhead-duration-ms": "3.127",
    "x-litellm-attempted-retries": "0",
    "x-litellm-attempted-fallbacks": "0",
    "llm_provider-x-request-id": "req_6b1f0b6a2c3d4e5f",
}
USAGE = {
    "completion_tokens": 38,
    "prompt_tokens": 25,
    "total_tokens": 63,
    "completion_tokens_details": None,
    "prompt_tokens_details": None,
}
COST = 0.00002655


def chat_reply() -> bytes:
    body = {
        "id": "chatcmpl-9f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "created": CREATED,
        "model": MODEL,
        "object": "chat.completion",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [
            {
                "finish_reason": "stop",
                "index": 0,
                "message": {
                    "content": ANSWER,
                    "role": "assistant",
                    "tool_calls": None,
                    "function_call": None,
                    "annotations": [],
                },
                "provider_specific_fields": {},
            }
        ],
        "usage": USAGE,
        "service_tier": "default",
    }
    return _json_reply("200 OK", body, {**PROXY_HEADERS, "x-litellm-response-cost": str(COST)})


def stream_reply(chunks: int) -> list[bytes]:
    """``chunks`` data events (the last one with usage and cost), then ``[DONE]``; each event
    is its own HTTP chunk, as the proxy (uvicorn) writes them."""
    words = (ANSWER + " ") * (chunks // 30 + 1)
    tokens = words.split(" ")
    base = {"id": "chatcmpl-9f1e2d3c4b5a69788796a5b4c3d2e1f0", "created": CREATED, "model": MODEL}
    events: list[dict[str, Any]] = []
    for i in range(chunks - 1):
        delta: dict[str, Any] = {"content": tokens[i] if i == 0 else " " + tokens[i]}
        if i == 0:
            delta["role"] = "assistant"
        finish = "stop" if i == chunks - 2 else None
        events.append(
            {
                **base,
                "object": "chat.completion.chunk",
                "system_fingerprint": "fp_0ba0d124f1",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                "provider_specific_fields": None,
            }
        )
    usage = {**USAGE, "completion_tokens": chunks - 1, "total_tokens": 25 + chunks - 1, "cost": COST}
    events.append({**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}}], "usage": usage})
    out = [_headers("200 OK", "text/event-stream", {**PROXY_HEADERS, "cache-control": "no-cache"}, None)]
    for frame in [f"data: {json.dumps(e, separators=(',', ':'))}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]:
        out.append(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
    out.append(b"0\r\n\r\n")
    return out


def model_info_reply() -> bytes:
    entry = {
        "model_name": MODEL,
        "litellm_params": {"model": f"openai/{MODEL}"},
        "model_info": {
            "id": PROXY_HEADERS["x-litellm-model-id"],
            "mode": "chat",
            "input_cost_per_token": 1.5e-07,
            "output_cost_per_token": 6e-07,
            "max_input_tokens": 128000,
            "max_output_tokens": 16384,
            "supports_function_calling": True,
            "supports_vision": True,
        },
    }
    return _json_reply("200 OK", {"data": [entry]})


class Replies:
    def __init__(self, chunks: int) -> None:
        self.chat = chat_reply()
        self.stream_parts = stream_reply(chunks)
        self.stream = b"".join(self.stream_parts)
        self.routes = {
            (b"GET", b"/model/info"): model_info_reply(),
            (b"GET", b"/v1/models"): _json_reply(
                "200 OK", {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "openai"}]}
            ),
            (b"GET", b"/health/readiness"): _json_reply("200 OK", {"status": "connected", "db": "Not connected"}),
            (b"GET", b"/health/liveliness"): _json_reply("200 OK", "I'm alive!"),
        }
        self.not_found = _json_reply("404 Not Found", {"error": {"message": "Not Found", "type": None, "code": "404"}})
        self.bad = _json_reply("400 Bad Request", {"error": {"message": "chunked bodies not supported", "code": "400"}})

    def answer(self, method: bytes, path: bytes, body: bytes) -> bytes:
        path = path.split(b"?", 1)[0]
        if method == b"POST" and path in (b"/v1/chat/completions", b"/chat/completions"):
            return self.stream if b'"stream":true' in body or b'"stream": true' in body else self.chat
        return self.routes.get((method, path), self.not_found)


def split_requests(buffer: bytes) -> tuple[list[tuple[bytes, bytes, bytes]], bytes, bool]:
    """The complete requests at the start of ``buffer`` as (method, path, body), the rest,
    and whether a request came with a chunked body (not supported: close the connection)."""
    requests: list[tuple[bytes, bytes, bytes]] = []
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return requests, buffer, False
        lines = buffer[:end].split(b"\r\n")
        method, path = lines[0].split(b" ", 2)[:2]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                return requests, b"", True
        total = end + 4 + length
        if len(buffer) < total:
            return requests, buffer, False
        requests.append((method, path, buffer[end + 4 : total]))
        buffer = buffer[total:]


class Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining; bodies by Content-Length."""

    def __init__(self, replies: Replies) -> None:
        self.replies = replies
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        requests, self.buffer, chunked = split_requests(self.buffer + data)
        for method, path, body in requests:
            if self.transport is not None:
                self.transport.write(self.replies.answer(method, path, body))
        if chunked and self.transport is not None:
            self.transport.write(self.replies.bad)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def serve_paced(port: int, chunks: int, pace: float) -> None:
    """Blocking sockets, a thread per connection, each stream event sent on its own."""
    replies = Replies(chunks)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    print(f"READY {listener.getsockname()[1]}", flush=True)

    def handle(conn: socket.socket) -> None:
        # A client that leaves a stream early closes its connection: that ends this thread.
        with contextlib.suppress(ConnectionError):
            serve_connection(conn)

    def serve_connection(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(65536):
                requests, buffer, chunked = split_requests(buffer + data)
                for method, path, body in requests:
                    reply = replies.answer(method, path, body)
                    if reply is not replies.stream:
                        conn.sendall(reply)
                        continue
                    head, *events = replies.stream_parts
                    conn.sendall(head)
                    for event in events:
                        time.sleep(pace)
                        conn.sendall(event)
                if chunked:
                    conn.sendall(replies.bad)
                    return

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


async def serve(port: int, chunks: int) -> None:
    replies = Replies(chunks)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(replies), "127.0.0.1", port, backlog=1024)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--pace-us", type=float, default=0.0, help="send stream events one by one, this far apart")
    args = parser.parse_args()
    if args.pace_us > 0:
        try:
            serve_paced(args.port, args.chunks, args.pace_us / 1e6)
        except KeyboardInterrupt:
            sys.exit(0)
        return
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(serve(args.port, args.chunks))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
