"""config/litellm-config.yaml, the production file itself, starts a REAL LiteLLM proxy.

The proxy gets fake provider keys and no database, and every upstream (each provider's base
URL and any HTTP proxy) points at a closed loopback port: nothing leaves the machine, and
anything below that needed an upstream call would fail. The background health checks the file
turns on hit that port and fail at once, so they neither slow nor break the start.
What the tests expect is derived from the YAML, so they keep holding when the models change.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from muxer_litellm import LiteLLMProvider
from tests.integration.conftest import NEWER_REPLIES
from tests.litellm_proxy import LiteLLMProxy, free_port, litellm_executable, read_proxy_version
from tests.unit.test_infra_files import CONFIG, dashboard_metric_names, env_refs, exposed_metric_names, load_yaml

pytestmark = pytest.mark.integration

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def offline_env(config: dict[str, Any]) -> dict[str, str]:
    """Fake values for every os.environ/NAME the config uses, and upstreams that go nowhere."""
    env = {name: f"sk-fake-{name.lower().replace('_', '-')}-{secrets.token_hex(4)}" for name in env_refs(str(config))}
    env.pop("LITELLM_MASTER_KEY", None)  # the launcher exports its own random master key
    nowhere = f"http://127.0.0.1:{free_port()}"  # free a moment ago: nothing listens there
    for entry in config["model_list"]:
        provider = entry["litellm_params"]["model"].split("/", 1)[0].upper()
        env[f"{provider}_API_BASE"] = env[f"{provider}_BASE_URL"] = nowhere
    env.update(dict.fromkeys(_PROXY_VARS, nowhere))
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


#: ``/router/settings`` (the router settings the proxy took from the config) exists from here on.
ROUTER_SETTINGS_ROUTE = (1, 102, 4)
#: The dashboard's series that LiteLLM 1.74.15 does not export at start-up.
OLDER_PROXY_UNEXPORTED = {
    "litellm_deployment_state",
    "litellm_proxy_total_requests_metric_total",
    "litellm_request_total_latency_metric_bucket",
    "litellm_spend_metric_total",
}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data = load_yaml(CONFIG)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def production_proxy(config: dict[str, Any]) -> Iterator[LiteLLMProxy]:
    if litellm_executable() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the litellm CLI is missing: `make test` installs .[dev,proxy]")
        pytest.skip("litellm[proxy] is not installed; run `make test` (or pip install -e '.[dev,proxy]')")
    # The file as it is on disk: its os.environ/ references resolve from the env given here.
    with LiteLLMProxy(CONFIG, master_key=f"sk-test-{secrets.token_hex(12)}", env=offline_env(config)) as proxy:
        yield proxy


@pytest.fixture
async def provider(production_proxy: LiteLLMProxy) -> AsyncIterator[LiteLLMProvider]:
    async with LiteLLMProvider(production_proxy.base_url, production_proxy.master_key) as p:
        yield p


def deployments_by_name(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in config["model_list"]:
        grouped.setdefault(entry["model_name"], []).append(entry["model_info"])
    return grouped


def shared_flag(infos: list[dict[str, Any]], flag: str) -> bool | None:
    """A load-balanced name has a capability only if every deployment has it (None: not stated)."""
    values = [info.get(flag) for info in infos]
    if any(v is False for v in values):
        return False
    return True if values and all(v is True for v in values) else None


async def test_the_catalog_lists_every_model_with_the_prices_and_windows_the_yaml_states(
    provider: LiteLLMProvider, config: dict[str, Any]
) -> None:
    await provider.refresh_models(force=True)
    cards = {card.name: card for card in provider.model_cards()}
    expected = deployments_by_name(config)
    assert set(cards) == set(expected)
    for name, infos in expected.items():
        card = cards[name]
        # Any deployment may serve a call: the dearest price and the smallest window hold for all.
        assert card.input_cost_per_1k == pytest.approx(max(i["input_cost_per_token"] for i in infos) * 1000), name
        assert card.output_cost_per_1k == pytest.approx(max(i["output_cost_per_token"] for i in infos) * 1000), name
        assert card.pricing_source == "proxy", name
        assert card.context_window == min(i["max_input_tokens"] for i in infos), name
        if all("max_output_tokens" in i for i in infos):
            assert card.max_output_tokens == min(i["max_output_tokens"] for i in infos), name
        assert card.mode == infos[0]["mode"], name
        assert len(card.deployment_ids) == len(infos), name
        for flag in ("supports_function_calling", "supports_vision", "supports_reasoning"):
            if shared_flag(infos, flag) is not None:
                assert getattr(card, flag) is shared_flag(infos, flag), f"{name}.{flag}"
    chat = {name for name, infos in expected.items() if infos[0]["mode"] != "embedding"}
    assert set(provider.get_supported_models()) == chat


async def test_cost_comes_from_the_yaml_prices(provider: LiteLLMProvider, config: dict[str, Any]) -> None:
    await provider.refresh_models(force=True)
    for name, infos in deployments_by_name(config).items():
        if len(infos) == 1:
            info = infos[0]
            expected = 1200 * info["input_cost_per_token"] + 300 * info["output_cost_per_token"]
            assert provider.calculate_cost(1200, 300, name) == pytest.approx(expected), name


async def test_the_master_key_from_the_environment_opens_the_proxy(
    provider: LiteLLMProvider, production_proxy: LiteLLMProxy, config: dict[str, Any]
) -> None:
    assert await provider.health_check() is True, provider.last_health_error
    listed = {model["id"] for model in await provider.get_available_models()}
    assert listed == set(deployments_by_name(config))
    async with httpx.AsyncClient(base_url=production_proxy.base_url, timeout=10) as client:
        readiness = (await client.get("/health/readiness")).json()
        wrong = await client.get("/v1/models", headers={"Authorization": "Bearer sk-not-the-master-key"})
    assert readiness["db"] == "Not connected"  # started without DATABASE_URL
    assert wrong.status_code in (400, 401)


async def test_the_router_took_the_fallbacks_and_retries(
    production_proxy: LiteLLMProxy, config: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=production_proxy.base_url, timeout=10) as client:
        reply = await client.get("/router/settings", headers={"Authorization": f"Bearer {production_proxy.master_key}"})
    if read_proxy_version(production_proxy) < ROUTER_SETTINGS_ROUTE:
        assert reply.status_code == 404  # an older proxy has no route to read them back
        return
    assert reply.status_code == 200, reply.text[:300]
    current = reply.json()["current_values"]
    for key, stated in config["router_settings"].items():
        assert current[key] == stated, key
    assert current["timeout"] == config["litellm_settings"]["request_timeout"]


async def test_prometheus_metrics_need_the_key_and_cover_the_dashboard(production_proxy: LiteLLMProxy) -> None:
    async with httpx.AsyncClient(base_url=production_proxy.base_url, timeout=10) as client:
        anonymous = await client.get("/metrics/")
        scraped = await client.get("/metrics/", headers={"Authorization": f"Bearer {production_proxy.master_key}"})
    assert anonymous.status_code == 401
    assert scraped.status_code == 200
    exported = exposed_metric_names(scraped.text)
    used = dashboard_metric_names("litellm_")
    assert used, "the dashboard shows no proxy metric"
    if read_proxy_version(production_proxy) < NEWER_REPLIES:
        # An older proxy does not export these at start-up: those dashboard panels stay empty.
        assert used - exported == OLDER_PROXY_UNEXPORTED
        return
    assert used <= exported, f"the dashboard queries metrics the proxy does not export: {sorted(used - exported)}"
