"""An OpenAI-compatible upstream on loopback with a latency and a rate limit per model, for the
adaptive-routing integration tests and ``benchmarks/adaptive.py``.

Each upstream model name has a :class:`Behaviour`: ``latency`` seconds before it answers (or
streams its first chunk) and, optionally, ``limit`` requests per fixed ``window`` seconds.
Every answer of a limited model carries OpenAI's headers (``x-ratelimit-limit-requests``,
``x-ratelimit-remaining-requests``, ``x-ratelimit-reset-requests`` as a duration string such as
``"1.234s"``); a request over the limit gets a 429 with them and ``retry-after``. Behaviours
may change while it runs (``set``), and it counts what it did (``answered``, ``refused``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Behaviour", "LimitedUpstream"]


@dataclass(frozen=True, slots=True)
class Behaviour:
    latency: float = 0.0
    limit: int | None = None
    window: float = 2.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LimitedUpstream

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        model = str(body.get("model", ""))
        behaviour = self.server.behaviour(model)
        status, headers = self.server.admit(model, behaviour)
        if status == 429:
            self._send(
                429,
                {"error": {"message": "rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
                headers,
            )
            return
        time.sleep(behaviour.latency)
        usage = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
        if body.get("stream"):
            self._stream(model, usage, headers)
            return
        reply = {
            "id": "chatcmpl-limited",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": usage,
        }
        self._send(200, reply, headers)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, usage: dict[str, int], headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        base = {
            "id": "chatcmpl-limited",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        frames = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
        ]
        for frame in frames:
            payload = f"data: {json.dumps(frame)}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        done = b"data: [DONE]\n\n"
        self.wfile.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")


class LimitedUpstream(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviours: dict[str, Behaviour], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self._lock = threading.Lock()
        self._behaviours = dict(behaviours)
        self._started = time.monotonic()
        self._windows: dict[str, tuple[int, int]] = {}  # model -> (window number, requests in it)
        self.answered: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def set(self, model: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._behaviours[model] = behaviour

    def behaviour(self, model: str) -> Behaviour:
        with self._lock:
            return self._behaviours.get(model, Behaviour())

    def to_next_window(self, window: float) -> float:
        """Seconds until the next ``window`` boundary (windows count from the server's start)."""
        return window - (time.monotonic() - self._started) % window

    def reset_counts(self) -> None:
        with self._lock:
            self.answered.clear()
            self.refused.clear()

    def admit(self, model: str, behaviour: Behaviour) -> tuple[int, dict[str, str]]:
        """200 or 429 for one request, with the rate-limit headers to send."""
        with self._lock:
            if behaviour.limit is None:
                self.answered[model] += 1
                return 200, {}
            elapsed = time.monotonic() - self._started
            number = int(elapsed // behaviour.window)
            current, used = self._windows.get(model, (number, 0))
            if current != number:
                used = 0
            used += 1
            self._windows[model] = (number, used)
            reset = (number + 1) * behaviour.window - elapsed
            headers = {
                "x-ratelimit-limit-requests": str(behaviour.limit),
                "x-ratelimit-remaining-requests": str(max(0, behaviour.limit - used)),
                "x-ratelimit-reset-requests": f"{reset:.3f}s",
            }
            if used > behaviour.limit:
                self.refused[model] += 1
                return 429, {**headers, "retry-after": f"{max(1, round(reset))}"}
            self.answered[model] += 1
            return 200, headers

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that went away mid-answer is not a test failure

    def start(self) -> LimitedUpstream:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
