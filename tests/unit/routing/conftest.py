"""The ``stores`` fixture: the routing-state tests run once per store, this process's state
(``local``) and Redis (``redis``, on the session's real redis-server), with the same assertions.

A Redis store here runs on the test's fake clock (``RedisStore(clock=...)`` puts it in every
script instead of Redis's TIME), so the same exact waits hold for both; the tests in
``state/test_redis.py`` and ``tests/integration/test_replicas.py`` use Redis's own clock.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator

import pytest

from muxer_litellm.routing import HeuristicRouter, LocalStore, RedisStore, RoutingConfig, RoutingState, RoutingStore
from tests.unit.routing.helpers import Clock


class Stores:
    """Makes stores and routers on one backend; every Redis store of one test shares a key
    prefix of its own (so two stores are two replicas of one gateway)."""

    def __init__(self, backend: str, url: str | None) -> None:
        self.backend = backend
        self.url = url
        self.prefix = f"test:{uuid.uuid4().hex[:12]}"
        self._opened: list[RoutingStore] = []

    def store(
        self,
        clock: Clock,
        *,
        breaker_threshold: int = 3,
        breaker_cooldown: float = 30.0,
        max_cooldown: float = 300.0,
        health_ttl: float = 60.0,
    ) -> RoutingStore:
        state = RoutingState(
            clock=clock,
            breaker_threshold=breaker_threshold,
            breaker_cooldown=breaker_cooldown,
            max_cooldown=max_cooldown,
            health_ttl=health_ttl,
        )
        if self.backend == "local":
            return LocalStore(state)
        from redis.asyncio import Redis

        assert self.url is not None
        client = Redis.from_url(self.url, decode_responses=True)
        # A generous timeout: these tests check the shared rules, not the fallback (state/test_redis.py does).
        store = RedisStore(client, local=state, prefix=self.prefix, clock=clock, timeout=10.0)
        self._opened.append(store)
        return store

    def router(self, config: RoutingConfig, clock: Clock | None = None, seed: int | None = None) -> HeuristicRouter:
        clock = clock or Clock()
        store = self.store(
            clock,
            breaker_threshold=config.breaker_threshold,
            breaker_cooldown=config.breaker_cooldown,
            max_cooldown=config.max_cooldown,
            health_ttl=config.health_ttl,
        )
        rng = random.Random(seed) if seed is not None else None
        return HeuristicRouter(config, clock=clock, rng=rng, store=store)

    async def aclose(self) -> None:
        for store in self._opened:
            if isinstance(store, RedisStore):
                keys = [k async for k in store.client.scan_iter(match=f"{{{self.prefix}}}:*")]
                if keys:
                    await store.client.delete(*keys)
                break
        for store in self._opened:
            await store.aclose()


@pytest.fixture(params=["local", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    made = Stores(request.param, url)
    yield made
    await made.aclose()
