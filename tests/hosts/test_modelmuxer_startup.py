"""``install()`` loads the proxy's catalog during ModelMuxer's own start-up (its lifespan):
with the proxy up the first ``/v1/models`` lists the proxy's chat models; with the proxy down
or mute, start-up waits no longer than ``startup_wait``, logs one line, and the catalog loads
in the background once the proxy answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.litellm_proxy import LiteLLMProxy, free_port

pytestmark = pytest.mark.integration

LOGGER = "muxer_litellm.hosts.modelmuxer"


class Relay:
    """A loopback port that refuses connections (a proxy that is down) until :meth:`open`,
    then forwards each connection to ``target_port`` (the proxy is back)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer), return_exceptions=True)


@contextlib.asynccontextmanager
async def mute_server() -> AsyncIterator[str]:
    """A loopback server that accepts connections and never answers: a hung proxy."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # until the client goes away

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


async def test_the_first_models_listing_has_the_proxy_models(
    gateway_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await gateway_factory()
    loaded = gateway.adapter.provider.get_supported_models()  # before any request: start-up loaded it
    assert {"cheap-chat", "smart-chat"} <= set(loaded)
    first = await gateway.client.get("/v1/models")
    assert first.status_code == 200, first.text
    ids = {m["id"] for m in first.json()["data"]}
    assert {f"litellm/{m}" for m in loaded} <= ids
    providers = (await gateway.client.get("/v1/providers")).json()["providers"]
    assert providers["litellm"]["models"] == loaded
    assert warnings_logged(caplog) == []


async def test_a_proxy_down_at_start_up_costs_one_line_then_loads_in_the_background(
    gateway_factory: Any, litellm_proxy: LiteLLMProxy, caplog: pytest.LogCaptureFixture
) -> None:
    relay = Relay(int(litellm_proxy.base_url.rsplit(":", 1)[1]))
    try:
        started = time.monotonic()
        gateway = await gateway_factory(base_url=relay.base_url, startup_wait=60)
        # A refused connection ends the wait at once: the bound is for a proxy that does not answer.
        assert time.monotonic() - started < 60
        (line,) = warnings_logged(caplog)
        assert "not loaded at start-up" in line
        assert "keeps loading them in the background" in line
        listing = await gateway.client.get("/v1/models")
        assert listing.status_code == 200
        assert not [m for m in listing.json()["data"] if m["id"].startswith("litellm/")]

        await relay.open()  # the proxy comes up: the background load (1 s, doubling) finds it
        for _ in range(600):
            if gateway.adapter.provider.get_supported_models():
                break
            await asyncio.sleep(0.1)
        listing = await gateway.client.get("/v1/models")
        ids = {m["id"] for m in listing.json()["data"]}
        assert {"litellm/cheap-chat", "litellm/smart-chat"} <= ids
        answer = await gateway.chat("back again", model="litellm/cheap-chat")
        assert answer.status_code == 200, answer.text
        assert len(warnings_logged(caplog)) == 1  # the retries were quiet
    finally:
        await relay.close()


async def test_a_proxy_that_does_not_answer_delays_start_up_by_the_wait_only(
    gateway_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with mute_server() as url:
        started = time.monotonic()
        gateway = await gateway_factory(base_url=url, startup_wait=0.5, tables=False)
        elapsed = time.monotonic() - started
        assert elapsed < 10  # the adapter's own read timeout (30 s) is not what start-up waits for
        (line,) = warnings_logged(caplog)
        assert "no answer within 0.5 s" in line
        health = await gateway.client.get("/health")
        assert health.status_code == 200
