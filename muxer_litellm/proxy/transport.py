"""Sending requests to the proxy: one pooled client, explicit timeouts, typed failures.

Everything that touches the wire goes through :class:`ProxyTransport`, so the rules live in
one place: the key is sent as a Bearer header built once, transport failures and 4xx/5xx
replies become typed errors (never an ``httpx`` exception, never a secret in a message or a
chained exception), a closed transport raises :class:`ProviderClosedError`, and a request
that provably never reached the proxy (the connection could not be opened) is tried once more.

Every call pays for what is built here, so what does not change between calls is built once:
URLs are parsed once per path, and on the client this transport owns, the headers of a JSON
POST (what ``client.build_request`` would merge: host, the client's defaults, auth, content
type) are kept as a template; a call copies it and adds its Content-Length. Replies are
decoded with orjson (the stdlib decides only when orjson refuses, e.g. a non-UTF-8 body).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from .._utils import redact
from .._version import __version__
from ..errors import (
    AuthenticationError,
    BadRequestError,
    ProviderClosedError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from ..settings import HttpTransport
from .aiohttp_transport import AiohttpTransport, close_response
from .limits import ACCEPT_ENCODING, DEADLINE, CallGuard, ReplyLimits, framing, read_body
from .payload import encode_body
from .replies import PROVIDER, error_from_body

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "KEEPALIVE_EXPIRY",
    "CallAuth",
    "ProxyTransport",
    "Reply",
    "check_api_key",
]

logger = logging.getLogger("muxer_litellm")

#: Long reads (LLM answers take a while), short connects (a dead proxy should fail fast).
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)

#: Seconds an idle pooled connection may be reused. Shorter than the proxy's own keep-alive
#: (uvicorn 5 s; 2 s under gunicorn), so we retire a connection before the proxy does. Load
#: tests found that with httpx's 5 s (equal to uvicorn's), a busy proxy's keep-alive timer can
#: close a connection under a request we just wrote: a ReadError for a request nobody served
#: (tests/integration/test_faults.py reproduces it by pausing the proxy).
KEEPALIVE_EXPIRY = 1.0

#: Every connection may stay open between calls: a gateway's load comes in bursts, and a pool
#: that keeps fewer idle connections than it opens closes and reopens them all the time (with
#: 20 of 100 kept, ~480 new connections per 500 calls at concurrency 100; docs/performance.md).
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_EXPIRY)

#: Failures raised before a single byte of the request left this process: safe to try again.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)

#: What a call's network wait may raise besides a cancellation: a typed error from send(), an
#: httpx one from reading the body.
_FAILURES = (ProviderError, httpx.HTTPError)

#: The connection broke after the request was written: the proxy may have served it.
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def _keyless_refusal(body: Any, headers: httpx.Headers) -> bool:
    """The proxy's generic internal error for a request that reached no model (no call id)."""
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict) and error.get("type") == "internal_server_error" and "x-litellm-call-id" not in headers
    )


class _ReplyCookies(httpx.Cookies):
    """A cookie jar that reads a reply's cookies only when it has any.

    httpx hands every reply to the jar through urllib's cookie machinery, which copies the
    request into a ``urllib.request.Request`` and the headers into an ``email.message`` first:
    tens of microseconds per call, for a proxy that sets no cookies. A jar only ever takes
    cookies from ``Set-Cookie``/``Set-Cookie2`` headers, so skipping replies without them
    changes nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if framing(response).sets_cookie:
            super().extract_cookies(response)


class _PooledClient(httpx.AsyncClient):
    """The client this transport builds: its public ``cookies`` is a :class:`_ReplyCookies`
    (cookies a proxy or its load balancer sets are still kept and sent back)."""

    _jar: _ReplyCookies | None = None

    @property
    def cookies(self) -> httpx.Cookies:
        if self._jar is None:
            self._jar = _ReplyCookies()
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _ReplyCookies(cookies)


class Reply:
    """A whole reply, read within its size limit and decoded. What only an error message needs
    (the URL without its query, the charset) is worked out when asked for: parsing them on every
    call would cost a successful call tens of microseconds for nothing."""

    __slots__ = ("_response", "content", "headers", "status_code")

    def __init__(self, response: httpx.Response, content: bytes | bytearray) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = content

    @property
    def path(self) -> str:
        return self._response.request.url.path

    @property
    def url(self) -> str:
        return str(self._response.request.url.copy_with(query=None, fragment=None))

    @property
    def encoding(self) -> str | None:
        return self._response.charset_encoding

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding or "utf-8", errors="replace")

    def json(self) -> Any:
        """The stdlib's reading (UTF-16/32, NaN, ints beyond 64 bits); ValueError if not JSON."""
        return jsonlib.loads(self.content)


def check_api_key(api_key: str | SecretStr | None) -> SecretStr | None:
    """The key as a SecretStr, None for no key; refuses a key HTTP cannot carry.

    An empty or blank key means "no key", not ``Bearer ``. A control character (a pasted
    newline, say) would make httpx fail on every call with an error that quotes the header;
    refuse it here, with a message that never echoes the key.
    """
    if isinstance(api_key, SecretStr):
        api_key = api_key.get_secret_value()
    if api_key is None:
        return None
    if not isinstance(api_key, str):
        raise ValueError(f"api_key must be a string, got {type(api_key).__name__}")
    api_key = api_key.strip()
    if not api_key:
        return None
    bad = next((i for i, ch in enumerate(api_key) if ord(ch) < 0x20 or ord(ch) == 0x7F or ord(ch) > 0x7E), None)
    if bad is not None:
        raise ValueError(
            f"api_key has a character that cannot be sent in an HTTP header at position {bad} "
            "(a control or non-ASCII character, e.g. a pasted newline); the key is not shown"
        )
    return SecretStr(api_key)


#: Headers a caller may not set with ``extra_headers``: the key travels only as ``api_key``,
#: and httpx owns the framing.
_RESERVED_HEADERS = frozenset(
    (
        "authorization",
        "proxy-authorization",
        "x-litellm-api-key",
        "api-key",
        "x-api-key",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
    )
)
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class CallAuth:
    """One call's own credentials and headers, checked once: ``api_key`` (a tenant's virtual
    key, validated like the constructor's and never printed) replaces the provider's key for
    this call; ``headers`` are added to it. Built per call, applied to the request only."""

    __slots__ = ("headers", "secret")

    def __init__(self, api_key: str | SecretStr | None, headers: Mapping[str, str] | None) -> None:
        self.secret: str | None = None
        if api_key is not None:
            try:
                checked = check_api_key(api_key)
            except ValueError as exc:
                raise AuthenticationError(f"the per-call api_key is unusable: {exc}", provider=PROVIDER) from None
            if checked is None:
                raise AuthenticationError(
                    "the per-call api_key is empty; pass None to use the provider's own key", provider=PROVIDER
                )
            self.secret = checked.get_secret_value()
        self.headers: dict[str, str] = check_headers(headers) if headers else {}

    def apply(self, headers: httpx.Headers) -> None:
        for name, value in self.headers.items():
            headers[name] = value
        if self.secret is not None:
            headers["Authorization"] = f"Bearer {self.secret}"


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``extra_headers`` as a dict, or a BadRequestError naming the header that cannot be sent
    (its value is never shown: it may be a credential)."""
    if not isinstance(headers, Mapping):
        raise BadRequestError(f"extra_headers must be a mapping, got {type(headers).__name__}", provider=PROVIDER)
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not set(name) <= _TOKEN:
            raise BadRequestError(f"extra_headers: {name!r} is not a valid header name", provider=PROVIDER)
        if name.lower() in _RESERVED_HEADERS:
            raise BadRequestError(
                f"extra_headers: {name!r} cannot be set per call (pass a tenant's key as api_key)", provider=PROVIDER
            )
        if not isinstance(value, str) or any(ord(ch) < 0x20 or ord(ch) > 0x7E for ch in value.replace("\t", " ")):
            raise BadRequestError(
                f"extra_headers: the value of {name!r} must be printable ASCII text (not shown)", provider=PROVIDER
            )
        out[name] = value
    return out


class ProxyTransport:
    """One ``httpx.AsyncClient`` (pooled, shared by every call) plus the error rules.

    The client this class builds sends over aiohttp (:mod:`.aiohttp_transport`) unless
    ``http_transport="httpx"``; a client passed in is used as it is."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | None,
        *,
        timeout: httpx.Timeout,
        deadline: float = 60.0,
        reply_limits: ReplyLimits | None = None,
        http_client: httpx.AsyncClient | None = None,
        limits: httpx.Limits | None = None,
        event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None = None,
        http_transport: HttpTransport = "aiohttp",
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.deadline = deadline
        self.reply_limits = reply_limits or ReplyLimits()
        self._api_key = api_key
        self._secrets: tuple[str, ...] = (api_key.get_secret_value(),) if api_key is not None else ()
        # Built once: every call sends the same auth header.
        self.auth_headers: dict[str, str] = (
            {"Authorization": f"Bearer {api_key.get_secret_value()}"} if api_key is not None else {}
        )
        self.owns_client = http_client is None
        if http_client is None:
            limits = limits or DEFAULT_LIMITS
            http_client = _PooledClient(
                timeout=timeout,
                limits=limits,
                transport=AiohttpTransport(limits) if http_transport == "aiohttp" else None,
                # Only encodings limits.BodyDecoder inflates with a bound (never zstd, say).
                headers={"User-Agent": f"muxer-litellm/{__version__}", "Accept-Encoding": ACCEPT_ENCODING},
                event_hooks={k: list(v) for k, v in (event_hooks or {}).items()},
            )
        self.client = http_client
        #: Calls skip ``client.send`` for the client's transport (see :meth:`_exchange`).
        self._direct = self.owns_client and not any(event_hooks.values() if event_hooks else ())
        self.closed = False
        self._urls: dict[str, httpx.URL] = {}
        self._templates: dict[tuple[str, bool, tuple[tuple[str, str], ...]], httpx.Headers] = {}
        self._timeouts = timeout.as_dict()
        self._in_flight: set[CallGuard] = set()
        self._drained: asyncio.Event | None = None

    @property
    def has_key(self) -> bool:
        return self._api_key is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a message, a log line or a span."""
        return self._secrets

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    # ------------------------------------------------------------------ errors

    def closed_error(self, model: str | None) -> ProviderClosedError:
        return ProviderClosedError(
            f"this LiteLLMProvider for {self.base_url} was closed with aclose(); create a new one",
            None,
            PROVIDER,
            model=model,
        )

    def secrets_for(self, call: CallAuth | None) -> tuple[str, ...]:
        """The provider's secrets plus this call's own key."""
        return self._secrets if call is None or call.secret is None else (*self._secrets, call.secret)

    def transport_error(self, exc: httpx.HTTPError, model: str | None, call: CallAuth | None = None) -> ProviderError:
        detail = redact(str(exc) or type(exc).__name__, self.secrets_for(call))
        if isinstance(exc, httpx.PoolTimeout):
            return ProviderTimeoutError(
                f"no free connection to the LiteLLM proxy at {self.base_url} in time: every pooled connection "
                f"was busy (PoolTimeout: {detail}); raise max_connections or the timeout",
                None,
                PROVIDER,
                model=model,
            )
        if isinstance(exc, httpx.TimeoutException):
            # A read timer is the ``timeout`` setting, whether the client's (which restarts as bytes
            # arrive, so it can fire a moment before ours) or the stream's gap timer fired.
            return ProviderTimeoutError(
                f"LiteLLM proxy at {self.base_url} did not answer in time ({type(exc).__name__}: {detail}); check "
                "the proxy's load and its upstream, or raise the timeout (LITELLM_TIMEOUT)",
                None,
                PROVIDER,
                model=model,
                limit="timeout" if isinstance(exc, httpx.ReadTimeout) else None,
            )
        if isinstance(exc, _DROPPED):
            # Fault suite (tests/integration/test_faults.py): a proxy killed mid-call surfaces as
            # RemoteProtocolError/ReadError after the request reached it (the upstream saw it), so
            # "not reachable" was wrong; say it may have been served, which is why it is not retried.
            return ProviderUnavailableError(
                f"LiteLLM proxy at {self.base_url} dropped the connection ({type(exc).__name__}: {detail}); "
                "it may have received the request, so it was not retried",
                None,
                PROVIDER,
                model=model,
            )
        return ProviderUnavailableError(
            f"LiteLLM proxy not reachable at {self.base_url} ({type(exc).__name__}: {detail}); check that the "
            "proxy is running and that base_url (LITELLM_BASE_URL) names its host and port",
            None,
            PROVIDER,
            model=model,
        )

    def chained(self, error: ProviderError, cause: BaseException, call: CallAuth | None = None) -> ProviderError:
        """``error`` with ``cause`` as its ``__cause__`` only when the cause's text carries no
        secret: a traceback prints the whole chain. Raise the result outside an ``except``
        block, or Python also chains the cause as ``__context__``."""
        error.__cause__ = cause if self._shows_no_secret(cause, call) else None
        error.__suppress_context__ = True
        return error

    def _shows_no_secret(self, exc: BaseException, call: CallAuth | None = None) -> bool:
        """True when no exception in ``exc``'s chain (causes and contexts) quotes a secret."""
        secrets = self.secrets_for(call)
        if not secrets:
            return True
        seen: set[int] = set()
        pending: list[BaseException] = [exc]
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            text = f"{current!s} {current!r}"
            if any(s in text for s in secrets):
                return False
            pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        return True

    def status_error(self, reply: Reply, model: str | None, call: CallAuth | None = None) -> ProviderError:
        text = reply.text
        try:
            body: Any = reply.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python parses
            body = None
        retryable: bool | None = None
        has_key = self._api_key is not None or (call is not None and call.secret is not None)
        if not has_key and reply.status_code == 500 and (body is None or _keyless_refusal(body, reply.headers)):
            # A proxy with a master_key answers a keyless request with a 500 before any model call:
            # bare (litellm 1.106), or {"error": {"message": "Internal server error"}} without a
            # call id (1.102). Retrying will not heal a missing key.
            if body is not None:
                text, body = str(body["error"].get("message") or ""), None
            text = f"{text.strip() or '(empty body)'} (no API key is set: set LITELLM_API_KEY)"
            retryable = False
        error = error_from_body(
            reply.status_code,
            body,
            text,
            headers=reply.headers,
            model=model,
            call_id=reply.headers.get("x-litellm-call-id"),
            secrets=self.secrets_for(call),
            url=reply.url,
        )
        if retryable is not None:
            error.retryable = retryable
        return error

    # ------------------------------------------------------------------ sending

    def url(self, path: str) -> httpx.URL:
        """``base_url + path``, parsed once (httpx parses a str URL on every request)."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(f"{self.base_url}{path}")
        return url

    def build(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        model: str | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
        call: CallAuth | None = None,
    ) -> httpx.Request:
        """A request with the auth header; a JSON body is encoded here, so input JSON cannot
        carry (a lone surrogate, an object) is a BadRequestError before anything is sent.
        ``call``: this call's own key and headers, set on the request (never in a template)."""
        request = self._build(method, path, json, model, auth, headers, timeout_seconds)
        if call is not None:
            call.apply(request.headers)
        return request

    def _build(
        self,
        method: str,
        path: str,
        json: Any,
        model: str | None,
        auth: bool,
        headers: Mapping[str, str] | None,
        timeout_seconds: float | None,
    ) -> httpx.Request:
        merged = {**self.auth_headers, **headers} if auth and headers else (self.auth_headers if auth else headers)
        content = None
        if json is not None:
            content = encode_body(json, model)
            # Our own client has no cookies or params to merge unless the proxy set a cookie:
            # then the request is exactly what build_request makes, from a template.
            if timeout_seconds is None and self.owns_client and not self.client.cookies:
                request = httpx.Request(
                    method,
                    self.url(path),
                    headers=self._template(method, path, auth, headers),
                    stream=httpx.ByteStream(content),
                    extensions={"timeout": dict(self._timeouts)},  # a copy each: a hook may change it
                )
                # What ``headers["Content-Length"] = ...`` and ``read()`` do, minus their scans of
                # the headers and the stream's type: the template has no Content-Length, and the
                # content is the stream's (``request.content``, for event hooks and respx).
                request.headers._list.append((b"Content-Length", b"content-length", b"%d" % len(content)))
                request._content = content
                return request
            merged = {**(merged or {}), "Content-Type": "application/json"}
        return self.client.build_request(
            method,
            self.url(path),
            content=content,
            headers=merged,
            timeout=timeout_seconds if timeout_seconds is not None else self.timeout,
        )

    def _template(self, method: str, path: str, auth: bool, headers: Mapping[str, str] | None) -> httpx.Headers:
        """The headers ``client.build_request`` gives a JSON POST with these extra headers,
        without Content-Length (the one header that changes per call). Built by
        ``build_request`` itself, once per combination, so the two can never differ."""
        key = (method, auth, tuple(headers.items()) if headers else ())
        template = self._templates.get(key)
        if template is None:
            merged = {**(self.auth_headers if auth else {}), **(headers or {}), "Content-Type": "application/json"}
            sample = self.client.build_request(method, self.url(path), content=b"{}", headers=merged)
            template = httpx.Headers([(k, v) for k, v in sample.headers.raw if k.lower() != b"content-length"])
            self._templates[key] = template
        return template

    def guard(self, *, gap: float | None, total: float | None, model: str | None) -> CallGuard:
        """The time limits of one call, known to :meth:`aclose` while the call is in flight."""
        guard = CallGuard(gap=gap, total=total, model=model, base_url=self.base_url, on_stop=self._landed)
        self._in_flight.add(guard)
        return guard

    def _landed(self, guard: CallGuard) -> None:
        self._in_flight.discard(guard)
        if self._drained is not None and not self._in_flight:
            self._drained.set()

    async def send(
        self, request: httpx.Request, *, model: str | None, guard: CallGuard | None, call: CallAuth | None = None
    ) -> httpx.Response:
        """Send one request; the response is streaming (read it within a limit, then close it).
        Transport failures and 4xx/5xx become typed errors. The caller watches ``guard``.

        A failure to open the connection is tried once more (the proxy never saw the
        request, so it cannot have been served twice); anything later is not.
        """
        if self.closed:
            raise self.closed_error(model)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("litellm request %s %s model=%s", request.method, request.url.path, model)
        failure: tuple[ProviderError, BaseException] | None = None
        try:
            try:
                response = await self._exchange(request)
            except _NEVER_SENT:
                if self.closed:
                    raise
                response = await self._exchange(request)
        except httpx.HTTPError as exc:
            failure = self.transport_error(exc, model, call), exc
        except RuntimeError as exc:  # httpx: "Cannot send a request, as the client has been closed."
            if not (self.closed or self.client.is_closed):
                raise
            failure = self.closed_error(model), exc
        if failure is not None:
            # Raised outside the except block, so the error has no implicit __context__.
            raise self.chained(*failure, call)
        if response.status_code < 400:
            return response
        try:
            name, limit = self.reply_limits.for_path(request.url.path)
            body = await read_body(response, name, limit, model)
        except httpx.HTTPError as exc:
            failure = self.transport_error(exc, model, call), exc
        finally:
            await close_response(response)
        if failure is not None:
            raise self.chained(*failure, call)
        raise self.status_error(Reply(response, body), model, call)

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """``client.send(request, stream=True)``. On the client built here without event hooks,
        straight to the transport ``send`` would pick (``_transport_for_url``: mounts and proxies
        included, and where respx mocks): what ``send`` adds around it (auth and redirect loops,
        hooks, an elapsed-time wrapper, an INFO log line) is unused here and costs tens of
        microseconds per call (docs/performance.md). Cookies a proxy sets are still kept and
        sent back."""
        client = self.client
        if not self._direct or client.is_closed:
            return await client.send(request, stream=True)
        response = await client._transport_for_url(request.url).handle_async_request(request)
        response.request = request
        client.cookies.extract_cookies(response)
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        model: str | None = None,
        auth: bool = True,
        timeout_seconds: float | None = None,
        call: CallAuth | None = None,
    ) -> Reply:
        """One whole reply, read within the path's size limit and within the call's deadline
        (``timeout_seconds`` when given, else ``deadline``)."""
        request = self.build(
            method, path, json=json, model=model, auth=auth, timeout_seconds=timeout_seconds, call=call
        )
        name, limit = self.reply_limits.for_path(path)
        total = timeout_seconds or self.deadline
        request.extensions[DEADLINE] = total
        guard = self.guard(gap=None, total=total, model=model)

        def typed(exc: Exception) -> ProviderError:
            if isinstance(exc, ProviderError):  # from send()
                return exc
            assert isinstance(exc, httpx.HTTPError)  # from reading the body
            return self.chained(self.transport_error(exc, model, call), exc, call)

        try:
            response, body = await guard.watch(self._whole(request, name, limit, model, guard, call), _FAILURES, typed)
        finally:
            guard.stop()
        return Reply(response, body)

    async def _whole(
        self, request: httpx.Request, name: str, limit: int, model: str | None, guard: CallGuard, call: CallAuth | None
    ) -> tuple[httpx.Response, bytearray]:
        response = await self.send(request, model=model, guard=guard, call=call)
        try:
            return response, await read_body(response, name, limit, model)
        finally:
            await close_response(response)  # unread (a limit fired): the connection is dropped, not pooled

    def json_object(self, reply: Reply, model: str | None) -> dict[str, Any]:
        """The reply's JSON object, or a ProviderError quoting what came instead."""
        try:
            body = orjson.loads(reply.content)
        except orjson.JSONDecodeError:
            try:  # what orjson refuses and the stdlib reads: UTF-16/32, NaN, ints beyond 64 bits
                body = reply.json()
            except (ValueError, RecursionError):
                body = None
        if not isinstance(body, dict):
            kind = reply.headers.get("content-type", "no content-type")
            raise ProviderError(
                f"LiteLLM proxy returned {reply.status_code} for {reply.path} with a body "
                f"that is not a JSON object ({kind}): {self.redact(reply.text[:200])!r}",
                reply.status_code,
                PROVIDER,
                model=model,
                call_id=reply.headers.get("x-litellm-call-id"),
            )
        return body

    @staticmethod
    def malformed(what: str, exc: Exception, response: Reply, model: str) -> ProviderError:
        return ProviderError(
            f"LiteLLM proxy returned a malformed {what}: {exc}".splitlines()[0],
            response.status_code,
            PROVIDER,
            model=model,
            call_id=response.headers.get("x-litellm-call-id"),
        )

    async def aclose(self, drain_timeout: float = 0.0) -> None:
        """Refuse new calls at once (ProviderClosedError); let calls in flight finish for up to
        ``drain_timeout`` seconds, then stop them with ProviderClosedError; close the pooled
        client (only if we created it)."""
        self.closed = True
        if self._in_flight and drain_timeout > 0:
            self._drained = asyncio.Event()
            try:
                async with asyncio.timeout(drain_timeout):
                    await self._drained.wait()
            except TimeoutError:
                pass
        for guard in list(self._in_flight):
            guard.abort("closed")
        await asyncio.sleep(0)  # let the stopped calls run their cleanup before the pool closes
        if self.owns_client:
            await self.client.aclose()
