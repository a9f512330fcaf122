"""A tiny OpenAI-compatible upstream that the integration tests run on loopback.

The real LiteLLM proxy forwards to it (``model: openai/<name>`` + ``api_base``), so the
tests exercise the proxy's real header, cost, streaming and error behaviour without any
network. Behaviour is chosen by the upstream model name, so one server serves every case:

* ``*tool*``        answers with a tool call for the first tool in the request
* ``*ratelimit*``   429 with ``retry-after: 7``
* ``*broken*``      500
* ``*tiny*``        400 context_length_exceeded once the prompt passes 40 words
* ``*policy*``      400 content_policy_violation
* ``*midstream*``   streams one chunk, then an error frame
* ``*refuse*``      answers "I'm sorry, I can't help with that." (for cascade tests)
* anything else     echoes the last user message (``echo: <text>``; a per-request nonce in
  the prompt comes back in the answer, which is how the load test matches answers to calls)

A fault directive in the last user message works on any model, so the session proxy's models
serve new faults without new proxy config (a proxy costs ~12 s to start):

* ``[fault:slow=S]``         wait S seconds before answering (chat, or a stream's first byte)
* ``[fault:slow-stream=S]``  stream the first chunk, then wait S seconds before the rest
* ``[fault:hold]``           wait until the test calls ``release_held()`` (at most
  ``HOLD_LIMIT`` s), so a call stays in flight exactly as long as the test needs
* ``[fault:hold-stream]``    stream the first chunk, then wait like ``hold``
* ``[fault:nonjson]``        200 with an HTML body instead of JSON

Held and slow requests are released, never left to pile up: the proxy keeps its upstream
connection busy for as long as the upstream waits.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RETRY_AFTER_SECONDS = 7
TINY_CONTEXT_WORDS = 40
HOLD_LIMIT = 60.0
_FAULT = re.compile(r"\[fault:([a-z-]+)(?:=([0-9.]+))?\]")
NON_JSON_BODY = b"<html><body><h1>Welcome to nginx!</h1></body></html>"


def fault_of(messages: list[dict[str, Any]]) -> tuple[str | None, float]:
    """The ``[fault:name=arg]`` directive in the last user message: (name, arg or 0)."""
    last_user = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
    found = _FAULT.search(_text_of(last_user.get("content")))
    if found is None:
        return None, 0.0
    return found.group(1), float(found.group(2) or 0)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _usage(messages: list[dict[str, Any]], reply: str) -> dict[str, int]:
    prompt = sum(len(_text_of(m.get("content")).split()) for m in messages) + 3 * len(messages)
    completion = max(1, len(reply.split()))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeUpstream

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "fake-chat", "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append({"path": self.path, "body": body})
        if self.path.endswith("/embeddings"):
            self._embeddings(body)
        elif self.path.endswith("/chat/completions"):
            self._chat(body)
        else:
            self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(str(t))), 0.5, -0.25]}
            for i, t in enumerate(items)
        ]
        tokens = sum(len(str(t).split()) for t in items)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _chat(self, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        messages = body.get("messages") or []
        fault, arg = fault_of(messages)
        if fault in ("slow", "hold"):
            self.server.pause(fault, arg)
        if fault == "nonjson":
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(NON_JSON_BODY)))
            self.end_headers()
            self.wfile.write(NON_JSON_BODY)
            return
        if "ratelimit" in model:
            self._send_json(
                429,
                {"error": {"message": "upstream says slow down", "type": "rate_limit_error", "code": "rate_limited"}},
                {"retry-after": str(RETRY_AFTER_SECONDS)},
            )
            return
        if "tiny" in model and sum(len(_text_of(m.get("content")).split()) for m in messages) > TINY_CONTEXT_WORDS:
            self._send_json(
                400,
                {
                    "error": {
                        "message": "This model's maximum context length is 64 tokens. "
                        "However, your messages resulted in 900 tokens.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "context_length_exceeded",
                    }
                },
            )
            return
        if "policy" in model:
            self._send_json(
                400,
                {
                    "error": {
                        "message": "Your request was rejected as a result of our safety system. "
                        "content_policy_violation",
                        "type": "invalid_request_error",
                        "code": "content_policy_violation",
                    }
                },
            )
            return
        if "broken" in model:
            self._send_json(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
            return
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        if "refuse" in model:
            reply = "I'm sorry, I can't help with that."
        else:
            reply = f"echo: {_text_of(last_user.get('content'))}"
        tools = body.get("tools") or []
        tool_calls = None
        if tools and ("tool" in model or body.get("tool_choice") not in (None, "none")):
            name = tools[0]["function"]["name"]
            tool_calls = [
                {"id": "call_1", "type": "function", "function": {"name": name, "arguments": '{"city": "Paris"}'}}
            ]
        usage = _usage(messages, reply)
        created = int(time.time())
        if body.get("stream"):
            midway = fault[: -len("-stream")] if fault in ("slow-stream", "hold-stream") else None
            self._stream(model, reply, usage, created, "midstream" in model, midway, arg)
            return
        message: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else reply}
        if tool_calls:
            message["tool_calls"] = tool_calls
        self._send_json(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
                "usage": usage,
            },
        )

    def _stream(
        self,
        model: str,
        reply: str,
        usage: dict[str, int],
        created: int,
        fail: bool,
        pause: str | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()

        def frame(obj: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(obj)}\n\n".encode())
            self.wfile.flush()

        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model}
        words = reply.split(" ")
        for i, word in enumerate(words):
            delta: dict[str, Any] = {"content": word if i == 0 else " " + word}
            if i == 0:
                delta["role"] = "assistant"
            frame({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            if i == 0 and pause is not None:
                self.server.pause(pause, seconds)
            if fail:
                frame({"error": {"message": "upstream died mid-stream", "type": "server_error", "code": 500}})
                self.close_connection = True
                return
        frame({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        frame({**base, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


class FakeUpstream(ThreadingHTTPServer):
    """Threaded loopback server; ``requests`` records every POST body it received."""

    daemon_threads = True
    # Load tests open ~100 connections at once; the socketserver default backlog (5) would
    # drop SYNs and add 1 s retransmits.
    request_queue_size = 256

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.requests: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._held = threading.Condition()
        self._generation = 0

    def pause(self, kind: str, seconds: float) -> None:
        """``slow``: sleep; ``hold``: wait for :meth:`release_held` (or ``HOLD_LIMIT``)."""
        if kind == "slow":
            time.sleep(seconds)
            return
        with self._held:
            generation = self._generation
            self._held.wait_for(lambda: self._generation != generation, timeout=HOLD_LIMIT)

    def release_held(self) -> None:
        """Let every request waiting on ``[fault:hold]`` / ``[fault:hold-stream]`` go on."""
        with self._held:
            self._generation += 1
            self._held.notify_all()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that hung up (a proxy that timed out or was killed) is expected in fault
        tests: stay quiet about it; anything else is still printed."""
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)

    def start(self) -> FakeUpstream:
        self._thread = threading.Thread(target=self.serve_forever, name="fake-upstream", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


if __name__ == "__main__":  # pragma: no cover - manual use
    srv = FakeUpstream(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(srv.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
