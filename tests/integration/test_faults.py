"""Reliability: one test per fault, against the real LiteLLM proxy.

Each test asserts the typed error (exact class, ``retryable``, the message's key words) or the
recovered answer, and afterwards that the provider's pool lent nothing out and keeps no
half-closed socket (``WatchedProvider.assert_released`` in conftest.py counts both from
outside the provider's code). Slow and stuck upstreams are ``[fault:...]`` directives in the
prompt (tests/fake_upstream.py), so the session proxy serves them; only the kill/restart case
starts proxies of its own.

Timing: nothing here waits for a fixed sleep to make a call be "in flight". Held requests
(``[fault:hold]``) stay at the upstream until the test has seen them arrive and releases them,
so the tests hold on a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from muxer_litellm import (
    AuthenticationError,
    LiteLLMProvider,
    NotAProxyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm._stream import ChatStream
from muxer_litellm.proxy.transport import KEEPALIVE_EXPIRY
from muxer_litellm.settings import HttpTransport
from tests.fake_upstream import RETRY_AFTER_SECONDS, FakeUpstream
from tests.integration.conftest import (
    HAS_PROC,
    NEWER_REPLIES,
    PASSES_RETRY_AFTER,
    QUOTES_UPSTREAM_BODY,
    STREAM_COST,
    WatchedProvider,
    proxy_config,
)
from tests.litellm_proxy import LiteLLMProxy, free_port, litellm_executable

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not HAS_PROC, reason="counting open sockets needs Linux /proc"),
]

HELLO = [{"role": "user", "content": "hello there friend"}]
MODEL = "cheap-chat"
#: For calls that must succeed: the proxy then absorbs its own spurious 500 on an upstream
#: connection it reused after the upstream closed it (litellm 1.106/1.108).
RETRIES: dict[str, Any] = {"num_retries": 2}
#: Generous: the proxy, the upstream and the tests share 2 busy cores.
ARRIVAL_DEADLINE = 90.0


def prompt(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c.get("delta", {}).get("content") or "" for chunk in chunks for c in chunk.get("choices", []))


async def drain(stream: ChatStream) -> list[dict[str, Any]]:
    async with stream:
        return [chunk async for chunk in stream]


def seen_by_upstream(upstream: FakeUpstream, tag: str) -> int:
    """How many chat requests whose last message contains ``tag`` reached the upstream."""
    count = 0
    for request in list(upstream.requests):
        messages = request["body"].get("messages") or [{}]
        if tag in str(messages[-1].get("content")):
            count += 1
    return count


async def wait_until(condition: Callable[[], bool], what: str, deadline: float = ARRIVAL_DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline:.0f}s waiting until {what}")
        await asyncio.sleep(0.05)


async def raised(call: Coroutine[Any, Any, Any]) -> BaseException:
    """The exception ``call`` raises (the test fails if it returns)."""
    try:
        result = await call
    except BaseException as exc:
        return exc
    pytest.fail(f"expected an error, got {result!r}")


# ---------------------------------------------------------------------- the proxy itself


async def test_proxy_not_running_is_unavailable_after_exactly_one_retry(http_transport: HttpTransport) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    async with WatchedProvider(base_url, "sk-anything", http_transport=http_transport) as watched:
        provider = watched.provider
        err = await raised(provider.chat_completion(HELLO, "cheap-chat"))
        assert type(err) is ProviderUnavailableError
        assert err.retryable is True
        assert err.status_code is None
        assert f"LiteLLM proxy not reachable at {base_url}" in str(err)
        assert "ConnectError" in str(err)
        # The connection could not be opened, so the proxy never saw the request: one more try, no more.
        assert watched.transport.sent == 2

        streamed = await raised(drain(provider.stream_chat_completion(HELLO, "cheap-chat")))
        assert type(streamed) is ProviderUnavailableError
        assert streamed.retryable is True
        assert "not reachable" in str(streamed)
        assert watched.transport.sent == 4

        assert await provider.health_check() is False
        assert "not reachable" in (provider.last_health_error or "")
        await watched.assert_released()
        assert watched.sockets() == []


def _kill_group(proxy: LiteLLMProxy) -> None:
    """SIGKILL, not stop(): a crash gives in-flight requests no graceful shutdown."""
    assert proxy.pid is not None
    os.killpg(proxy.pid, signal.SIGKILL)


async def test_proxy_killed_with_calls_and_streams_in_flight_then_restarted_the_same_provider_recovers(
    holding_upstream: FakeUpstream,
    tmp_path: Path,
    proxy_version: tuple[int, int, int],
    http_transport: HttpTransport,
) -> None:
    """Two providers on one proxy: ``busy`` has calls and streams in flight when the proxy is
    killed, ``idle`` only keep-alive connections in its pool. Both recover after the restart,
    and neither sends anything twice."""
    if litellm_executable() is None:
        pytest.skip("litellm[proxy] is not installed")
    upstream = holding_upstream
    key = f"sk-test-{secrets.token_hex(8)}"
    config = proxy_config(upstream.base_url, key)
    config["litellm_settings"]["num_retries"] = 2
    config["router_settings"]["num_retries"] = 2
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = LiteLLMProxy(config, tmp_path / "first", key)
    second = LiteLLMProxy(config, tmp_path / "second", key, port=first.port)
    try:
        await asyncio.to_thread(first.start)
        async with (
            WatchedProvider(first.base_url, key, http_transport=http_transport) as busy,
            WatchedProvider(first.base_url, key, http_transport=http_transport) as idle,
        ):
            # Fill idle's pool with 20 keep-alive connections (held at the upstream until all 20
            # are open, so none is reused).
            warm = secrets.token_hex(6)
            warming = [
                asyncio.ensure_future(idle.provider.chat_completion(prompt(f"{warm} {i} [fault:hold]"), MODEL))
                for i in range(20)
            ]
            await wait_until(lambda: seen_by_upstream(upstream, warm) == 20, "20 warm-up calls reach the upstream")
            upstream.release_held()
            await asyncio.gather(*warming)
            assert idle.sockets() == ["ESTABLISHED"] * 20

            provider = busy.provider
            tag = secrets.token_hex(6)
            first_chunks: list[dict[str, Any]] = []

            async def midway(i: int) -> None:
                stream = provider.stream_chat_completion(prompt(f"{tag} midway {i} [fault:hold-stream]"), MODEL)
                async for chunk in stream:
                    first_chunks.append(chunk)

            in_flight = (
                [
                    asyncio.ensure_future(provider.chat_completion(prompt(f"{tag} call {i} [fault:hold]"), MODEL))
                    for i in range(3)
                ]
                + [
                    asyncio.ensure_future(
                        drain(provider.stream_chat_completion(prompt(f"{tag} early {i} [fault:hold]"), MODEL))
                    )
                    for i in range(3)
                ]
                + [asyncio.ensure_future(midway(i)) for i in range(3)]
            )
            await wait_until(
                lambda: seen_by_upstream(upstream, tag) == 9 and len(first_chunks) == 3,
                "9 calls reach the upstream and 3 streams get their first chunk",
            )
            assert busy.transport.sent == 9

            _kill_group(first)
            errors = await asyncio.gather(*in_flight, return_exceptions=True)
            for err in errors:
                assert type(err) is ProviderUnavailableError, err
                assert err.retryable is True
                assert err.status_code is None
                assert f"LiteLLM proxy at {first.base_url} dropped the connection" in str(err)
                assert "may have received the request" in str(err)
                # The same errors a keep-alive connection closed under a request would give.
                assert isinstance(err.__cause__, (httpx.RemoteProtocolError, httpx.ReadError))
            assert text_of(first_chunks) == "echo:" * 3
            # Each had reached the proxy (the upstream saw it), so none was sent twice.
            assert busy.transport.sent == 9
            assert seen_by_upstream(upstream, tag) == 9
            first.stop()  # reap the killed group
            upstream.release_held()
            await busy.assert_released()
            assert busy.sockets() == []

            # idle's pooled connections were closed by the dead proxy: httpx's wait half-closed in
            # its pool, aiohttp closes each one as soon as its peer has.
            gone = [] if http_transport == "aiohttp" else ["CLOSE_WAIT"] * 20
            await wait_until(lambda: idle.sockets() == gone, "idle's 20 connections are closed by the proxy")

            await asyncio.to_thread(second.start)
            back = secrets.token_hex(6)
            response = await idle.provider.chat_completion(prompt(f"{back} idle"), MODEL, **RETRIES)
            assert response.choices[0].message.content == f"echo: {back} idle"
            # No error and no retry: both pools check a pooled connection before reusing it and
            # drop one whose peer has closed, so a stale keep-alive connection costs nothing.
            assert idle.transport.sent == 21
            assert idle.sockets() == ["ESTABLISHED"]  # the 20 stale ones are gone

            # The provider that lost its calls answers again, calls and streams alike.
            response = await provider.chat_completion(prompt(f"{back} busy"), MODEL, **RETRIES)
            assert response.choices[0].message.content == f"echo: {back} busy"
            chunks = await drain(provider.stream_chat_completion(prompt(f"{back} streamed"), MODEL, **RETRIES))
            assert text_of(chunks) == f"echo: {back} streamed"
            assert chunks[-1]["router_metadata"]["cost_source"] == (
                "proxy" if proxy_version >= STREAM_COST else "catalog"
            )
            assert await provider.health_check() is True
            await busy.assert_released()
            await idle.assert_released()
    finally:
        upstream.release_held()
        first.stop()
        second.stop()


async def test_a_pooled_connection_is_retired_before_a_busy_proxy_closes_it(
    litellm_proxy: LiteLLMProxy, fake_upstream: FakeUpstream, http_transport: HttpTransport
) -> None:
    """The proxy (uvicorn) closes a connection idle for 5 s. A proxy too busy to read in time
    can close one under a request we just wrote: a ReadError, for a request nobody served.
    Pausing the proxy (SIGSTOP) plays that busy proxy, deterministically. With httpx's default
    keep-alive (5 s, the provider's before) the call fails; the provider's pool retires idle
    connections after KEEPALIVE_EXPIRY (1 s), long before the proxy does, and is served."""
    assert KEEPALIVE_EXPIRY < 2.0
    pid = litellm_proxy.pid
    assert pid is not None
    base_url, key = litellm_proxy.base_url, litellm_proxy.master_key
    before = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # keepalive_expiry=5.0
    async with (
        LiteLLMProvider(base_url, key, http_transport=http_transport) as fixed,
        LiteLLMProvider(base_url, key, limits=before, http_transport=http_transport) as old,
    ):
        await asyncio.gather(*(p.chat_completion(HELLO, MODEL, **RETRIES) for p in (fixed, old)))
        idle_since = time.monotonic()
        tag = secrets.token_hex(6)
        await asyncio.sleep(3.0)
        os.killpg(pid, signal.SIGSTOP)
        try:
            # Resumed after the proxy's 5 s keep-alive timer is due; we write at 3.5 s idle, when
            # the old pool still reuses its connection (margins of 1.5 s for a slow test machine).
            resume = asyncio.get_running_loop().call_later(
                idle_since + 6.0 - time.monotonic(), os.killpg, pid, signal.SIGCONT
            )
            await asyncio.sleep(idle_since + 3.5 - time.monotonic())
            served, failed = await asyncio.gather(
                fixed.chat_completion(prompt(f"{tag} fixed"), MODEL, **RETRIES),
                raised(old.chat_completion(prompt(f"{tag} old"), MODEL, **RETRIES)),
            )
        finally:
            os.killpg(pid, signal.SIGCONT)
        resume.cancel()
    assert served.choices[0].message.content == f"echo: {tag} fixed"
    assert type(failed) is ProviderUnavailableError
    # httpx reads a reset; aiohttp a reset or the proxy closing the connection without an answer.
    causes = ["ReadError"] if http_transport == "httpx" else ["RemoteProtocolError: ServerDisconnected", "ReadError"]
    assert any(f"dropped the connection ({cause}" in str(failed) for cause in causes), str(failed)
    assert seen_by_upstream(fake_upstream, f"{tag} old") == 0  # the proxy never read it
    assert seen_by_upstream(fake_upstream, f"{tag} fixed") == 1


# ---------------------------------------------------------------------- upstream faults


async def test_upstream_slower_than_the_read_timeout_times_out_and_frees_the_connection(
    litellm_proxy: LiteLLMProxy, holding_upstream: FakeUpstream, http_transport: HttpTransport
) -> None:
    async with WatchedProvider(
        litellm_proxy.base_url,
        litellm_proxy.master_key,
        timeout=httpx.Timeout(4.0, connect=5.0),
        http_transport=http_transport,
    ) as watched:
        provider = watched.provider
        midway_chunks: list[dict[str, Any]] = []

        async def midway() -> None:
            async for chunk in provider.stream_chat_completion(prompt("slow midway [fault:hold-stream]"), "cheap-chat"):
                midway_chunks.append(chunk)

        errors = await asyncio.gather(
            raised(provider.chat_completion(prompt("slow call [fault:hold]"), "cheap-chat")),
            raised(drain(provider.stream_chat_completion(prompt("slow stream [fault:hold]"), "cheap-chat"))),
            raised(midway()),
        )
        for err in errors:
            assert type(err) is ProviderTimeoutError, err
            assert err.retryable is True
            assert err.status_code is None
            assert err.model == "cheap-chat"
            assert f"LiteLLM proxy at {litellm_proxy.base_url} did not answer in time" in str(err)
        # Our own limits fire first (they start before httpx's read timer): the call's deadline,
        # and a stream's time to its first (or next) data event.
        assert [getattr(err, "limit", None) for err in errors] == ["deadline", "timeout", "timeout"]
        assert text_of(midway_chunks) == "echo:"
        assert watched.transport.sent == 3  # a request that may have been served is never retried
        await watched.assert_released()

        holding_upstream.release_held()
        response = await provider.chat_completion(HELLO, "cheap-chat", **RETRIES)
        assert response.choices[0].message.content == "echo: hello there friend"
        await watched.assert_released()


async def test_429_is_a_rate_limit_with_the_upstreams_retry_after(
    watched: WatchedProvider, proxy_version: tuple[int, int, int]
) -> None:
    provider = watched.provider
    # An older proxy drops the upstream's wait: None, and routing says its cooldown is the default.
    wait = RETRY_AFTER_SECONDS if proxy_version >= PASSES_RETRY_AFTER else None
    for call in (
        provider.chat_completion(HELLO, "ratelimited-chat"),
        drain(provider.stream_chat_completion(HELLO, "ratelimited-chat")),
    ):
        err = await raised(call)
        assert type(err) is RateLimitError
        assert err.retryable is True
        assert err.status_code == 429
        assert err.retry_after == wait
        assert err.model == "ratelimited-chat"
        assert err.call_id
        assert "LiteLLM proxy returned 429: rate limited" in str(err)
        assert "upstream says slow down" in str(err)
    assert watched.transport.sent == 2
    await watched.assert_released()


async def test_upstream_500_is_unavailable_and_retryable(watched: WatchedProvider) -> None:
    provider = watched.provider
    for call in (
        provider.chat_completion(HELLO, "broken-chat"),
        drain(provider.stream_chat_completion(HELLO, "broken-chat")),
    ):
        err = await raised(call)
        assert type(err) is ProviderUnavailableError
        assert err.retryable is True
        assert err.status_code == 500
        assert err.call_id
        assert "LiteLLM proxy returned 500" in str(err)
        assert "upstream exploded" in str(err)
    assert watched.transport.sent == 2
    await watched.assert_released()


async def test_mid_stream_error_frame_raises_after_the_first_chunk(
    watched: WatchedProvider, proxy_version: tuple[int, int, int]
) -> None:
    received: list[dict[str, Any]] = []

    async def read() -> None:
        async for chunk in watched.provider.stream_chat_completion(HELLO, "midstream-chat"):
            received.append(chunk)

    err = await raised(read())
    assert type(err) is ProviderUnavailableError
    assert err.retryable is True
    assert err.status_code == (500 if proxy_version >= NEWER_REPLIES else 503)  # the frame's code
    assert err.call_id
    assert "mid-stream error from LiteLLM proxy" in str(err)
    assert "upstream died mid-stream" in str(err)
    assert text_of(received) == "echo:"
    await watched.assert_released()

    response = await watched.provider.chat_completion(HELLO, "cheap-chat", **RETRIES)
    assert response.choices[0].message.content == "echo: hello there friend"
    await watched.assert_released()


async def test_non_json_200_from_the_upstream(watched: WatchedProvider, proxy_version: tuple[int, int, int]) -> None:
    provider = watched.provider
    err = await raised(provider.chat_completion(prompt("hi [fault:nonjson]"), "cheap-chat"))
    # The proxy itself turns the upstream's HTML into a 500: naming it, or (older) with the
    # text of the AttributeError it hit reading it.
    assert type(err) is ProviderUnavailableError
    assert err.retryable is True
    assert err.status_code == 500
    if proxy_version >= NEWER_REPLIES:
        assert "invalid response" in str(err).lower()
        if proxy_version >= QUOTES_UPSTREAM_BODY:
            assert "Welcome to nginx" in str(err)
    else:
        assert "'str' object has no attribute 'model_dump'" in str(err)

    # Streaming, litellm 1.106 reads no event from the HTML and sends an empty, successful
    # stream (finish_reason "stop", no usage). The provider cannot tell that from an empty
    # answer, but it never invents usage or prices it at $0: the cost is unknown.
    async with provider.stream_chat_completion(prompt("hi [fault:nonjson]"), "cheap-chat") as stream:
        chunks = [chunk async for chunk in stream]
    assert text_of(chunks) == ""
    assert stream.ended is True
    assert stream.usage is None
    assert stream.cost is None
    assert stream.metadata is not None
    assert stream.metadata.cost_source == "unknown"
    await watched.assert_released()


# ---------------------------------------------------------------------- wrong URL, wrong key


@pytest.fixture
def serve() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Start a plain HTTP server (not LiteLLM) on loopback in a thread; returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler] | Callable[..., BaseHTTPRequestHandler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class _QuietStaticFiles(SimpleHTTPRequestHandler):
    """``python -m http.server``: files from a directory, 404 HTML pages, 501 for POST."""

    def log_message(self, format: str, *args: Any) -> None:
        return


async def test_a_static_file_server_at_base_url_is_not_a_proxy(
    serve: Callable[..., str], tmp_path: Path, http_transport: HttpTransport
) -> None:
    (tmp_path / "index.html").write_text("<html><body>my home page</body></html>")
    base_url = serve(functools.partial(_QuietStaticFiles, directory=str(tmp_path)))
    async with WatchedProvider(base_url, "sk-anything", http_transport=http_transport) as watched:
        provider = watched.provider
        cases = [
            ("/v1/chat/completions", 501, provider.chat_completion(HELLO, "cheap-chat")),
            ("/v1/chat/completions", 501, drain(provider.stream_chat_completion(HELLO, "cheap-chat"))),
            ("/model/info", 404, provider.refresh_models()),
            ("/v1/models", 404, provider.get_available_models()),
        ]
        for path, status, call in cases:
            err = await raised(call)
            assert type(err) is NotAProxyError, err
            assert err.retryable is False
            assert err.status_code == status
            assert f"no LiteLLM API at {base_url}{path}" in str(err)
            assert "LITELLM_BASE_URL" in str(err)
        assert watched.transport.sent == len(cases)  # a wrong URL is not worth a second try
        assert await provider.health_check() is False
        assert "no LiteLLM API at" in (provider.last_health_error or "")
        await watched.assert_released()


class _HtmlForEverything(BaseHTTPRequestHandler):
    """A web app's catch-all page: 200 HTML for any path and method."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _page(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        body = b"<!doctype html><html><body><div id=app></div></body></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._page()

    def do_POST(self) -> None:
        self._page()


async def test_non_json_200_at_base_url_is_a_provider_error_quoting_it(
    serve: Callable[..., str], http_transport: HttpTransport
) -> None:
    base_url = serve(_HtmlForEverything)
    async with WatchedProvider(base_url, "sk-anything", http_transport=http_transport) as watched:
        provider = watched.provider
        err = await raised(provider.chat_completion(HELLO, "cheap-chat"))
        assert type(err) is ProviderError
        assert err.retryable is False
        assert err.status_code == 200
        assert "/v1/chat/completions with a body that is not a JSON object (text/html" in str(err)
        assert "<!doctype html>" in str(err)

        streamed = await raised(drain(provider.stream_chat_completion(HELLO, "cheap-chat")))
        assert type(streamed) is ProviderError
        assert streamed.retryable is False
        assert "answered a streaming request without an event stream" in str(streamed)

        refreshed = await raised(provider.refresh_models())
        assert type(refreshed) is ProviderError
        assert "/model/info with a body that is not a JSON object" in str(refreshed)
        await watched.assert_released()


async def test_wrong_key_is_an_authentication_error_naming_the_fix(litellm_proxy: LiteLLMProxy) -> None:
    wrong = f"sk-wrong-{secrets.token_hex(8)}"
    async with WatchedProvider(litellm_proxy.base_url, wrong) as watched:
        provider = watched.provider
        for call in (
            provider.chat_completion(HELLO, "cheap-chat"),
            drain(provider.stream_chat_completion(HELLO, "cheap-chat")),
        ):
            err = await raised(call)
            assert type(err) is AuthenticationError
            assert err.retryable is False
            assert err.status_code == 400
            assert "no_db_connection" in str(err)
            assert "LITELLM_API_KEY" in str(err)
            assert wrong not in str(err)
            assert wrong not in repr(err)
        assert watched.transport.sent == 2
        assert await provider.health_check() is False
        assert wrong not in (provider.last_health_error or "")
        await watched.assert_released()


# ---------------------------------------------------------------------- cancellation


async def test_cancelling_100_calls_and_streams_in_flight_leaves_nothing_behind(
    watched: WatchedProvider, holding_upstream: FakeUpstream, recwarn: pytest.WarningsRecorder
) -> None:
    provider = watched.provider
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        tag = secrets.token_hex(6)
        first_chunks = 0

        async def midway(i: int) -> None:
            nonlocal first_chunks
            async for _chunk in provider.stream_chat_completion(
                prompt(f"{tag} midway {i} [fault:hold-stream]"), "cheap-chat"
            ):
                first_chunks += 1

        async def early(i: int) -> None:
            async for _chunk in provider.stream_chat_completion(prompt(f"{tag} early {i} [fault:hold]"), "cheap-chat"):
                pass

        tasks = (
            [
                asyncio.ensure_future(provider.chat_completion(prompt(f"{tag} call {i} [fault:hold]"), "cheap-chat"))
                for i in range(50)
            ]
            + [asyncio.ensure_future(early(i)) for i in range(25)]
            + [asyncio.ensure_future(midway(i)) for i in range(25)]
        )
        await wait_until(
            lambda: seen_by_upstream(holding_upstream, tag) == 100 and first_chunks == 25,
            "100 calls reach the upstream and 25 streams get their first chunk",
        )
        assert watched.transport.in_use == 100

        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results), {type(r).__name__ for r in results}
        del tasks, results
        gc.collect()
        await asyncio.sleep(0.2)  # let any callback the cancellation scheduled run
        gc.collect()

        assert reported == [], [c.get("message") for c in reported]
        assert [f"{w.category.__name__}: {w.message}" for w in recwarn.list] == []
        await watched.assert_released()
        assert watched.sockets().count("ESTABLISHED") <= 20
    finally:
        loop.set_exception_handler(previous)

    holding_upstream.release_held()
    response = await provider.chat_completion(HELLO, "cheap-chat", **RETRIES)
    assert response.choices[0].message.content == "echo: hello there friend"
    await watched.assert_released()
