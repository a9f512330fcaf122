"""The aiohttp transport under the provider: every aiohttp failure is the typed error that says
what happened (class, ``retryable``, message, no key anywhere in the chain); only a connection
that could not be opened is tried again; pool slots, idle connections, early exits,
cancellation and ``aclose()`` leave nothing behind. respx never runs aiohttp code, so these
talk to raw loopback servers."""

from __future__ import annotations

import asyncio
import gc
import http.server
import json
import socket
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from muxer_litellm import LiteLLMProvider, ProviderError, ProviderTimeoutError, ProviderUnavailableError
from muxer_litellm.proxy.aiohttp_transport import AiohttpTransport, _headers, _str_headers, _translate, close_response
from muxer_litellm.proxy.limits import FRAMING, framing
from muxer_litellm.proxy.transport import DEFAULT_TIMEOUT, ProxyTransport, check_api_key
from muxer_litellm.settings import LiteLLMSettings
from tests.unit.replies import API_KEY, chat_body

HELLO = [{"role": "user", "content": "hi"}]
MODEL = "gpt-test"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def reply(body: bytes, *, status: str = "200 OK", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


CHAT_REPLY = reply(json.dumps(chat_body()).encode(), extra="x-litellm-response-cost: 0.0001\r\n")


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One whole HTTP/1.1 request (head and Content-Length body); b"" at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


class RawServer:
    """A loopback server running ``handler`` per connection; counts connections and requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the test's loop ends while this handler still waits
            pass
        finally:
            writer.close()

    async def read(self, reader: asyncio.StreamReader) -> bytes:
        request = await read_request(reader)
        if request:
            self.requests += 1
        return request

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()


def chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__]
    return seen


def assert_no_key(exc: BaseException) -> None:
    for each in chain(exc):
        assert API_KEY not in str(each), each
        assert API_KEY not in repr(each), each
        for arg in each.args:
            assert API_KEY not in repr(arg)


def provider_for(url: str, **options: object) -> LiteLLMProvider:
    return LiteLLMProvider(url, API_KEY, **options)  # type: ignore[arg-type]


def pool(provider: LiteLLMProvider) -> AiohttpTransport:
    transport = provider._transport.client._transport
    assert isinstance(transport, AiohttpTransport)
    return transport


# ------------------------------------------------------------------ the mapping, class by class

_request_info = aiohttp.RequestInfo(
    url=URL("http://127.0.0.1:4000/v1/chat/completions"),
    method="POST",
    headers=CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {API_KEY}"})),
)
_key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 4000, False, True, None, None, None)

MAPPING = [
    # aiohttp exception, httpx class, ProviderError class, retryable, words in the message
    (
        aiohttp.ClientConnectorError(_key, ConnectionRefusedError(111, "Connect call failed")),
        httpx.ConnectError,
        ProviderUnavailableError,
        True,
        "not reachable",
    ),
    (
        aiohttp.ConnectionTimeoutError("Connection timeout to host"),
        httpx.ConnectTimeout,
        ProviderTimeoutError,
        True,
        "did not answer in time",
    ),
    (
        aiohttp.SocketTimeoutError("Timeout on reading data from socket"),
        httpx.ReadTimeout,
        ProviderTimeoutError,
        True,
        "did not answer in time",
    ),
    (
        aiohttp.ServerDisconnectedError(),
        httpx.RemoteProtocolError,
        ProviderUnavailableError,
        True,
        "dropped the connection",
    ),
    (
        aiohttp.ClientPayloadError("Response payload is not completed"),
        httpx.RemoteProtocolError,
        ProviderUnavailableError,
        True,
        "dropped the connection",
    ),
    (
        aiohttp.ClientResponseError(_request_info, (), status=400, message="Invalid status line"),
        httpx.RemoteProtocolError,
        ProviderUnavailableError,
        True,
        "dropped the connection",
    ),
    (
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        httpx.ReadError,
        ProviderUnavailableError,
        True,
        "dropped the connection",
    ),
]


@pytest.mark.parametrize(
    ("exc", "httpx_class", "error_class", "retryable", "words"),
    MAPPING,
    ids=[type(m[0]).__name__ for m in MAPPING],
)
def test_each_aiohttp_failure_becomes_the_typed_error_that_says_what_happened(
    exc: Exception,
    httpx_class: type[httpx.TransportError],
    error_class: type[ProviderError],
    retryable: bool,
    words: str,
) -> None:
    request = httpx.Request("POST", "http://127.0.0.1:4000/v1/chat/completions")
    translated = _translate(exc, request)
    assert type(translated) is httpx_class
    assert str(translated).startswith(type(exc).__name__)
    assert translated.__cause__ is None
    transport = ProxyTransport("http://127.0.0.1:4000", check_api_key(API_KEY), timeout=DEFAULT_TIMEOUT)
    error = transport.chained(transport.transport_error(translated, MODEL), translated)
    assert type(error) is error_class
    assert error.retryable is retryable
    assert words in str(error)
    assert type(exc).__name__ in str(error)
    assert_no_key(error)


def test_a_cause_whose_chain_quotes_the_key_is_not_chained() -> None:
    inner = aiohttp.ClientResponseError(_request_info, (), status=400, message="bad")
    assert API_KEY in repr(inner)  # aiohttp's repr quotes the request headers
    outer = httpx.RemoteProtocolError("broken reply")
    outer.__context__ = inner
    transport = ProxyTransport("http://127.0.0.1:4000", check_api_key(API_KEY), timeout=DEFAULT_TIMEOUT)
    error = transport.chained(transport.transport_error(outer, MODEL), outer)
    assert error.__cause__ is None
    assert_no_key(error)


# ------------------------------------------------------------------ real sockets


async def test_a_server_that_closes_after_reading_received_exactly_one_request(
    serve: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    async def read_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)

    server = await serve(read_then_close)
    async with provider_for(server.url) as provider:
        with pytest.raises(ProviderUnavailableError) as caught:
            await provider.chat_completion(HELLO, MODEL)
        assert server.requests == 1
        assert server.connections == 1
        assert "dropped the connection (RemoteProtocolError: ServerDisconnectedError" in str(caught.value)
        assert "it may have received the request, so it was not retried" in str(caught.value)
        assert pool(provider).in_use == 0
        assert_no_key(caught.value)


async def test_a_refused_connection_is_not_reachable_and_tried_once_more() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    async with provider_for(f"http://127.0.0.1:{port}") as provider:
        sends = 0
        real = pool(provider).handle_async_request

        async def counting(request: httpx.Request) -> httpx.Response:
            nonlocal sends
            sends += 1
            return await real(request)

        pool(provider).handle_async_request = counting  # type: ignore[method-assign]
        with pytest.raises(ProviderUnavailableError) as caught:
            await provider.chat_completion(HELLO, MODEL)
        assert sends == 2
        assert str(caught.value).startswith(f"LiteLLM proxy not reachable at http://127.0.0.1:{port} (ConnectError:")
        assert caught.value.retryable is True
        assert pool(provider).in_use == 0
        assert_no_key(caught.value)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"id":', "ClientPayloadError"),
        (b"not http at all\r\n\r\n", "ClientResponseError"),
    ],
    ids=["body-cut-short", "malformed-status-line"],
)
async def test_a_broken_reply_is_a_dropped_connection_not_retried(
    serve: Callable[[Handler], Awaitable[RawServer]], answer: bytes, words: str
) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        writer.write(answer)
        await writer.drain()

    server = await serve(broken)
    async with provider_for(server.url) as provider:
        with pytest.raises(ProviderUnavailableError) as caught:
            await provider.chat_completion(HELLO, MODEL)
        assert server.requests == 1
        assert "dropped the connection (RemoteProtocolError:" in str(caught.value)
        assert words in str(caught.value)
        assert pool(provider).in_use == 0
        assert_no_key(caught.value)


async def test_a_silent_server_is_a_read_timeout(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        await asyncio.sleep(5)

    server = await serve(silent)
    # deadline: the whole call's, above the transport; longer, so the read timeout speaks.
    async with provider_for(server.url, timeout=httpx.Timeout(0.2), deadline=5.0) as provider:
        with pytest.raises(ProviderTimeoutError) as caught:
            await provider.chat_completion(HELLO, MODEL)
        assert "did not answer in time (ReadTimeout:" in str(caught.value)
        assert server.requests == 1
        assert pool(provider).in_use == 0
        assert_no_key(caught.value)


async def test_a_stream_that_stalls_midway_is_a_timeout_that_frees_the_connection(
    serve: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    async def stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        frame = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
        writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        await writer.drain()
        await asyncio.sleep(5)

    server = await serve(stalls)
    async with provider_for(server.url, timeout=httpx.Timeout(0.3), deadline=5.0) as provider:
        with pytest.raises(ProviderTimeoutError) as caught:
            async with provider.stream_chat_completion(HELLO, MODEL) as stream:
                async for _ in stream:
                    pass
        # The transport's read timeout and the stream's gap deadline above it are the same 0.3 s.
        assert "ReadTimeout" in str(caught.value) or "no data event within timeout=0.3s" in str(caught.value)
        assert pool(provider).in_use == 0
        assert_no_key(caught.value)


async def test_a_server_that_stops_reading_a_large_body_is_a_write_timeout(
    serve: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await serve(never_reads)
    big = [{"role": "user", "content": "x" * 8_000_000}]  # far more than the socket buffers hold
    timeout = httpx.Timeout(5.0, connect=0.2, write=0.2, read=0.2)
    async with provider_for(server.url, timeout=timeout, deadline=5.0) as provider:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ProviderTimeoutError) as caught:
            await provider.chat_completion(big, MODEL)
        assert asyncio.get_running_loop().time() - started < 3.0
        assert "did not answer in time (WriteTimeout: the request body was not written within 0.2 s)" in str(
            caught.value
        )
        assert pool(provider).in_use == 0
        assert_no_key(caught.value)


async def test_a_wait_for_a_pool_slot_is_a_typed_timeout(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read(reader):
            await release.wait()
            writer.write(CHAT_REPLY)
            await writer.drain()

    server = await serve(slow)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with provider_for(server.url, limits=limits, timeout=httpx.Timeout(5.0, pool=0.2)) as provider:
        first = asyncio.create_task(provider.chat_completion(HELLO, MODEL))
        await asyncio.sleep(0.05)
        with pytest.raises(ProviderTimeoutError) as caught:
            await provider.chat_completion(HELLO, MODEL)
        assert "no free connection" in str(caught.value)
        assert "PoolTimeout" in str(caught.value)
        assert caught.value.retryable is True
        release.set()
        assert (await first).choices[0].message.content
        assert server.requests == 1
        assert pool(provider).in_use == 0
        assert_no_key(caught.value)


async def test_streams_closed_early_and_cancelled_calls_free_their_connection(
    serve: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    async def streams(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read(reader):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for _ in range(3):
                frame = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
                writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            await writer.drain()
            await asyncio.sleep(5)

    server = await serve(streams)
    async with provider_for(server.url, limits=httpx.Limits(max_connections=2)) as provider:
        for _ in range(3):  # more early exits than connections: each one gave its slot back
            async with provider.stream_chat_completion(HELLO, MODEL) as stream:
                async for _ in stream:
                    break
        assert pool(provider).in_use == 0
        calls = [asyncio.create_task(provider.chat_completion(HELLO, MODEL)) for _ in range(4)]
        await asyncio.sleep(0.1)
        assert pool(provider).in_use == 2
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        assert pool(provider).in_use == 0
        assert pool(provider).idle == 0  # a connection with unread bytes is closed, never reused


async def test_idle_connections_are_retired_and_bounded(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read(reader):
            await asyncio.sleep(0.05)
            writer.write(CHAT_REPLY)
            await writer.drain()

    server = await serve(answers)
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=1, keepalive_expiry=0.3)
    async with provider_for(server.url, limits=limits) as provider:
        await asyncio.gather(*(provider.chat_completion(HELLO, MODEL) for _ in range(4)))
        assert server.connections == 4
        assert pool(provider).idle == 1  # at most max_keepalive_connections kept
        await provider.chat_completion(HELLO, MODEL)
        assert server.connections == 4  # the kept one was reused
        await asyncio.sleep(0.5)
        await provider.chat_completion(HELLO, MODEL)
        assert server.connections == 5  # past keepalive_expiry: a new connection
        assert server.requests == 6


async def test_aclose_closes_the_session_it_opened(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read(reader):
            writer.write(CHAT_REPLY)
            await writer.drain()

    server = await serve(answers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        provider = provider_for(server.url)
        await provider.chat_completion(HELLO, MODEL)
        session = pool(provider)._session
        assert session is not None
        await provider.aclose()
        assert session.closed
        del session, provider
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_provider_used_from_two_event_loops_opens_a_session_in_each() -> None:
    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.wfile.write(CHAT_REPLY)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider = provider_for(f"http://127.0.0.1:{server.server_address[1]}")
        assert asyncio.run(provider.chat_completion(HELLO, MODEL)).choices[0].message.content
        first = pool(provider)._session
        # A new loop: the first loop's session (and its connections) is dropped, not reused.
        assert asyncio.run(provider.chat_completion(HELLO, MODEL)).choices[0].message.content
        assert pool(provider)._session is not first
        assert first is not None
        assert first.closed
        asyncio.run(provider.aclose())
    finally:
        server.shutdown()
        server.server_close()
        gc.collect()  # the sockets asyncio.run left open with the first loop, collected under this filter


# ------------------------------------------------------------------ choosing the transport


async def test_the_transport_is_chosen_by_argument_and_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    async with LiteLLMProvider("http://127.0.0.1:4000") as default:
        assert isinstance(default._transport.client._transport, AiohttpTransport)
    async with LiteLLMProvider("http://127.0.0.1:4000", http_transport="httpx") as plain:
        assert isinstance(plain._transport.client._transport, httpx.AsyncHTTPTransport)
    monkeypatch.setenv("LITELLM_HTTP_TRANSPORT", "httpx")
    async with LiteLLMProvider.from_settings() as configured:
        assert isinstance(configured._transport.client._transport, httpx.AsyncHTTPTransport)
    monkeypatch.setenv("LITELLM_HTTP_TRANSPORT", "curl")
    with pytest.raises(ValueError, match="http_transport"):
        LiteLLMSettings()


async def test_a_callers_client_is_used_as_is() -> None:
    client = httpx.AsyncClient()
    try:
        async with LiteLLMProvider.from_settings(http_client=client) as provider:
            assert provider._transport.client is client
        assert not client.is_closed
        with pytest.raises(ValueError, match="not both"):
            LiteLLMProvider("http://127.0.0.1:4000", http_client=client, http_transport="aiohttp")
        with pytest.raises(ValueError, match="'aiohttp' or 'httpx'"):
            LiteLLMProvider("http://127.0.0.1:4000", http_transport="curl")  # type: ignore[arg-type]
    finally:
        await client.aclose()


@pytest.mark.parametrize("value", [b"search", "\u00e9quipe".encode(), b"\xe9quipe"], ids=["ascii", "utf-8", "latin-1"])
def test_request_headers_reach_aiohttp_as_httpx_decodes_them(value: bytes) -> None:
    headers = httpx.Headers([(b"Authorization", b"Bearer sk-1"), (b"X-Team", value)])
    sent = _str_headers(headers)
    assert [name for name, _ in sent] == ["Authorization", "X-Team"]  # names as the caller wrote them
    assert [(name.lower(), text) for name, text in sent] == headers.multi_items()


@pytest.mark.parametrize(
    "extra",
    [
        "",
        "Set-Cookie: route=blue; Path=/\r\n",
        "content-encoding: identity\r\nCONTENT-ENCODING: gzip\r\nset-cookie2: a=1\r\n",
    ],
    ids=["plain", "a-cookie", "two-encodings-and-cookie2"],
)
async def test_the_framing_aiohttp_parsed_is_what_the_headers_say(
    serve: Callable[[Handler], Awaitable[RawServer]], extra: str
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        writer.write(reply(b"{}", extra=extra))
        await writer.drain()

    server = await serve(answer)
    transport = AiohttpTransport()
    try:
        response = await transport.handle_async_request(httpx.Request("GET", f"{server.url}/health"))
        parsed = response.extensions[FRAMING]
        await response.aclose()
    finally:
        await transport.aclose()
    scanned = framing(httpx.Response(200, headers=response.headers))  # the same headers, read by the scan
    assert parsed == scanned
    assert parsed.sets_cookie is ("ookie" in extra)
    assert parsed.length == "2"


@pytest.mark.parametrize(
    "raw",
    [
        ((b"Content-Type", b"application/json"), (b"X-LiteLLM-Call-Id", b"abc")),
        ((b"set-cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"x-team", "\u00e9quipe".encode())),
        (),
    ],
    ids=["mixed-case", "repeated-and-utf8", "none"],
)
def test_reply_headers_are_what_httpx_makes_of_them(raw: tuple[tuple[bytes, bytes], ...]) -> None:
    ours, theirs = _headers(raw), httpx.Headers(list(raw))
    assert ours.raw == theirs.raw
    assert ours.multi_items() == theirs.multi_items()
    assert ours.get_list("set-cookie") == theirs.get_list("set-cookie")


def test_a_url_is_parsed_once_for_every_request_built_from_it() -> None:
    transport = AiohttpTransport()
    url = httpx.URL("http://127.0.0.1:4000/v1/chat/completions")
    first = transport._url(httpx.Request("POST", url).url)  # a Request holds a copy of the URL it is given
    assert transport._url(httpx.Request("POST", url).url) is first
    assert first == URL("http://127.0.0.1:4000/v1/chat/completions")
    other = transport._url(httpx.Request("GET", httpx.URL("http://127.0.0.1:4000/health?x=%2F")).url)
    assert str(other) == "http://127.0.0.1:4000/health?x=%2F"  # as sent: not decoded


async def test_closing_a_reply_frees_its_connection_once(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        writer.write(reply(b"{}"))
        await writer.drain()

    server = await serve(answer)
    transport = AiohttpTransport()
    try:
        response = await transport.handle_async_request(httpx.Request("GET", f"{server.url}/health"))
        assert transport.in_use == 1
        await close_response(response)
        assert response.is_closed
        assert transport.in_use == 0
        await close_response(response)  # a second close gives nothing back twice
        assert transport.in_use == 0
    finally:
        await transport.aclose()
    other = httpx.Response(200, stream=httpx.ByteStream(b"{}"))  # another transport's reply: httpx closes it
    await close_response(other)
    assert other.is_closed


@pytest.mark.parametrize(
    ("deadline", "armed"),
    [(None, 2.0), (5.0, 2.0), (2.0, None), (1, None), ("soon", 2.0)],
    ids=["no-deadline", "longer-deadline", "equal-deadline", "shorter-deadline", "not-a-number"],
)
def test_a_read_timeout_the_callers_deadline_beats_is_not_armed(deadline: object, armed: float | None) -> None:
    timeout = AiohttpTransport()._timeout({"connect": 1.0, "read": 2.0, "write": 2.0, "pool": 2.0}, deadline)
    assert timeout.sock_read == armed
    assert timeout.sock_connect == 1.0
    assert timeout.total is None


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "ua/1", "Accept": "*/*", "Accept-Encoding": "gzip", "Content-Type": "application/json"},
        {"Accept": "text/event-stream"},
        {},
    ],
    ids=["all-of-aiohttps-own", "some", "none"],
)
async def test_the_request_goes_out_with_the_headers_httpx_built_and_no_others(
    serve: Callable[[Handler], Awaitable[RawServer]], headers: dict[str, str]
) -> None:
    received: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await server.read(reader))
        writer.write(reply(b"{}"))
        await writer.drain()

    server = await serve(answer)
    transport = AiohttpTransport()
    request = httpx.Request("POST", f"{server.url}/v1/chat/completions", headers=headers, content=b"{}")
    try:
        await close_response(await transport.handle_async_request(request))
    finally:
        await transport.aclose()
    head = received[0].split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    sent = sorted(tuple(line.decode().lower().split(": ", 1)) for line in head)
    assert sent == sorted((name, value.lower()) for name, value in request.headers.multi_items())
