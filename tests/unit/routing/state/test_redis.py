"""``routing/state/redis.py``: what only the Redis store does (the rules it shares with the local store
are ``test_state.py``'s, run on both). Redis's own clock and TTLs, deadlines read back by another
replica, round trips per request, the trial lease, and Redis trouble: out of reach, too slow,
killed and restarted. Every test talks to a real redis-server on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from muxer_litellm.host import LLMProvider
from muxer_litellm.proxy.process import free_port
from muxer_litellm.routing import (
    HeuristicRouter,
    PrometheusStoreMetrics,
    RedisStore,
    RoutingConfig,
    RoutingState,
    StoreEvent,
    TargetStatus,
    Ticket,
)
from muxer_litellm.routing.state.redis import safe_url
from tests.conftest import require_redis_server
from tests.redis_server import RedisServer
from tests.unit.routing.helpers import CHEAP, MESSAGES, MID, Clock, bare, combo

KEY, PROVIDER = "p/m", "p"


class Replicas:
    """Stores sharing one Redis and prefix, as gateway replicas would; closed after the test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"test:{uuid.uuid4().hex[:12]}"
        self.opened: list[RedisStore] = []

    def store(self, clock: Callable[[], float] | None = None, *, url: str | None = None, **options: Any) -> RedisStore:
        local = RoutingState(
            clock=options.pop("local_clock", None) or clock or Clock(),
            breaker_threshold=options.pop("breaker_threshold", 3),
            breaker_cooldown=options.pop("breaker_cooldown", 30.0),
            health_ttl=options.pop("health_ttl", 60.0),
        )
        options.setdefault("timeout", 10.0)
        store = RedisStore.from_url(url or self.url, local=local, prefix=self.prefix, clock=clock, **options)
        self.opened.append(store)
        return store

    def router(self, config: RoutingConfig, store: RedisStore) -> HeuristicRouter:
        return HeuristicRouter(config, store=store)

    def key(self, *parts: str) -> str:
        return ":".join(("{" + self.prefix + "}", *parts))


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[Replicas]:
    made = Replicas(redis_server.url)
    yield made
    for store in made.opened:
        await store.aclose()


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    yield redis
    await redis.aclose()


def providers_ab() -> dict[str, LLMProvider]:
    return {"a": bare("a", {"m1": CHEAP, "m2": MID}), "b": bare("b", {"m3": MID})}


# ---------------------------------------------------------------------------- Redis's clock and TTLs


async def test_records_expire_with_their_block_and_nothing_outlives_it(replicas: Replicas, client: Redis) -> None:
    store = replicas.store()  # Redis's own clock
    await store.cool_down(KEY, 2.0, "rate limited (429)")
    await store.set_provider_health("q", False, "timeout")
    await store.snapshot(turn="rr", advance=True)

    memory = 60_000  # max(60 s, breaker_cooldown)
    target_ttl = await client.pttl(replicas.key("t", KEY))
    assert 2_000 < target_ttl <= 2_000 + memory
    health_ttl = await client.pttl(replicas.key("p", "q"))
    assert 0 < health_ttl <= 60_000
    assert 0 < await client.pttl(replicas.key("turn", "rr")) <= 86_400_000
    assert await client.pttl(replicas.key("seq")) == -1  # the event counter must never go back
    assert 0 < await client.pttl(replicas.key("idx")) <= max(target_ttl, health_ttl) + 5  # with its last member
    # the index's score is the record's own expiry, in Redis's time
    (redis_now_s, redis_now_us) = await client.time()
    score = await client.zscore(replicas.key("idx"), f"t:{KEY}")
    assert score is not None
    assert score - (redis_now_s * 1000 + redis_now_us // 1000) == pytest.approx(target_ttl, abs=50)

    await store.set_provider_health("q", True)
    assert await client.exists(replicas.key("p", "q")) == 0


async def test_a_deadline_read_back_by_another_replica_keeps_all_its_time(replicas: Replicas) -> None:
    clock = Clock()
    a, b = replicas.store(clock), replicas.store(clock)
    await a.cool_down(KEY, 7.0, "rate limited (429)")
    clock.now = 3.0
    status = (await b.snapshot()).status(KEY, PROVIDER)
    assert status == TargetStatus("rate limited (429), 4.0s left", 4.0, "rate_limit")
    clock.now = 7.0
    assert (await b.snapshot()).status(KEY, PROVIDER) is None  # half-open: b may send the probe
    probe = await b.admit(KEY, PROVIDER)
    assert isinstance(probe, Ticket)
    assert probe.trial is True
    assert (await a.admit(KEY, PROVIDER)) == TargetStatus(
        "half-open after 'rate limited (429)': a trial call is in flight", 1.0, "rate_limit", trial_in_flight=True
    )


async def test_replica_clocks_do_not_matter_redis_time_does(replicas: Replicas) -> None:
    # Two replicas whose own clocks disagree by days: waits are measured on Redis's clock only.
    a = replicas.store(local_clock=lambda: 1_000_000.0)
    b = replicas.store(local_clock=lambda: 5.0)
    await a.cool_down(KEY, 5.0, "rate limited (429)")
    status = (await b.snapshot()).status(KEY, PROVIDER)
    assert status is not None
    assert 4.0 < status.remaining <= 5.0
    assert await a.breaker_state(KEY) == await b.breaker_state(KEY) == "open"


async def test_a_trial_holder_that_never_reports_back_frees_the_gate_when_its_lease_ends(replicas: Replicas) -> None:
    clock = Clock()
    a, b = replicas.store(clock, trial_lease=10.0), replicas.store(clock, trial_lease=10.0)
    await a.cool_down(KEY, 1.0, "rate limited (429)")
    clock.now = 1.0
    lost = await a.admit(KEY, PROVIDER)  # a's replica dies with it
    assert isinstance(lost, Ticket)
    assert lost.trial is True
    clock.now = 10.9
    refused = await b.admit(KEY, PROVIDER)
    assert isinstance(refused, TargetStatus)
    assert refused.trial_in_flight is True
    clock.now = 11.0
    taken = await b.admit(KEY, PROVIDER)
    assert isinstance(taken, Ticket)
    assert taken.trial is True
    await a.release(lost)  # a late report from the old holder frees nothing
    assert isinstance(await a.admit(KEY, PROVIDER), TargetStatus)


# ---------------------------------------------------------------------------- round trips


class Trips:
    """Counts script calls a store makes: each is one round trip (a script Redis does not know
    yet costs one more, once per server: that failed EVALSHA is not counted)."""

    def __init__(self, store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = store.client.evalsha

        async def counting(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            self.count += 1
            return result

        monkeypatch.setattr(store.client, "evalsha", counting)

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


async def test_a_routed_request_costs_one_round_trip_and_a_failure_one_more(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = {f"p{i}": bare(f"p{i}", {f"m{j}": CHEAP for j in range(50)}) for i in range(4)}  # 200 candidates
    # Live signals are published on a timer of their own (test_signals_redis.py): not in this count.
    store = replicas.store(publish_interval=3600.0)
    router = replicas.router(RoutingConfig(), store)
    trips = Trips(store, monkeypatch)

    await router.route_request(MESSAGES, many, "cost_optimized")
    assert trips.take() == 1  # the snapshot: never one per candidate; admit and success write nothing

    rr = RoutingConfig(combos={"rr": {"targets": ["a/m1", "b/m3"], "strategy": "round_robin"}})
    rr_store = replicas.store(publish_interval=3600.0)
    rr_router = replicas.router(rr, rr_store)
    rr_trips = Trips(rr_store, monkeypatch)
    answered = [(await rr_router.route_request(MESSAGES, providers_ab(), "rr")).router_metadata.selected_model]
    answered.append((await rr_router.route_request(MESSAGES, providers_ab(), "rr")).router_metadata.selected_model)
    assert answered == ["m1", "m3"]
    assert rr_trips.take() == 2  # the turn is taken inside each snapshot

    failing = {"a": bare("a", {"m1": CHEAP}, script={"m1": [_unavailable()]}), "b": bare("b", {"m3": MID})}
    chain = replicas.router(combo("a/m1", "b/m3"), store)
    await chain.route_request(MESSAGES, failing, "c")
    assert trips.take() == 2  # the snapshot, and the failure counted; b/m3 admitted from the snapshot

    await chain.route_request(MESSAGES, failing, "c")
    # a/m1 now has a failure on record: the snapshot, the failure (the success of b/m3 writes nothing)
    assert trips.take() == 2


async def test_select_model_reads_the_last_snapshot_without_a_trip(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = replicas.store()
    router = replicas.router(combo("a/m1", "b/m3"), store)
    providers = providers_ab()
    other = replicas.store()
    await other.cool_down("a/m1", 30.0, "rate limited (429)")
    assert router.select_model(MESSAGES, providers, strategy="cost_optimized").key == "a/m1"  # nothing read yet
    await router.plan(MESSAGES, providers, "c")
    trips = Trips(store, monkeypatch)
    decision = router.select_model(MESSAGES, providers, strategy="cost_optimized")
    assert decision.key == "a/m2"
    assert "rate limited (429)" in decision.excluded["a/m1"]
    assert trips.take() == 0


def _unavailable() -> Exception:
    from muxer_litellm import ProviderUnavailableError

    return ProviderUnavailableError("upstream answered 503", 503)


# ---------------------------------------------------------------------------- Redis out of reach


async def test_redis_out_of_reach_routes_on_local_state_logs_once_and_counts_it(
    replicas: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    events: list[StoreEvent] = []
    prometheus = PrometheusStoreMetrics(registry)

    def hook(event: StoreEvent) -> None:
        events.append(event)
        prometheus(event)

    nobody = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"  # nothing listens there
    store = replicas.store(url=nobody, metrics=hook, timeout=0.5, retry_interval=60.0)
    router = replicas.router(combo("a/m1", "b/m3"), store)
    providers = providers_ab()
    providers["a"].script["m1"] = [_unavailable(), "back"]  # type: ignore[attr-defined]

    with caplog.at_level(logging.DEBUG, logger="muxer_litellm.routing"):
        answers = [await router.route_request(MESSAGES, providers, "c") for _ in range(20)]

    assert [a.router_metadata.selected_model for a in answers] == ["m3"] + ["m1"] * 19
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "out of reach" in r.getMessage()]
    assert len(warnings) == 1
    assert "s3cret-pw" not in caplog.text
    assert safe_url(nobody) in warnings[0].getMessage()
    assert store.stats.outages == 1
    assert store.stats.shared is False
    assert store.stats.fallbacks["snapshot"] == 20
    assert store.stats.fallbacks["record_failure"] == 1
    assert store.local.snapshot().empty  # the failure was counted locally; one is below the threshold
    assert [e.kind for e in events].count("down") == 1
    assert registry.get_sample_value("muxer_litellm_routing_store_outages_total", {"backend": "redis"}) == 1
    assert (
        registry.get_sample_value(
            "muxer_litellm_routing_store_fallbacks_total", {"backend": "redis", "operation": "snapshot"}
        )
        == 20
    )
    assert registry.get_sample_value("muxer_litellm_routing_store_shared", {"backend": "redis"}) == 0


async def test_a_redis_that_accepts_but_never_answers_is_given_up_after_the_timeout(replicas: Replicas) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1 << 16):  # reads every command, answers none, until the client hangs up
            pass
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        store = replicas.store(url=f"redis://127.0.0.1:{port}/0", timeout=0.2, retry_interval=60.0)
        router = replicas.router(combo("a/m1", "b/m3"), store)
        response = await asyncio.wait_for(router.route_request(MESSAGES, providers_ab(), "c"), 10)
        assert response.router_metadata.selected_model == "m1"
        assert store.stats.outages == 1
        # admit and success then stay local without trying Redis again before retry_interval
        assert store.stats.fallbacks == {"snapshot": 1, "admit": 1, "record_success": 1}
    finally:
        await store.aclose()
        server.close()
        await server.wait_closed()


async def test_an_error_that_quotes_the_password_is_logged_without_it(
    replicas: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    async def quoting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 16):
            secret = b"s3cret-pw" if b"s3cret-pw" in data else b"?"
            writer.write(b"-ERR wrong password " + secret + b"\r\n")  # a server that echoes what it got
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(quoting, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        store = replicas.store(url=f"redis://:s3cret-pw@127.0.0.1:{port}/0", timeout=2.0, retry_interval=60.0)
        with caplog.at_level(logging.WARNING, logger="muxer_litellm.routing"):
            view = await store.snapshot()
        assert view.empty
        assert store.stats.outages == 1
        assert "wrong password ***" in caplog.text
        assert "s3cret-pw" not in caplog.text
    finally:
        await store.aclose()
        server.close()
        await server.wait_closed()


async def test_sharing_resumes_after_redis_restarts_and_blocks_learned_meanwhile_are_published(
    tmp_path: Path,
) -> None:
    server = RedisServer(require_redis_server(), tmp_path).start()
    fleet = Replicas(server.url)
    try:
        a = fleet.store(timeout=1.0, retry_interval=0.05)
        b = fleet.store(timeout=1.0, retry_interval=0.05)
        await a.cool_down("p/known", 30.0, "rate limited (429)")  # shared before the outage
        old = await b.admit("p/old", "p")  # a shared ticket issued before Redis loses everything
        assert isinstance(old, Ticket)
        assert old.shared is True
        await a.snapshot()
        await b.snapshot()

        server.kill()
        await b.snapshot()  # b finds Redis gone: it keeps what it last read
        assert b.stats.shared is False
        local_view = await b.snapshot()
        assert local_view.status("p/known", "p") is not None  # still honoured, locally
        await a.snapshot()
        assert await a.cool_down("p/learned", 20.0, "rate limited (429)") == 20.0  # only a knows it
        assert (await b.snapshot()).status("p/learned", "p") is None

        server.start()  # same port, no data: a restart that lost everything
        await _until(lambda: _shared(a), "a shares again")
        await _until(lambda: _shared(b), "b shares again")
        assert a.stats.recoveries == b.stats.recoveries == 1
        assert a.stats.published >= 2  # p/learned, and p/known that it had kept
        seen = (await b.snapshot()).status("p/learned", "p")
        assert seen is not None
        assert 15.0 < seen.remaining <= 20.0
        assert a.local.snapshot().empty  # handed over: Redis holds it now

        # The event counter restarted from Redis's clock: a ticket from before the restart is still
        # older than a block that began after it, so its late success cannot close that block.
        for _ in range(3):
            failed = await a.admit("p/old", "p")
            assert isinstance(failed, Ticket)
            await a.record_failure(failed)
        assert await a.breaker_state("p/old") == "open"
        await b.record_success(old)
        assert await b.breaker_state("p/old") == "open"
    finally:
        for store in fleet.opened:
            await store.aclose()
        server.stop()


async def _shared(store: RedisStore) -> bool:
    await store.snapshot()
    return store.stats.shared


async def _until(check: Callable[[], Any], what: str, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within}s: {what}")


async def test_a_record_new_to_a_replica_is_read_at_once_then_in_one_round_trip(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = replicas.store(), replicas.store()
    await b.snapshot()
    trips = Trips(b, monkeypatch)
    await a.cool_down(KEY, 30.0, "rate limited (429)")  # a record b has never read
    assert (await b.snapshot()).status(KEY, PROVIDER) is not None  # seen by the very next decision
    assert trips.take() == 2  # the snapshot named the record b did not pass; b read again, naming it
    await a.cool_down("p/other", 30.0, "rate limited (429)")
    await b.snapshot()
    trips.take()
    await b.snapshot()
    assert trips.take() == 1  # every record now known: one round trip


async def test_the_snapshot_touches_only_the_keys_it_is_given(replicas: Replicas, client: Redis) -> None:
    """Redis checks a script's keys against the caller's ACL key patterns: a user allowed every
    routing key but one target's record can still take snapshots, so the script reads no key
    it was not given (Redis Cluster requires as much)."""
    writer = replicas.store()
    await writer.cool_down(KEY, 30.0, "rate limited (429)")
    await writer.cool_down("p/hidden", 30.0, "rate limited (429)")
    base = "{" + replicas.prefix + "}"
    user, password = f"snap-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    patterns = [f"~{base}:{name}" for name in ("seq", "idx", "sig", "sigt", f"t:{KEY}")]
    await client.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=patterns, commands=["+@all"])
    try:
        netloc = replicas.url.split("://", 1)[1]
        limited = replicas.store(url=f"redis://{user}:{password}@{netloc}")
        limited._members[f"t:{KEY}"] = 0.0  # knows one record; the other is not its to read
        limited._forget_at = float("inf")
        view = await limited._read_once(None, False, "", 0)
        assert view[5] == ["t:p/hidden"]  # named, not read
        assert json.loads(view[3])[0] == f"t:{KEY}"
        with pytest.raises(NoPermissionError):  # what reading the other record would have met
            await limited.client.hget(f"{base}:t:p/hidden", "u")
    finally:
        await client.acl_deluser(user)
