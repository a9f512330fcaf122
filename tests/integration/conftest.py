"""The integration tests' proxy config and provider fixtures.

The proxy itself (one per test session, in front of a fake upstream on loopback) is started
by ``tests/conftest.py``, so the ModelMuxer tests in ``tests/hosts`` share it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pytest

from muxer_litellm import LiteLLMProvider
from muxer_litellm.proxy.aiohttp_transport import AiohttpTransport
from muxer_litellm.proxy.transport import DEFAULT_LIMITS
from muxer_litellm.settings import HttpTransport
from tests.fake_upstream import FakeUpstream
from tests.litellm_proxy import LiteLLMProxy

# Prices the proxy is told about, per token; tests derive expected costs from these.
# cheap-chat is the cheapest priced model (cheaper than mock-chat's gpt-4o-mini cost-map
# price), so cost-aware routing has one clear answer.
CHEAP_IN, CHEAP_OUT = 1e-07, 4e-07
REFUSE_IN, REFUSE_OUT = 1.5e-07, 6e-07
SMART_IN, SMART_OUT = 3e-06, 1.5e-05
TOOL_IN, TOOL_OUT = 1e-06, 2e-06
EMBED_IN = 1e-07


# What the proxy gives differs by LiteLLM version (docs/proxy-versions.md). Each constant is the
# first version measured with the newer behaviour; `make test-compat` runs the suite against the
# oldest and the newest supported proxy, so both sides of each are asserted.
#: An upstream 429's wait reaches the client (``llm_provider-retry-after``).
PASSES_RETRY_AFTER = (1, 105, 7)
#: A stream's last chunk carries ``usage.cost`` (older: usage only; the client prices it from the catalog).
STREAM_COST = (1, 102, 4)
#: Error replies as the newer proxies word them: a keyless request is a 500 before any model call
#: (older: 401 "No api key passed in"), a mid-stream failure's code is 500 (older: "503"), an
#: upstream's non-JSON 200 is an "invalid response" (older: a Python AttributeError's text), and
#: the deep /health names each deployment's model_id (older: none, so results carry no model name).
NEWER_REPLIES = (1, 102, 4)
#: ...and the "invalid response" error quotes the upstream's body.
QUOTES_UPSTREAM_BODY = (1, 105, 7)


def proxy_config(upstream: str, master_key: str) -> dict[str, Any]:
    def fake(name: str, upstream_model: str, **extra: Any) -> dict[str, Any]:
        params = {"model": f"openai/{upstream_model}", "api_base": upstream, "api_key": "fake"}
        params.update(extra.pop("params", {}))
        entry: dict[str, Any] = {"model_name": name, "litellm_params": params}
        if extra:
            entry["model_info"] = extra
        return entry

    return {
        "model_list": [
            fake(
                "cheap-chat",
                "fake-chat-cheap",
                params={"input_cost_per_token": CHEAP_IN, "output_cost_per_token": CHEAP_OUT},
                max_input_tokens=16000,
                max_output_tokens=4096,
                supports_function_calling=True,
            ),
            fake(
                "smart-chat",
                "fake-chat-smart",
                params={"rpm": 60},
                input_cost_per_token=SMART_IN,
                output_cost_per_token=SMART_OUT,
                max_input_tokens=128000,
                max_output_tokens=8192,
                supports_function_calling=True,
                supports_vision=True,
                supports_reasoning=True,
            ),
            # routing_tier, not tier: LiteLLM drops a model whose model_info.tier is a number.
            fake("mystery-chat", "fake-chat-mystery", routing_tier=3),
            fake(
                "tool-chat",
                "fake-tool",
                params={"input_cost_per_token": TOOL_IN, "output_cost_per_token": TOOL_OUT},
                supports_function_calling=True,
            ),
            fake(
                "refuse-chat",
                "fake-refuse",
                params={"input_cost_per_token": REFUSE_IN, "output_cost_per_token": REFUSE_OUT},
                max_input_tokens=16000,
            ),
            fake("ratelimited-chat", "fake-ratelimit"),
            fake("broken-chat", "fake-broken"),
            fake("midstream-chat", "fake-midstream"),
            fake("tiny-chat", "fake-tiny", max_input_tokens=64),
            fake("policy-chat", "fake-policy"),
            fake("embed", "fake-embed", params={"input_cost_per_token": EMBED_IN}, mode="embedding"),
            {
                "model_name": "mock-chat",
                "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "hello from mock"},
            },
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 30, "telemetry": False},
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": master_key},
    }


#: What the provider's client sends over; the suites that use the fixtures below run on each.
#: Against another proxy version (make test-compat) only on the default: the transport's
#: behaviour does not depend on the proxy's, and `make test` runs both.
TRANSPORTS: tuple[HttpTransport, ...] = (
    ("aiohttp",) if os.environ.get("MUXER_TEST_PROXY_VERSION") else ("aiohttp", "httpx")
)


@pytest.fixture(params=TRANSPORTS)
def http_transport(request: pytest.FixtureRequest) -> HttpTransport:
    transport: HttpTransport = request.param
    return transport


def lent_out(transport: httpx.AsyncBaseTransport) -> int:
    """Connections the pool under an httpx client has lent out (in flight or not yet closed),
    read from the pool itself: aiohttp's slots, or httpcore's pending requests."""
    if isinstance(transport, AiohttpTransport):
        return transport.in_use
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    return len(transport._pool._requests)


@pytest.fixture
async def provider(litellm_proxy: LiteLLMProxy, http_transport: HttpTransport) -> AsyncIterator[LiteLLMProvider]:
    async with LiteLLMProvider(litellm_proxy.base_url, litellm_proxy.master_key, http_transport=http_transport) as p:
        yield p
        assert lent_out(p._transport.client._transport) == 0, "a connection is still lent out of the pool"


# ---------------------------------------------------------------------- fault and load suites
# Seeing what a provider holds open, from outside its code: a wrapping transport counts the
# connections the pool has lent out, and /proc lists this process's TCP sockets to the proxy.

HAS_PROC = os.path.isdir("/proc/self/fd")
_TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def open_sockets(port: int, source: str | None = None) -> list[str]:
    """TCP states of this process's own sockets to ``port`` (from ``source``, an IPv4 address,
    when given), read from Linux /proc.

    A socket belongs to us when one of our file descriptors points at its inode; closed
    ones (TIME_WAIT) have no descriptor and are not counted."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    states = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[2].rsplit(":", 1)[1], 16) != port or fields[9] not in inodes:
                continue
            local_ip = fields[1].rsplit(":", 1)[0]
            if source is not None and (len(local_ip) != 8 or socket.inet_ntoa(bytes.fromhex(local_ip)[::-1]) != source):
                continue
            states.append(_TCP_STATES.get(fields[3], fields[3]))
    return states


#: Each WatchedProvider connects from its own loopback address, so its sockets are told
#: apart from another provider's to the same proxy in this process.
_SOURCES = itertools.count()


class _Released(httpx.AsyncByteStream):
    """A response body that tells its :class:`CountingTransport` when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, owner: CountingTransport) -> None:
        self._stream = stream
        self._owner = owner
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._owner.in_use -= 1
        await self._stream.aclose()


class CountingTransport(httpx.AsyncBaseTransport):
    """The provider's transport (``kind``), counting requests sent (``sent``) and connections
    lent out of the pool (``in_use``: a request in flight, or a response not yet closed).
    ``in_use`` is 0 again once every call has finished, failed or been cancelled, unless one
    leaked; ``pool_in_use`` is the same count read from the pool itself."""

    def __init__(
        self, kind: HttpTransport, limits: httpx.Limits | None = None, local_address: str | None = None
    ) -> None:
        # The provider's own defaults (LiteLLMProvider builds the same pool without http_client=).
        self.limits = limits or DEFAULT_LIMITS
        self._inner: httpx.AsyncBaseTransport = (
            AiohttpTransport(self.limits, local_address=local_address)
            if kind == "aiohttp"
            else httpx.AsyncHTTPTransport(limits=self.limits, local_address=local_address)
        )
        self.sent = 0
        self.in_use = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        self.in_use += 1
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self.in_use -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, self)
        return response

    @property
    def pool_in_use(self) -> int:
        return lent_out(self._inner)

    async def aclose(self) -> None:
        await self._inner.aclose()


class WatchedProvider:
    """A LiteLLMProvider whose pool the fault suite can inspect (see ``assert_released``).

    ``async with`` closes the provider and its client, then checks that no socket to the
    proxy's port is left open."""

    def __init__(
        self, base_url: str, api_key: str | None, *, http_transport: HttpTransport = "aiohttp", **options: Any
    ) -> None:
        port = httpx.URL(base_url).port
        assert port is not None
        self.port = port
        self.source = f"127.0.0.{2 + next(_SOURCES) % 250}"
        self.transport = CountingTransport(http_transport, options.pop("limits", None), local_address=self.source)
        self.client = httpx.AsyncClient(transport=self.transport)
        self.provider = LiteLLMProvider(base_url, api_key, http_client=self.client, **options)

    def sockets(self) -> list[str]:
        """States of this provider's own sockets to the proxy."""
        return open_sockets(self.port, self.source)

    async def assert_released(self) -> None:
        """Nothing lent out of the pool, and what is still open is an idle keep-alive
        connection (ESTABLISHED, within the keep-alive limit), never a half-closed one.

        A socket the pool has just closed is closed by asyncio on one of the loop's next turns
        (aiohttp closes a connection the server ended that way), so a few turns are allowed."""
        assert self.transport.in_use == 0, f"{self.transport.in_use} connection(s) still lent out of the pool"
        assert self.transport.pool_in_use == 0, f"the pool lends out {self.transport.pool_in_use} connection(s)"
        for _ in range(10):
            states = self.sockets()
            if all(s == "ESTABLISHED" for s in states):
                break
            await asyncio.sleep(0)
        assert all(s == "ESTABLISHED" for s in states), states
        limit = self.transport.limits.max_keepalive_connections
        assert limit is None or len(states) <= limit, states

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.provider.aclose()
        await self.client.aclose()
        if exc_type is None:
            assert self.transport.in_use == 0
            assert self.transport.pool_in_use == 0
            assert self.sockets() == [], "sockets to the proxy still open after closing the client"


@pytest.fixture
async def watched(litellm_proxy: LiteLLMProxy, http_transport: HttpTransport) -> AsyncIterator[WatchedProvider]:
    """A provider on the session proxy with an inspectable pool, on each transport; closed and
    checked after."""
    if not HAS_PROC:
        pytest.skip("counting open sockets needs Linux /proc")
    async with WatchedProvider(
        litellm_proxy.base_url, litellm_proxy.master_key, http_transport=http_transport
    ) as watched:
        yield watched


@pytest.fixture
def holding_upstream(fake_upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    """The session upstream; every request a test held (``[fault:hold]``) is let go after it."""
    try:
        yield fake_upstream
    finally:
        fake_upstream.release_held()
