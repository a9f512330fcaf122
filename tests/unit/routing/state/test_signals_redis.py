"""Live signals shared through the routing store: a replica's aggregate rides on its snapshot read
(at most every ``publish_interval``), other replicas read it with theirs (one round trip per routed
request), a replica that routes nothing publishes what its ending calls changed, a silent replica
is dropped after ``shared_ttl``; the same on a single-node Redis Cluster through redis-py's cluster
client (every key a script touches is passed to it). The local store carries the same signals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from muxer_litellm.host import Headroom, LLMProvider
from muxer_litellm.routing import HeuristicRouter, LocalStore, RedisStore, RoutingConfig, RoutingState, Ticket
from tests.conftest import require_redis_server
from tests.redis_server import RedisServer
from tests.unit.routing.helpers import MESSAGES, Clock, bare

KEY = "p/m"
SAME = (0.001, 0.002)


class Replicas:
    def __init__(self, url: str, *, cluster: bool = False) -> None:
        self.url = url
        self.cluster = cluster
        self.prefix = f"test:{uuid.uuid4().hex[:12]}"
        self.opened: list[RedisStore] = []

    def store(self, clock: Callable[[], float] | None = None, **options: Any) -> RedisStore:
        local = RoutingState(clock=clock or Clock())
        options.setdefault("timeout", 10.0)
        store = RedisStore.from_url(
            self.url, local=local, prefix=self.prefix, clock=clock, cluster=self.cluster, **options
        )
        self.opened.append(store)
        return store

    async def aclose(self) -> None:
        for store in self.opened:
            await store.aclose()


@pytest.fixture(scope="module")
def cluster_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(require_redis_server(), tmp_path_factory.mktemp("cluster"), cluster=True).start()
    yield server
    server.stop()


@pytest.fixture(params=["redis", "cluster"])
async def replicas(request: pytest.FixtureRequest) -> AsyncIterator[Replicas]:
    if request.param == "redis":
        made = Replicas(request.getfixturevalue("redis_server").url)
    else:
        server: RedisServer = request.getfixturevalue("cluster_server")
        made = Replicas(f"redis://127.0.0.1:{server.port}", cluster=True)
    yield made
    await made.aclose()


def observe(store: RedisStore | LocalStore, *, left: int = 0, reset: float = 3.0) -> None:
    signals = store.local.signals
    signals.observe_headroom(KEY, Headroom(remaining_requests=left, reset_requests=reset), signals.started(KEY))
    for _ in range(3):
        signals.record_latency(KEY, "total", 120.0)


async def test_a_replicas_signals_ride_on_its_snapshot_and_reach_the_others(replicas: Replicas) -> None:
    a, b = replicas.store(publish_interval=0.05), replicas.store(publish_interval=0.05)
    observe(a)
    await a.snapshot()
    assert (a.stats.reads, a.stats.signal_publishes, a.stats.signals_on_reads) == (1, 1, 1)
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.shared == 1
    assert view.latency(KEY, "total") == pytest.approx(120.0, rel=0.03)
    assert view.in_flight(KEY) == 1
    block = view.headroom(KEY)
    assert block is not None
    assert block.left == 0
    assert 0 < block.reset <= 3.0
    assert b.stats.signal_publishes == 0  # nothing of its own to say


async def test_publishing_waits_for_the_interval_and_for_a_change(replicas: Replicas) -> None:
    a, b = replicas.store(publish_interval=0.3), replicas.store()
    observe(a)
    await a.snapshot()
    a.local.signals.record_latency(KEY, "total", 500.0)
    await a.snapshot()
    assert a.stats.signal_publishes == 1  # within the interval
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.samples(KEY, "total") == 3
    await asyncio.sleep(0.35)
    await a.snapshot()
    assert a.stats.signal_publishes == 2
    await a.snapshot()
    assert a.stats.signal_publishes == 2  # nothing changed since
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.samples(KEY, "total") == 4


async def test_a_replica_that_routes_nothing_publishes_its_ending_calls(replicas: Replicas) -> None:
    a, b = replicas.store(publish_interval=0.05), replicas.store()
    signals = a.local.signals
    signals.started(KEY)
    await a.snapshot()  # published: one in flight
    signals.ended(KEY, ok=True)
    a.signals_changed()
    a.signals_changed()  # one publish scheduled, not two
    await asyncio.sleep(0.3)
    assert a.stats.signal_publishes == 2
    assert a.stats.signals_on_reads == 1
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.in_flight(KEY) == 0


async def test_a_silent_replica_is_dropped_after_the_shared_ttl(replicas: Replicas) -> None:
    clock = Clock()
    a = replicas.store(clock, shared_ttl=5.0, publish_interval=0.01)
    b = replicas.store(clock, shared_ttl=5.0, publish_interval=0.01)
    observe(a)
    await a.snapshot()
    clock.now += 4.0
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.shared == 1
    clock.now += 1.5
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.shared == 0
    assert view.in_flight(KEY) == 0


async def test_state_rules_work_on_the_cluster_client_too(replicas: Replicas) -> None:
    a, b = replicas.store(), replicas.store()
    ticket = await a.admit(KEY, "p")
    assert isinstance(ticket, Ticket)
    await a.cool_down(KEY, 30.0, "rate limited (429)", ticket=ticket)
    status = (await b.snapshot(turn="combo", advance=True)).status(KEY, "p")
    assert status is not None
    assert status.cause == "rate_limit"
    assert (await b.snapshot(turn="combo", advance=True)).turn == 1
    await b.set_provider_health("p", False, "down")
    assert (await a.snapshot()).status("other/x", "p") is not None


async def test_one_store_read_per_routed_request_with_signals_shared(replicas: Replicas) -> None:
    config = RoutingConfig(adaptive={"publish_interval": 0.01})
    a = replicas.store(publish_interval=0.01)
    b = replicas.store(publish_interval=0.01)
    ra, rb = HeuristicRouter(config, store=a), HeuristicRouter(config, store=b)
    providers: dict[str, LLMProvider] = {"p": bare("p", {"fast": SAME, "slow": SAME}, latency={"slow": 0.05})}
    for _ in range(6):
        await ra.route_request(MESSAGES, providers, "fastest")
        await asyncio.sleep(0.02)
    for _ in range(4):
        await rb.route_request(MESSAGES, providers, "fastest")
    assert a.stats.reads == 6
    assert b.stats.reads == 4
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.samples("p/fast", "total") + view.samples("p/slow", "total") == 10  # 6 from a, 4 of its own
    assert view.samples("p/fast", "total") > view.samples("p/slow", "total")


async def test_the_local_store_snapshot_carries_this_processes_signals() -> None:
    store = LocalStore(RoutingState(clock=Clock()))
    observe(store)
    view = (await store.snapshot()).signals
    assert view is not None
    assert view.shared == 0
    assert view.latency(KEY, "total") == pytest.approx(120.0, rel=0.03)
    assert view.headroom(KEY) is not None
    assert store.cached_snapshot().signals is not None


def test_the_cluster_helper_starts_a_single_node_cluster(cluster_server: RedisServer, tmp_path: Path) -> None:
    import redis

    client = redis.Redis(port=cluster_server.port)
    try:
        info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
        text = info.decode() if isinstance(info, bytes) else str(info)
        assert "cluster_state:ok" in text
        assert "cluster_slots_assigned:16384" in text
    finally:
        client.close()


def call_reporting(store: RedisStore, left: int, reset: float = 30.0) -> None:
    """One call on KEY as execution reports it: started, answered with ``left`` requests until
    ``reset``, ended; the store is told at each step (``measure.py`` does the same)."""
    signals = store.local.signals
    number = signals.started(KEY)
    store.signals_changed(KEY)
    signals.observe_headroom(KEY, Headroom(remaining_requests=left, reset_requests=reset), number)
    signals.ended(KEY, ok=True)
    store.signals_changed(KEY)


async def settled(*stores: RedisStore) -> None:
    """Until no publish for a target near its limit is on its way (bounded, never a speed check)."""
    for _ in range(500):
        if not any(s.publishing for s in stores):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a publish near the limit never finished")


async def test_a_reading_near_the_limit_reaches_the_others_at_once_not_after_the_interval(
    replicas: Replicas,
) -> None:
    a, b = replicas.store(publish_interval=60.0), replicas.store(publish_interval=60.0)
    await a.snapshot()
    await b.snapshot()
    call_reporting(a, left=1)
    await settled(a)
    assert a.stats.signals_at_once >= 1
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.remaining(KEY) == (1, None)
    block = view.headroom(KEY)
    assert block is not None  # the one request left is a's: it called the target, b never did
    assert block.share == (2, 0)
    mine = (await a.snapshot()).signals
    assert mine is not None
    assert mine.headroom(KEY) is None


async def test_far_from_the_limit_a_call_waits_for_the_interval(replicas: Replicas) -> None:
    a, b = replicas.store(publish_interval=60.0), replicas.store(publish_interval=60.0)
    await a.snapshot()
    call_reporting(a, left=500)
    await settled(a)
    assert a.stats.signal_publishes == 0
    view = (await b.snapshot()).signals
    assert view is not None
    assert view.remaining(KEY) == (None, None)


@pytest.mark.parametrize("left", [1, 2])
async def test_three_replicas_deciding_at_once_take_no_more_than_is_left(replicas: Replicas, left: int) -> None:
    stores = [replicas.store(publish_interval=60.0) for _ in range(3)]
    for store in stores:
        await store.snapshot()
    for i, store in enumerate(stores):
        call_reporting(store, left=left + 2 - i)  # the last reading is the lowest: `left`
    await settled(*stores)
    views = [(await store.snapshot()).signals for store in stores]
    assert all(view is not None and view.remaining(KEY) == (left, None) for view in views)
    assert sum(1 for view in views if view is not None and view.headroom(KEY) is None) == left
