"""A tenant's own waits in the routing state, on every store (the ``stores`` fixture: local and
Redis): a wait on (tenant, provider) or (tenant, target) holds for that tenant only, is read
with the rest of the state in one snapshot, and ends by itself; on Redis, what one replica
records holds for another, whether it admits from its last read or with a trip."""

from __future__ import annotations

import asyncio

from muxer_litellm.routing import TargetStatus, Ticket
from muxer_litellm.routing.state.local import DEFAULT_TENANT, scoped_key
from muxer_litellm.routing.state.redis import VIEW_FRESH
from tests.unit.routing.conftest import Stores
from tests.unit.routing.helpers import Clock

KEY, OTHER, PROVIDER = "p/m", "p/n", "p"


async def test_a_tenants_wait_on_a_provider_holds_for_that_tenant_only(stores: Stores) -> None:
    clock = Clock()
    state = stores.store(clock)
    assert await state.cool_down(scoped_key("acme", PROVIDER), 30.0, "acme's key limit (429)") == 30.0
    refused = await state.admit(KEY, PROVIDER, tenant="acme")
    assert isinstance(refused, TargetStatus)
    assert refused.cause == "rate_limit"
    assert 29.0 <= refused.remaining <= 30.0
    assert "acme's key limit" in refused.reason
    assert isinstance(await state.admit(OTHER, PROVIDER, tenant="acme"), TargetStatus)
    for tenant in ("globex", None):
        assert isinstance(await state.admit(KEY, PROVIDER, tenant=tenant), Ticket)
    view = await state.snapshot()
    assert view.status(KEY, PROVIDER) is None
    assert view.for_tenant("globex").status(KEY, PROVIDER) is None
    assert view.for_tenant("acme").status(KEY, PROVIDER) is not None
    assert await state.status(KEY, PROVIDER) is None
    assert await state.status(KEY, PROVIDER, "acme") is not None
    wait = await state.shortest_wait([(KEY, PROVIDER), (OTHER, PROVIDER)], "acme")
    assert wait is not None
    assert 29.0 <= wait <= 30.0
    assert await state.shortest_wait([(KEY, PROVIDER)], "globex") is None
    clock.now += 31
    assert isinstance(await state.admit(KEY, PROVIDER, tenant="acme"), Ticket)
    assert (await state.snapshot()).for_tenant("acme").status(KEY, PROVIDER) is None


async def test_a_tenants_wait_on_one_target_leaves_its_other_targets(stores: Stores) -> None:
    clock = Clock()
    state = stores.store(clock)
    await state.cool_down(scoped_key("acme", KEY), 10.0, "acme's limit for this model (429)")
    assert isinstance(await state.admit(KEY, PROVIDER, tenant="acme"), TargetStatus)
    assert isinstance(await state.admit(OTHER, PROVIDER, tenant="acme"), Ticket)
    assert isinstance(await state.admit(KEY, PROVIDER, tenant="globex"), Ticket)
    assert await state.breaker_state(KEY) == "closed"


async def test_the_providers_own_key_is_a_tenant_too(stores: Stores) -> None:
    state = stores.store(Clock())
    await state.cool_down(scoped_key(None, PROVIDER), 10.0, "the provider key's limit (429)")
    assert scoped_key(None, PROVIDER) == f"@{DEFAULT_TENANT}|{PROVIDER}"
    assert isinstance(await state.admit(KEY, PROVIDER), TargetStatus)
    assert isinstance(await state.admit(KEY, PROVIDER, tenant="acme"), Ticket)


async def test_a_stale_429_of_the_same_episode_does_not_extend_a_tenants_wait(stores: Stores) -> None:
    clock = Clock()
    state = stores.store(clock)
    early = await state.admit(KEY, PROVIDER, tenant="acme")
    assert isinstance(early, Ticket)
    assert await state.cool_down(scoped_key("acme", PROVIDER), 10.0, "first", ticket=early) == 10.0
    clock.now += 5
    # Another call admitted before the wait began got its 429 late: same episode.
    assert await state.cool_down(scoped_key("acme", PROVIDER), 10.0, "late", ticket=early) == 0.0
    status = await state.status(KEY, PROVIDER, "acme")
    assert status is not None
    assert status.remaining <= 5.0


async def test_a_tenants_wait_set_by_one_replica_holds_in_another(stores: Stores) -> None:
    clock = Clock()
    one, two = stores.store(clock), stores.store(clock)
    await two.snapshot()  # two has read before the wait began
    await one.cool_down(scoped_key("acme", PROVIDER), 20.0, "acme's key limit (429)")
    if stores.backend == "local":
        # Two local stores are two processes that share nothing: only the first knows.
        assert isinstance(await two.admit(KEY, PROVIDER, tenant="acme"), Ticket)
        return
    # Admitted with a trip once two's read is too old to admit from, and from a fresh read alike.
    clock.now += 1
    await asyncio.sleep(VIEW_FRESH * 1.5)
    assert isinstance(await two.admit(KEY, PROVIDER, tenant="acme"), TargetStatus)
    view = await two.snapshot()
    assert view.for_tenant("acme").status(KEY, PROVIDER) is not None
    assert isinstance(await two.admit(KEY, PROVIDER, tenant="acme"), TargetStatus)
    assert isinstance(await two.admit(KEY, PROVIDER, tenant="globex"), Ticket)
