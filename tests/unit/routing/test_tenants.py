"""Routing several tenants: a tenant's own limits make only that tenant wait, per scope (its
provider or its target), while model- and deployment-scoped 429s cool the target for everyone;
a tenant's budget ends its request (unless the config lets other providers answer); the
in-flight cap skips the provider without touching the state; the key's models bound the
candidates; and every attempt gets the tenant's key, request id and traceparent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from muxer_litellm import (
    Attribution,
    BudgetExceededError,
    LiteLLMProvider,
    NoRouteError,
    ProviderError,
    RateLimitError,
    TenantBusyError,
    TenantProvider,
)
from muxer_litellm.host import ChatCompletionResponse, MessageInput
from muxer_litellm.routing import RoutingConfig, error_verdict
from muxer_litellm.routing.state.local import scoped_key
from muxer_litellm.testing import FakeProvider
from tests.unit.replies import API_KEY, BASE_URL, chat_body, deployment, model_info
from tests.unit.routing.helpers import CHEAP, EXPENSIVE, MID, Clock, bare, card, make_router, user

KEY_A, KEY_B = "sk-tenant-A-1234", "sk-tenant-B-5678"
MESSAGES = user("What is the capital of France?")


class TenantFake(FakeProvider):
    """A shared provider that takes the tenant keywords: ``refuse`` maps a key (or ``key:model``)
    to the error its calls raise; ``allowed`` maps a key to the models it may call."""

    def __init__(
        self,
        *args: Any,
        refuse: Mapping[str, ProviderError] | None = None,
        allowed: Mapping[str, frozenset[str]] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.refuse = dict(refuse or {})
        self.allowed = dict(allowed or {})
        self.keywords: list[dict[str, Any]] = []

    async def allowed_models(self, api_key: str | SecretStr | None = None) -> frozenset[str] | None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        return self.allowed.get(key or "")

    async def chat_completion(  # type: ignore[override]
        self,
        messages: list[MessageInput],
        model: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = False,
        *,
        api_key: SecretStr | None = None,
        extra_headers: Mapping[str, str] | None = None,
        attribution: Attribution | None = None,
        tenant_id: str | None = None,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        key = api_key.get_secret_value() if api_key is not None else None
        self.keywords.append({"model": model, "api_key": key, "attribution": attribution, "tenant_id": tenant_id})
        error = self.refuse.get(f"{key}:{model}") or self.refuse.get(key or "")
        if error is not None:
            raise error
        return await super().chat_completion(messages, model, max_tokens, temperature, stream, **kwargs)


def shared(**kw: Any) -> TenantFake:
    cards = [card("cheap", *CHEAP), card("mid", *MID)]
    return TenantFake("proxy", cards, prompt_tokens=10, completion_tokens=20, **kw)


def limited(scope: str | None, entity: str | None = None, wait: float = 30.0) -> RateLimitError:
    return RateLimitError("429 rate limited", 429, "proxy", retry_after=wait, scope=scope, entity=entity)  # type: ignore[arg-type]


def providers_of(proxy: TenantFake, native: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"proxy": proxy}
    if native:
        out["native"] = bare("native", {"dear": EXPENSIVE})
    return out


def rows(response: ChatCompletionResponse) -> list[tuple[str, str]]:
    return [(a.model, a.outcome) for a in response.router_metadata.attempts]


def test_the_fake_is_a_tenant_provider() -> None:
    assert isinstance(shared(), TenantProvider)
    assert not isinstance(bare("native", {"m": CHEAP}), TenantProvider)


@pytest.mark.parametrize(
    ("error", "action", "effect"),
    [
        pytest.param(limited("tenant", "api_key"), "skip_provider", "cool_tenant", id="tenant"),
        pytest.param(limited("tenant_model", "model_per_key"), "next", "cool_tenant_target", id="tenant-model"),
        pytest.param(limited("deployment"), "next", "cool_down", id="deployment"),
        pytest.param(limited(None), "next", "cool_down", id="unknown"),
        pytest.param(TenantBusyError("busy", None, "p", retry_after=1.0, scope="tenant"), "skip_provider", "none"),
        pytest.param(BudgetExceededError("spent", 422, "p", scope="tenant", entity="key"), "stop", "none"),
        pytest.param(BudgetExceededError("spent", 422, "p", scope="proxy"), "skip_provider", "none", id="proxy-budget"),
    ],
)
def test_the_policy_of_scoped_errors(error: ProviderError, action: str, effect: str) -> None:
    verdict = error_verdict(error, rate_limit_cooldown=5.0)
    assert (verdict.action, verdict.effect) == (action, effect)


def test_a_tenants_budget_lets_other_providers_answer_when_the_config_says() -> None:
    error = BudgetExceededError("spent", 422, "p", scope="tenant", entity="key")
    assert error_verdict(error, rate_limit_cooldown=5.0, tenant_budget_fallback=True).action == "skip_provider"


async def test_a_tenant_over_its_own_limit_waits_alone() -> None:
    proxy = shared(refuse={KEY_A: limited("tenant", "api_key")})
    providers = providers_of(proxy)
    router = make_router(RoutingConfig(default_strategy="cost_optimized"))
    answered = await router.route_request(MESSAGES, providers, api_key=KEY_A)
    # A's key is over its limit on the proxy: its other models would fail alike, the native answers.
    assert rows(answered) == [("cheap", "failed"), ("mid", "skipped"), ("dear", "ok")]
    assert await router.store.status("proxy/cheap", "proxy") is None  # nobody else waits
    for _ in range(3):
        b = await router.route_request(MESSAGES, providers, api_key=KEY_B)
        assert rows(b) == [("cheap", "ok")]  # the same model, zero fallbacks
    again = await router.route_request(MESSAGES, providers, api_key=KEY_A)
    assert rows(again) == [("dear", "ok")]  # A's proxy targets are out at planning: no call
    assert [k["api_key"] for k in proxy.keywords] == [KEY_A, KEY_B, KEY_B, KEY_B]


async def test_a_tenants_per_model_limit_waits_on_that_target_only() -> None:
    proxy = shared(refuse={})
    providers = providers_of(proxy, native=False)
    router = make_router(RoutingConfig(default_strategy="cost_optimized"))
    proxy.refuse[f"{KEY_A}:cheap"] = limited("tenant_model", "model_per_key")
    first = await router.route_request(MESSAGES, providers, api_key=KEY_A)
    # The next target of the same provider serves: the limit was this key's for this model only.
    assert rows(first) == [("cheap", "failed"), ("mid", "ok")]
    assert (await router.store.status("proxy/cheap", "proxy", None)) is None
    plan = await router.plan(MESSAGES, providers, api_key=KEY_A)
    assert plan.candidates[0].model == "mid"
    assert "proxy/cheap" in plan.excluded
    assert (await router.plan(MESSAGES, providers, api_key=KEY_B)).candidates[0].model == "cheap"


@pytest.mark.parametrize("scope", ["deployment", None])
async def test_a_deployment_or_unscoped_429_cools_the_target_for_everyone(scope: str | None) -> None:
    proxy = shared(refuse={f"{KEY_A}:cheap": limited(scope)})  # type: ignore[arg-type]
    providers = providers_of(proxy, native=False)
    router = make_router(RoutingConfig(default_strategy="cost_optimized"))
    await router.route_request(MESSAGES, providers, api_key=KEY_A)
    assert await router.store.status("proxy/cheap", "proxy") is not None
    b = await router.route_request(MESSAGES, providers, api_key=KEY_B)
    assert rows(b) == [("mid", "ok")]


async def test_a_tenants_budget_ends_its_request_by_default() -> None:
    spent = BudgetExceededError("budget exceeded: Key=...", 422, "proxy", scope="tenant", entity="key")
    proxy = shared(refuse={KEY_A: spent})
    providers = providers_of(proxy)
    with pytest.raises(BudgetExceededError):
        await make_router(RoutingConfig(default_strategy="cost_optimized")).route_request(
            MESSAGES, providers, api_key=KEY_A
        )
    assert providers["native"].calls == []
    router = make_router(RoutingConfig(default_strategy="cost_optimized", tenant_budget_fallback=True))
    answered = await router.route_request(MESSAGES, providers, api_key=KEY_A)
    assert rows(answered) == [("cheap", "failed"), ("mid", "skipped"), ("dear", "ok")]


async def test_the_in_flight_cap_skips_the_provider_without_state() -> None:
    busy = TenantBusyError("busy", None, "proxy", retry_after=1.0, scope="tenant", entity="in_flight")
    proxy = shared(refuse={KEY_A: busy})
    providers = providers_of(proxy)
    router = make_router(RoutingConfig(default_strategy="cost_optimized"))
    answered = await router.route_request(MESSAGES, providers, api_key=KEY_A)
    assert rows(answered) == [("cheap", "failed"), ("mid", "skipped"), ("dear", "ok")]
    assert await router.store.status("proxy/cheap", "proxy", None) is None
    proxy.refuse.clear()
    assert rows(await router.route_request(MESSAGES, providers, api_key=KEY_A)) == [("cheap", "ok")]


async def test_a_keys_models_bound_its_candidates() -> None:
    proxy = shared(allowed={KEY_A: frozenset({"mid"})})
    providers = providers_of(proxy, native=False)
    router = make_router(RoutingConfig(default_strategy="cost_optimized"))
    assert rows(await router.route_request(MESSAGES, providers, api_key=KEY_A)) == [("mid", "ok")]
    assert rows(await router.route_request(MESSAGES, providers, api_key=KEY_B)) == [("cheap", "ok")]
    combo = RoutingConfig(combos={"c": {"targets": ["proxy/cheap", "proxy/mid"]}})
    plan = await make_router(combo).plan(MESSAGES, providers, "c", api_key=KEY_A)
    assert [c.key for c in plan.candidates] == ["proxy/mid"]
    assert "not among the models" in plan.excluded["proxy/cheap"]
    nothing = shared(allowed={KEY_A: frozenset({"other"})})
    with pytest.raises(NoRouteError):
        await make_router(combo).route_request(MESSAGES, {"proxy": nothing}, "c", api_key=KEY_A)


async def test_a_tenants_wait_is_kept_under_a_keyed_hash_never_the_key() -> None:
    proxy = shared(refuse={KEY_A: limited("tenant", "api_key")})
    router = make_router(RoutingConfig(default_strategy="cost_optimized", tenant_hash_key="shared-secret"))
    await router.route_request(MESSAGES, providers_of(proxy), api_key=KEY_A)
    keys = list(router.state._records)
    assert keys
    assert not any(KEY_A in k for k in keys)
    label = proxy.keywords[0]["tenant_id"]
    assert label.startswith("key-")
    assert scoped_key(label, "proxy") in keys
    # Another router with the same hash key names the tenant the same (replicas agree); another key, not.
    again = shared()
    await make_router(RoutingConfig(tenant_hash_key="shared-secret")).route_request(
        MESSAGES, {"proxy": again}, api_key=KEY_A
    )
    await make_router(RoutingConfig(tenant_hash_key="other-secret")).route_request(
        MESSAGES, {"proxy": again}, api_key=KEY_A
    )
    assert again.keywords[0]["tenant_id"] == label != again.keywords[1]["tenant_id"]


async def test_a_given_tenant_id_names_the_tenant() -> None:
    proxy = shared(refuse={KEY_A: limited("tenant", "api_key")})
    router = make_router(RoutingConfig(default_strategy="cost_optimized"))
    await router.route_request(MESSAGES, providers_of(proxy), api_key=KEY_A, tenant_id="acme")
    assert proxy.keywords[0]["tenant_id"] == "acme"
    assert await router.store.status("proxy/cheap", "proxy", "acme") is not None
    with pytest.raises(ProviderError, match="tenant_id"):
        await router.route_request(MESSAGES, providers_of(proxy), tenant_id="no spaces allowed")


async def test_every_attempt_carries_the_tenants_key_request_id_and_traceparent(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(
        return_value=httpx.Response(
            200,
            json=model_info(
                deployment("cheap", input_cost=1e-7, output_cost=1e-7, max_input_tokens=8000),
                deployment("mid", input_cost=1e-6, output_cost=1e-6, max_input_tokens=8000),
            ),
        )
    )
    proxy.get("/v1/models").mock(return_value=httpx.Response(200, json={"data": [{"id": "cheap"}, {"id": "mid"}]}))
    route = proxy.post("/v1/chat/completions").mock(
        side_effect=[
            httpx.Response(503, json={"error": {"message": "upstream down", "code": "503"}}),
            httpx.Response(200, json=chat_body(), headers={"x-litellm-response-cost": "0.001"}),
        ]
    )
    native = bare("native", {"dear": EXPENSIVE})
    async with LiteLLMProvider(BASE_URL, API_KEY) as litellm:
        router = make_router(RoutingConfig(default_strategy="cost_optimized"), Clock())
        reply = await router.route_request(
            MESSAGES, {"litellm": litellm, "native": native}, api_key=KEY_A, attribution={"user": "end-9"}
        )
    assert rows(reply) == [("cheap", "failed"), ("mid", "ok")]
    sent = [(c.request.headers, json.loads(c.request.content)) for c in route.calls]
    assert len(sent) == 2
    assert {h["authorization"] for h, _ in sent} == {f"Bearer {KEY_A}"}
    assert len({h["traceparent"] for h, _ in sent}) == 1
    request_ids = {b["metadata"]["spend_logs_metadata"]["request_id"] for _, b in sent}
    assert request_ids == {reply.router_metadata.request_id}
    assert all(b["user"] == "end-9" and "api_key" not in b for _, b in sent)


async def test_native_providers_get_none_of_the_tenant_keywords() -> None:
    native = bare("native", {"m": CHEAP})
    router = make_router(RoutingConfig(default_strategy="cost_optimized"))
    await router.route_request(MESSAGES, {"native": native}, api_key=KEY_A, extra_headers={"x": "y"})
    params = native.calls[0].params
    assert not set(params) & {"api_key", "extra_headers", "attribution", "tenant_id"}


def test_the_tenant_hash_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from muxer_litellm.routing import load_routing_config

    monkeypatch.setenv("MUXER_ROUTING_TENANT_HASH_KEY", "from-env-secret")
    config = load_routing_config()
    assert config.tenant_hash_key is not None
    assert config.tenant_hash_key.get_secret_value() == "from-env-secret"
    assert "from-env-secret" not in repr(config)
