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
* anything else     echoes the last user message
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RETRY_AFTER_SECONDS = 7
TINY_CONTEXT_WORDS = 40


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
            self._stream(model, reply, usage, created, "midstream" in model)
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

    def _stream(self, model: str, reply: str, usage: dict[str, int], created: int, fail: bool) -> None:
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

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.requests: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

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
    import sys

    srv = FakeUpstream(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(srv.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
