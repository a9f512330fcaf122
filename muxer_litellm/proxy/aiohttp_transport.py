"""An ``httpx`` transport that sends over aiohttp: httpx's API above, aiohttp's connection pool below.

httpx's own pool (httpcore on anyio) costs several times the CPU per request of aiohttp's at a
gateway's concurrency (docs/performance.md). This transport keeps everything above the wire in
httpx (requests, responses, event hooks, cookies, respx in tests) and hands only the exchange
to an ``aiohttp.ClientSession``, opened on first use in the running event loop.

What httpx promises holds here too, because every aiohttp failure becomes the httpx exception
that says what happened, decided from aiohttp's exception class, never from a guess:

* ``ConnectError``/``ConnectTimeout`` only when no connection was opened, so nothing was sent
  (aiohttp's ``ClientConnectorError`` and ``ConnectionTimeoutError``); the one case a caller
  may safely send again;
* ``RemoteProtocolError`` when the server closed the connection or sent a broken reply after
  the request went out (``ServerDisconnectedError``, ``ClientPayloadError``, a malformed
  status line or header), ``ReadError`` for a reset, ``ReadTimeout`` for a read deadline;
* ``PoolTimeout`` when no connection came free within the pool timeout.

The httpx exception carries aiohttp's class name and text, not the aiohttp exception itself:
aiohttp's ``repr`` of a failed reply quotes the request headers, credentials included.

``httpx.Limits`` and ``httpx.Timeout`` map as follows: ``max_connections`` bounds connections
in use (a slot is held from sending until the response is closed; waiting for one is bounded
by the ``pool`` timeout), ``max_keepalive_connections`` bounds idle ones,
``keepalive_expiry`` retires an idle connection (aiohttp's ``keepalive_timeout``); ``connect``
bounds opening a connection (``sock_connect``), ``read`` each wait for reply bytes
(``sock_read``; not armed when the request's :data:`~.limits.DEADLINE` is no longer: the
caller's own deadline fires first, and aiohttp re-arms the timer on every read). aiohttp has
no write deadline and starts the read one only once the body is written, so a body too big to
buffer at once is sent under a deadline of connect + write + read: past it, the write took
longer than ``write`` (``WriteTimeout``). Proxy environment variables are not read.

Besides httpx's ``http_version`` and ``reason_phrase``, a response's ``extensions`` carry its
:class:`~.limits.Framing` (length, encoding, cookies) read from aiohttp's already parsed headers,
so the provider does not scan httpx's copy for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from typing import Any

import aiohttp
import httpx
from yarl import URL

from .limits import DEADLINE, FRAMING, Framing

__all__ = ["AiohttpTransport", "close_response"]

_URL_CACHE_SIZE = 256
#: asyncio's default write buffer high-water mark: a body up to this size is buffered at once,
#: so its write cannot stall; a larger one can, when the server stops reading.
_BUFFERED_BODY = 64 * 1024


def _write_deadline(timeouts: dict[str, float | None]) -> float | None:
    """connect + write + read, when all three are bounded."""
    parts = (timeouts.get("connect"), timeouts.get("write"), timeouts.get("read"))
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def _str_headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    """The request's headers as aiohttp takes them, names as sent, decoded as httpx would:
    ASCII when they all are (working out httpx's encoding first costs as much again)."""
    raw = headers.raw
    try:
        return [(name.decode("ascii"), value.decode("ascii")) for name, value in raw]
    except UnicodeDecodeError:
        encoding = headers.encoding
        return [(name.decode(encoding), value.decode(encoding)) for name, value in raw]


#: The headers aiohttp adds to a request that lacks them; an httpx request is sent as it is.
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
_AUTO_NAMES = frozenset(name.lower().encode() for name in _AUTO_HEADERS)
_LOWER_NAME = operator.itemgetter(1)  # of an httpx.Headers entry: (name, lower-case name, value)


def _not_to_add(headers: httpx.Headers) -> tuple[str, ...] | None:
    """The headers aiohttp must not add to this request (``skip_auto_headers``): those it lacks.
    None when it has them all, as the provider's requests do (aiohttp's skip costs a copy of
    every request's headers)."""
    names = set(map(_LOWER_NAME, headers._list))
    if names >= _AUTO_NAMES:
        return None
    return tuple(name for name in _AUTO_HEADERS if name.lower().encode() not in names)


def _headers(raw: tuple[tuple[bytes, bytes], ...]) -> httpx.Headers:
    """``httpx.Headers(raw)`` for headers as received (bytes): the same (name as sent, lower-case
    name, value) entries, without its per-header type checks and conversions."""
    headers = httpx.Headers()
    headers._list = [(name, name.lower(), value) for name, value in raw]
    return headers


def _translate(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for an aiohttp failure, with aiohttp's class and text as message."""
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    kind: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout  # raised only while opening a connection: nothing sent
    elif isinstance(exc, TimeoutError):  # aiohttp's SocketTimeoutError and other read deadlines
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError  # refused, unresolvable, TLS handshake: nothing sent
    elif isinstance(exc, aiohttp.InvalidURL):
        kind = httpx.UnsupportedProtocol
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError
    else:  # a reset or any other failure after the connection opened: the request may have arrived
        kind = httpx.ReadError
    return kind(message, request=request)


class _Body(httpx.AsyncByteStream):
    """A reply's body, read from aiohttp; closing it frees the connection and its pool slot.

    Read to the end, the connection goes back to the pool; closed early, it is closed (its
    unread bytes make it unusable). Its own iterator, not an async generator: one object
    fewer per call."""

    __slots__ = ("_owner", "_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, owner: AiohttpTransport, request: httpx.Request) -> None:
        self._response: aiohttp.ClientResponse | None = response
        self._owner = owner
        self._request = request

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        response = self._response
        if response is None:
            raise httpx.StreamClosed()
        failure: httpx.TransportError | None = None
        try:
            chunk = await response.content.readany()
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = _translate(exc, self._request)
        if failure is not None:
            raise failure  # outside the except block: aiohttp's exception is not chained
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()  # a no-op for the connection once the body was read to the end
            self._owner._release()


async def close_response(response: httpx.Response) -> None:
    """``response.aclose()``. A body of this transport is closed without the context httpx
    wraps around the close to tag its exceptions with the request (a generator-based context
    manager per call): closing it raises none."""
    stream = response.stream
    if type(stream) is not _Body:
        await response.aclose()
    elif not response.is_closed:
        response.is_closed = True
        await stream.aclose()


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, keeping at most ``max_idle`` idle connections per host (aiohttp
    itself keeps every one up to the pool size); the oldest beyond that is closed."""

    def __init__(self, max_idle: int, **options: Any) -> None:
        super().__init__(**options)
        self._max_idle = max_idle

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        idle = self._conns.get(key)
        while idle and len(idle) > self._max_idle:
            oldest, _ = idle.popleft()
            oldest.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over one pooled ``aiohttp.ClientSession`` (see the module docs)."""

    def __init__(self, limits: httpx.Limits | None = None, *, local_address: str | None = None) -> None:
        limits = limits or httpx.Limits()
        self.limits = limits
        self._max_connections = limits.max_connections or 0  # 0: no bound, as aiohttp spells it
        self._max_idle = limits.max_keepalive_connections
        self._local_address = local_address
        self._slots = asyncio.Semaphore(self._max_connections or 2**31)
        self._in_use = 0
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._urls: dict[Any, URL] = {}  # by httpx's parse result (a tuple of strings)
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def in_use(self) -> int:
        """Connections lent out: a request in flight or a response not yet closed."""
        return self._in_use

    @property
    def idle(self) -> int:
        """Idle connections kept for reuse."""
        if self._session is None or self._session.closed:
            return 0
        connector = self._session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        return sum(len(c) for c in connector._conns.values())

    def _open(self) -> aiohttp.ClientSession:
        """A session in the running loop. One left from another (finished) loop is dropped
        with its connections: they belong to that loop and cannot be used from this one."""
        if self._closed:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")
        if self._session is not None and not self._session.closed:
            with contextlib.suppress(RuntimeError):  # its loop is closed: so are its sockets
                self._session.connector._close()  # type: ignore[union-attr]
            self._slots = asyncio.Semaphore(self._max_connections or 2**31)
            self._in_use = 0
        self._loop = asyncio.get_running_loop()
        options: dict[str, Any] = {
            "limit": self._max_connections,
            "limit_per_host": 0,
            "keepalive_timeout": self.limits.keepalive_expiry,
            "local_addr": (self._local_address, 0) if self._local_address else None,
        }
        if self._max_idle is not None and self._max_idle < (self._max_connections or 2**31):
            connector: aiohttp.TCPConnector = _Connector(self._max_idle, **options)
        else:
            connector = aiohttp.TCPConnector(**options)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
            auto_decompress=False,  # httpx decodes by Content-Encoding
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self._session

    def _url(self, url: httpx.URL) -> URL:
        """aiohttp's URL for httpx's, parsed once: every ``httpx.URL`` copied from one parsed
        URL (``httpx.Request`` copies the one it is given) shares its parse result, so callers
        that reuse their URL objects (the provider does, one per path) skip even ``str(url)``."""
        key = url._uri_reference
        parsed = self._urls.get(key)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[key] = URL(str(url), encoded=True)
        return parsed

    def _timeout(self, timeouts: dict[str, float | None], deadline: Any) -> aiohttp.ClientTimeout:
        """connect and read as aiohttp's ``sock_connect``/``sock_read``; a read timeout the
        caller's own ``deadline`` (:data:`~.limits.DEADLINE`) always beats is not armed."""
        read = timeouts.get("read")
        if read is not None and isinstance(deadline, float | int) and deadline <= read:
            read = None
        key = (timeouts.get("connect"), read)
        timeout = self._timeouts.get(key)
        if timeout is None:
            if len(self._timeouts) >= _URL_CACHE_SIZE:
                self._timeouts.clear()
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=key[0], sock_read=key[1]
            )
        return timeout

    def _release(self) -> None:
        self._in_use -= 1
        self._slots.release()

    async def _acquire(self, pool_timeout: float | None, request: httpx.Request) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: taken at once, without suspending
            self._in_use += 1
            return
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            pass
        else:
            self._in_use += 1
            return
        raise httpx.PoolTimeout(
            f"no free connection within {pool_timeout} s (all {self._max_connections} in use)", request=request
        )

    async def _send(
        self, session: aiohttp.ClientSession, request: httpx.Request, body: bytes, timeouts: dict[str, float | None]
    ) -> aiohttp.ClientResponse | None:
        """The reply's head; None when a large body's write outlasted its deadline."""
        sending = session.request(
            request.method,
            self._url(request.url),
            headers=_str_headers(request.headers),
            skip_auto_headers=_not_to_add(request.headers),
            data=body or None,
            allow_redirects=False,
            timeout=self._timeout(timeouts, request.extensions.get(DEADLINE)),
        )
        deadline = _write_deadline(timeouts) if len(body) > _BUFFERED_BODY else None
        if deadline is None:
            return await sending
        try:
            async with asyncio.timeout(deadline):
                return await sending
        except TimeoutError as exc:
            if isinstance(exc, aiohttp.ServerTimeoutError):
                raise  # aiohttp's own connect or read deadline
            return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None or session.closed or self._loop is not asyncio.get_running_loop():
            session = self._open()
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        try:
            body: bytes = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        await self._acquire(timeouts.get("pool"), request)
        failure: httpx.TransportError
        try:
            response = await self._send(session, request, body, timeouts)
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = _translate(exc, request)
        except BaseException:  # cancelled: aiohttp closed the connection; give the slot back
            self._release()
            raise
        else:
            if response is not None:
                heads = response.headers  # parsed by aiohttp already: what the caller needs of them, cheaply
                return httpx.Response(
                    response.status,
                    headers=_headers(response.raw_headers),
                    stream=_Body(response, self, request),
                    extensions={
                        "http_version": b"HTTP/1.1",
                        "reason_phrase": (response.reason or "").encode("latin-1"),
                        FRAMING: Framing(
                            heads.get("Content-Length", ""),
                            ", ".join(heads.getall("Content-Encoding", ())),
                            "Set-Cookie" in heads or "Set-Cookie2" in heads,
                        ),
                    },
                )
            failure = httpx.WriteTimeout(
                f"the request body was not written within {timeouts.get('write')} s", request=request
            )
        self._release()
        raise failure  # outside the except block: aiohttp's exception is not chained

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()
