"""Model discovery and the catalog: ``refresh_models()`` parsing ``/model/info`` into ``ModelCard``s,
caching (TTL, single-flight), custom models, the sync lookups and ``calculate_cost``."""

from __future__ import annotations

import asyncio
import json
import math
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

import muxer_litellm.proxy.catalog as catalog_module
from muxer_litellm import (
    AuthenticationError,
    LiteLLMProvider,
    ModelCard,
    ModelCatalog,
    ProviderError,
    ProviderUnavailableError,
)
from tests.unit.replies import API_KEY, BASE_URL, deployment, error_body, model_info

NAN = float("nan")

# Typical LiteLLM per-token prices and the per-1K values they must become.
IN_PER_TOKEN, IN_PER_1K = 5e-07, 0.0005
OUT_PER_TOKEN, OUT_PER_1K = 1.5e-06, 0.0015
CUSTOM_IN_1K, CUSTOM_OUT_1K = 0.001, 0.002


def info_response(payload: Any) -> httpx.Response:
    """A /model/info reply; serialised with the stdlib so NaN/Infinity go out as the proxy's Python would."""
    return httpx.Response(200, content=json.dumps(payload).encode(), headers={"content-type": "application/json"})


def mock_info(proxy: respx.MockRouter, *entries: dict[str, Any]) -> respx.Route:
    return proxy.get("/model/info").mock(return_value=info_response(model_info(*entries)))


async def load(proxy: respx.MockRouter, provider: LiteLLMProvider, *entries: dict[str, Any]) -> respx.Route:
    route = mock_info(proxy, *entries)
    await provider.refresh_models()
    return route


def card_of(provider: LiteLLMProvider, name: str) -> ModelCard:
    card = provider.get_model_info(name)
    assert card is not None, f"no card for {name!r}"
    return card


# ---------------------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("per_token", "per_1k"),
    [(5e-07, 0.0005), (1.5e-06, 0.0015), (3e-06, 0.003), (1e-07, 0.0001), (1.5e-05, 0.015)],
    ids=["5e-07", "1.5e-06", "3e-06", "1e-07", "1.5e-05"],
)
async def test_per_token_price_converts_exactly_to_per_1k(
    proxy: respx.MockRouter, provider: LiteLLMProvider, per_token: float, per_1k: float
) -> None:
    await load(proxy, provider, deployment("m", input_cost=per_token, output_cost=per_token))
    card = card_of(provider, "m")
    assert card.input_cost_per_1k == per_1k
    assert card.output_cost_per_1k == per_1k
    assert card.pricing_source == "proxy"
    assert card.price_known is True


@pytest.mark.parametrize(
    ("input_cost", "output_cost"),
    [(None, None), (0, 0), (0.0, 0.0)],
    ids=["null-prices", "int-zero-prices", "float-zero-prices"],
)
async def test_model_missing_from_cost_map_has_unknown_price_never_zero(
    proxy: respx.MockRouter, provider: LiteLLMProvider, input_cost: float | None, output_cost: float | None
) -> None:
    await load(proxy, provider, deployment("mystery", input_cost=input_cost, output_cost=output_cost))
    card = card_of(provider, "mystery")
    assert card.input_cost_per_1k is None
    assert card.output_cost_per_1k is None
    assert card.pricing_source == "unknown"
    assert card.price_known is False
    assert card.cost(100, 100) is None


async def test_zero_price_set_by_the_operator_is_a_known_zero(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(
        proxy,
        provider,
        deployment(
            "local",
            input_cost=0.0,
            output_cost=0.0,
            pricing_overrides=["input_cost_per_token", "output_cost_per_token"],
        ),
    )
    card = card_of(provider, "local")
    assert card.input_cost_per_1k == 0.0
    assert card.output_cost_per_1k == 0.0
    assert card.pricing_source == "proxy"
    assert provider.calculate_cost(1000, 1000, "local") == 0.0


async def test_embedding_with_zero_output_price_has_a_known_zero_output(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(proxy, provider, deployment("embed", input_cost=1e-07, output_cost=0, mode="embedding"))
    card = card_of(provider, "embed")
    assert card.input_cost_per_1k == 0.0001
    assert card.output_cost_per_1k == 0.0
    assert card.pricing_source == "proxy"
    assert card.mode == "embedding"


async def test_embedding_with_null_output_price_bills_input_only(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(proxy, provider, deployment("embed", input_cost=1e-07, output_cost=None, mode="embedding"))
    card = card_of(provider, "embed")
    assert (card.input_cost_per_1k, card.output_cost_per_1k) == (0.0001, 0.0)
    assert provider.calculate_cost(2000, 0, "embed") == 2000 * 0.0001 / 1000


@pytest.mark.parametrize(
    "bad",
    [-1e-06, NAN, float("inf"), True, "free", "-1e-06", "nan", "1e-06 USD"],
    ids=["negative", "nan", "inf", "bool", "word", "negative-str", "nan-str", "str-with-unit"],
)
async def test_invalid_price_numbers_are_unknown(proxy: respx.MockRouter, provider: LiteLLMProvider, bad: Any) -> None:
    await load(proxy, provider, deployment("m", input_cost=bad, output_cost=bad))
    card = card_of(provider, "m")
    assert card.input_cost_per_1k is None
    assert card.output_cost_per_1k is None
    assert card.pricing_source == "unknown"


async def test_prices_an_older_proxy_passes_as_strings_are_read_as_numbers(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    # LiteLLM 1.74 reports model_info as its YAML parser read it, and YAML 1.1 reads 3e-06 as a string.
    await load(proxy, provider, deployment("m", input_cost="3e-06", output_cost=" 1.5e-05 "))
    card = card_of(provider, "m")
    assert (card.input_cost_per_1k, card.output_cost_per_1k) == (0.003, 0.015)
    assert provider.calculate_cost(1000, 1000, "m") == pytest.approx(0.018)


@pytest.mark.parametrize(
    ("input_cost", "output_cost"),
    [
        (-3e-06, OUT_PER_TOKEN),
        (NAN, OUT_PER_TOKEN),
        (True, OUT_PER_TOKEN),
        ("3e-06 USD", OUT_PER_TOKEN),
        (IN_PER_TOKEN, -1.5e-06),
        (None, OUT_PER_TOKEN),
        (IN_PER_TOKEN, None),
    ],
    ids=["negative-input", "nan-input", "bool-input", "str-input", "negative-output", "null-input", "null-output"],
)
async def test_invalid_price_is_unknown_even_when_the_other_price_is_valid(
    proxy: respx.MockRouter, provider: LiteLLMProvider, input_cost: Any, output_cost: Any
) -> None:
    # An invalid number is "unknown", not "free": the card must not be priced with a 0 in its place.
    await load(proxy, provider, deployment("half", input_cost=input_cost, output_cost=output_cost))
    card = card_of(provider, "half")
    assert card.price_known is False
    assert card.pricing_source == "unknown"
    assert provider.calculate_cost(1000, 1000, "half") == math.inf


# ---------------------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"max_input_tokens": 128000, "max_tokens": 4096}, 128000),
        ({"max_input_tokens": None, "max_tokens": 8192}, 8192),
        ({"max_input_tokens": -5, "max_tokens": 100}, 100),
        ({"max_input_tokens": "big"}, None),
        ({"max_input_tokens": True}, None),
        ({"max_input_tokens": 0}, None),
        ({}, None),
    ],
    ids=["max-input", "fallback-max-tokens", "negative-falls-back", "str", "bool", "zero", "none"],
)
async def test_context_window_from_max_input_tokens_else_max_tokens(
    proxy: respx.MockRouter, provider: LiteLLMProvider, limits: dict[str, Any], expected: int | None
) -> None:
    await load(proxy, provider, deployment("m", **limits))
    assert card_of(provider, "m").context_window == expected


async def test_card_carries_deployment_metadata(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    await load(
        proxy,
        provider,
        deployment(
            "smart",
            upstream="anthropic/claude-x",
            model_id="dep-123",
            input_cost=3e-06,
            output_cost=1.5e-05,
            max_input_tokens=200000,
            max_output_tokens=8192,
            litellm_provider="anthropic",
            mode="chat",
        ),
    )
    card = card_of(provider, "smart")
    assert card.name == "smart"
    assert card.upstream_model == "anthropic/claude-x"
    assert card.model_id == "dep-123"
    assert card.deployment_ids == ("dep-123",)
    assert card.provider == "anthropic"
    assert card.mode == "chat"
    assert card.context_window == 200000
    assert card.max_output_tokens == 8192
    assert (card.input_cost_per_1k, card.output_cost_per_1k) == (0.003, 0.015)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("yes", None), ("true", None), (1, None), (None, None), (False, False)],
    ids=["true", "yes", "str-true", "one", "none", "false"],
)
async def test_only_json_booleans_set_a_capability_anything_else_is_unknown(
    proxy: respx.MockRouter, provider: LiteLLMProvider, value: Any, expected: bool | None
) -> None:
    await load(
        proxy,
        provider,
        deployment(
            "m",
            supports_function_calling=value,
            supports_vision=value,
            supports_response_schema=value,
            supports_reasoning=value,
        ),
    )
    card = card_of(provider, "m")
    assert card.supports_function_calling is expected
    assert card.supports_vision is expected
    assert card.supports_response_schema is expected
    assert card.supports_reasoning is expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({}, ("general",)),
        ({"mode": None}, ("general",)),
        ({"supports_function_calling": True}, ("general", "tools")),
        ({"supports_vision": True, "supports_reasoning": True}, ("general", "vision", "reasoning")),
        (
            {"supports_function_calling": True, "supports_vision": True, "supports_reasoning": True},
            ("general", "tools", "vision", "reasoning"),
        ),
        ({"mode": "embedding", "supports_function_calling": True}, ("embedding",)),
        ({"mode": "image_generation"}, ("image_generation",)),
        ({"task_types": ["code", "chat"], "supports_vision": True}, ("code", "chat")),
    ],
    ids=["plain", "no-mode", "tools", "vision-reasoning", "all", "embedding", "image", "declared"],
)
async def test_task_types_are_derived_or_kept_as_declared(
    proxy: respx.MockRouter, provider: LiteLLMProvider, info: dict[str, Any], expected: tuple[str, ...]
) -> None:
    await load(proxy, provider, deployment("m", **info))
    assert card_of(provider, "m").task_types == expected


@pytest.mark.parametrize(
    ("params", "info", "expected"),
    [
        ({"rpm": 60, "tpm": 100000}, {}, {"requests_per_minute": 60, "tokens_per_minute": 100000}),
        ({}, {"rpm": 10}, {"requests_per_minute": 10}),
        ({"rpm": 30}, {"rpm": 10, "tpm": 500}, {"requests_per_minute": 30, "tokens_per_minute": 500}),
        ({"rpm": -1, "tpm": "many"}, {}, None),
        ({}, {}, None),
    ],
    ids=["params", "model-info", "params-win-over-info", "invalid", "none"],
)
async def test_rate_limits_from_rpm_and_tpm(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    params: dict[str, Any],
    info: dict[str, Any],
    expected: dict[str, int] | None,
) -> None:
    await load(proxy, provider, deployment("m", params=params, **info))
    assert card_of(provider, "m").rate_limits == expected


async def test_wildcards_and_malformed_entries_are_skipped(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    await load(
        proxy,
        provider,
        deployment("openai/*", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN),
        deployment("*"),
        "not an entry",  # type: ignore[arg-type]
        42,  # type: ignore[arg-type]
        {"litellm_params": {"model": "openai/x"}, "model_info": {}},
        {"model_name": "", "model_info": {}},
        {"model_name": 7, "model_info": {}},
        deployment("real", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN),
    )
    assert [c.name for c in provider.model_cards()] == ["real"]


async def test_entry_with_non_dict_params_and_info_is_an_unpriced_card(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(proxy, provider, {"model_name": "bare", "litellm_params": "x", "model_info": None})
    card = card_of(provider, "bare")
    assert card.upstream_model is None
    assert card.model_id is None
    assert card.pricing_source == "unknown"
    assert card.input_cost_per_1k is None


# ---------------------------------------------------------------------------------------- merging


async def test_two_deployments_merge_dearest_price_smallest_limits_shared_capabilities(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(
        proxy,
        provider,
        deployment(
            "pool",
            upstream="openai/a",
            model_id="dep-a",
            input_cost=5e-07,
            output_cost=3e-06,
            max_input_tokens=128000,
            max_output_tokens=4096,
            supports_function_calling=True,
            supports_vision=True,
            supports_response_schema=True,
        ),
        deployment(
            "pool",
            upstream="azure/b",
            model_id="dep-b",
            input_cost=1e-06,
            output_cost=1.5e-06,
            max_input_tokens=32000,
            max_output_tokens=8192,
            supports_function_calling=True,
            supports_reasoning=True,
            params={"rpm": 10},
        ),
    )
    card = card_of(provider, "pool")
    assert card.input_cost_per_1k == 0.001
    assert card.output_cost_per_1k == 0.003
    assert card.pricing_source == "proxy"
    assert card.context_window == 32000
    assert card.max_output_tokens == 4096
    assert card.supports_function_calling is True
    # One deployment says yes, the other does not say: unknown, not "no".
    assert card.supports_vision is None
    assert card.supports_response_schema is None
    assert card.supports_reasoning is None
    assert card.task_types == ("general", "tools")
    assert card.model_id is None
    assert card.deployment_ids == ("dep-a", "dep-b")
    assert card.upstream_model is None
    assert len(provider.model_cards()) == 1


async def test_merged_deployments_with_the_same_upstream_keep_it(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(
        proxy,
        provider,
        deployment(
            "pool", upstream="openai/same", model_id="dep-a", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN
        ),
        deployment(
            "pool", upstream="openai/same", model_id="dep-b", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN
        ),
    )
    card = card_of(provider, "pool")
    assert card.upstream_model == "openai/same"
    assert card.model_id is None
    assert (card.input_cost_per_1k, card.output_cost_per_1k) == (IN_PER_1K, OUT_PER_1K)


async def test_one_unpriced_deployment_makes_the_merged_price_unknown(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(
        proxy,
        provider,
        deployment("pool", model_id="dep-a", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN),
        deployment("pool", model_id="dep-b", input_cost=None, output_cost=None),
    )
    card = card_of(provider, "pool")
    assert card.input_cost_per_1k is None
    assert card.output_cost_per_1k is None
    assert card.pricing_source == "unknown"
    assert provider.calculate_cost(10, 10, "pool") == math.inf


# ---------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"<html>oops</html>", "text/html"),
        (b"[1, 2]", "application/json"),
        (b'{"data": "x"}', "application/json"),
        (b'{"models": []}', "application/json"),
    ],
    ids=["not-json", "json-list", "data-not-a-list", "missing-data"],
)
async def test_malformed_model_info_raises_and_keeps_the_previous_catalog(
    proxy: respx.MockRouter, provider: LiteLLMProvider, content: bytes, content_type: str
) -> None:
    good = info_response(model_info(deployment("kept", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN)))
    bad = httpx.Response(200, content=content, headers={"content-type": content_type})
    route = proxy.get("/model/info").mock(side_effect=[good, bad])
    await provider.refresh_models()
    before = provider.model_cards()

    with pytest.raises(ProviderError) as caught:
        await provider.refresh_models(force=True)

    assert type(caught.value) is ProviderError
    assert "/model/info" in str(caught.value)
    assert caught.value.status_code == 200
    assert route.call_count == 2
    assert provider.model_cards() == before
    assert card_of(provider, "kept").input_cost_per_1k == IN_PER_1K


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, error_body("Authentication Error, No connected db.", "no_db_connection", "400")),
        (401, error_body("Authentication Error, Invalid proxy server token passed.", "auth_error", "401")),
    ],
    ids=["no-db-connection", "401"],
)
async def test_rejected_key_on_model_info_is_an_authentication_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, status: int, body: dict[str, Any]
) -> None:
    proxy.get("/model/info").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(AuthenticationError) as caught:
        await provider.refresh_models()
    assert caught.value.status_code == status
    assert caught.value.retryable is False
    assert API_KEY not in str(caught.value)
    assert provider.model_cards() == []


# ---------------------------------------------------------------------------------------- caching


async def test_second_refresh_within_ttl_makes_no_request(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = await load(proxy, provider, deployment("m", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN))
    cards = await provider.refresh_models()
    assert route.call_count == 1
    assert [c.name for c in cards] == ["m"]


async def test_force_refetches_within_ttl(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = await load(proxy, provider, deployment("m"))
    await provider.refresh_models(force=True)
    assert route.call_count == 2


async def test_zero_ttl_always_refetches(proxy: respx.MockRouter) -> None:
    route = mock_info(proxy, deployment("m"))
    async with LiteLLMProvider(BASE_URL, API_KEY, catalog_ttl=0) as provider:
        for _ in range(3):
            await provider.refresh_models()
    assert route.call_count == 3


async def test_catalog_expires_after_ttl(
    proxy: respx.MockRouter, provider: LiteLLMProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(catalog_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    route = await load(proxy, provider, deployment("m"))
    assert provider.catalog_ttl == 300.0

    clock[0] = 1000.0 + 299.0
    await provider.refresh_models()
    assert route.call_count == 1

    clock[0] = 1000.0 + 301.0
    await provider.refresh_models()
    assert route.call_count == 2


def test_catalog_is_fresh_only_within_ttl_of_the_last_load() -> None:
    catalog = ModelCatalog()
    assert catalog.is_fresh(60.0, now=0.0) is False
    assert catalog.loaded is False
    catalog.load(model_info(deployment("m")), now=100.0)
    assert catalog.fetched_at == 100.0
    assert catalog.is_fresh(60.0, now=159.9) is True
    assert catalog.is_fresh(60.0, now=160.0) is False
    assert catalog.is_fresh(0.0, now=100.0) is False


async def test_concurrent_refreshes_share_one_request(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        for _ in range(5):
            await asyncio.sleep(0)
        return info_response(model_info(deployment("a", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN)))

    route = proxy.get("/model/info").mock(side_effect=slow)
    results = await asyncio.gather(*(provider.refresh_models() for _ in range(10)))

    assert route.call_count == 1
    assert len(results) == 10
    assert all(r == results[0] for r in results)
    assert [c.name for c in results[0]] == ["a"]
    assert results[0][0].input_cost_per_1k == IN_PER_1K


async def test_failed_shared_refresh_raises_in_every_waiter_and_the_next_call_retries(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    async def failing(request: httpx.Request) -> httpx.Response:
        for _ in range(5):
            await asyncio.sleep(0)
        return httpx.Response(500, json=error_body("upstream exploded", None, "500"))

    route = proxy.get("/model/info").mock(side_effect=failing)
    results = await asyncio.gather(*(provider.refresh_models() for _ in range(10)), return_exceptions=True)

    assert route.call_count == 1
    assert all(isinstance(r, ProviderUnavailableError) for r in results), results
    assert all("upstream exploded" in str(r) for r in results)
    assert provider.model_cards() == []

    route.side_effect = None
    route.return_value = info_response(model_info(deployment("back")))
    cards = await provider.refresh_models()
    assert route.call_count == 2
    assert [c.name for c in cards] == ["back"]


async def test_cancelling_one_waiter_does_not_cancel_the_shared_refresh(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def gated(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return info_response(model_info(deployment("a"), deployment("b")))

    route = proxy.get("/model/info").mock(side_effect=gated)
    waiters = [asyncio.create_task(provider.refresh_models()) for _ in range(3)]
    await entered.wait()
    waiters[0].cancel()
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)

    assert isinstance(results[0], asyncio.CancelledError)
    assert [[c.name for c in r] for r in results[1:]] == [["a", "b"], ["a", "b"]]  # type: ignore[union-attr]
    assert route.call_count == 1
    assert [c.name for c in provider.model_cards()] == ["a", "b"]


# ---------------------------------------------------------------------------------------- lookups


async def test_get_model_info_is_none_for_an_unknown_model(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    await load(proxy, provider, deployment("m", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN))
    assert provider.get_model_info("nope") is None
    assert card_of(provider, "m").input_cost_per_1k == IN_PER_1K
    assert [c.name for c in provider.model_cards()] == ["m"]


async def test_get_supported_models_lists_chat_models_sorted_with_custom_ones(proxy: respx.MockRouter) -> None:
    mock_info(
        proxy,
        deployment("zeta"),
        deployment("embed", mode="embedding"),
        deployment("alpha"),
        deployment("img", mode="image_generation"),
        deployment("legacy", mode="completion"),
        deployment("speech", mode="audio_speech"),
    )
    custom = {"mid-custom": {"pricing": {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K}}}
    async with LiteLLMProvider(BASE_URL, API_KEY, custom_models=custom) as provider:
        assert provider.get_supported_models() == ["mid-custom"]
        await provider.refresh_models()
        supported = provider.get_supported_models()
        assert supported == ["alpha", "legacy", "mid-custom", "zeta"]
        assert provider.get_supported_models() == supported
        assert {c.name for c in provider.model_cards()} == {*supported, "embed", "img", "speech"}


async def test_get_available_models_keeps_items_with_a_string_id(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    data = [
        {"id": "a", "object": "model"},
        {"id": 5},
        "b",
        {"object": "model"},
        {"id": "c", "owned_by": "openai"},
    ]
    route = proxy.get("/v1/models").mock(return_value=httpx.Response(200, json={"data": data, "object": "list"}))
    models = await provider.get_available_models()
    assert models == [{"id": "a", "object": "model"}, {"id": "c", "owned_by": "openai"}]
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("body", [{"object": "list"}, {"data": "x"}, {"data": None}], ids=["missing", "str", "null"])
async def test_get_available_models_without_a_data_list_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, body: dict[str, Any]
) -> None:
    proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ProviderError) as caught:
        await provider.get_available_models()
    assert "/v1/models" in str(caught.value)
    assert "data" in str(caught.value)


# ---------------------------------------------------------------------------------------- custom models


async def test_constructor_custom_model_is_usable_before_any_refresh(proxy: respx.MockRouter) -> None:
    custom = {
        "m": {
            "pricing": {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K},
            "rate_limits": {"requests_per_minute": 100},
            "metadata": {"context_window": 8000, "supports_vision": True},
        }
    }
    async with LiteLLMProvider(BASE_URL, API_KEY, custom_models=custom) as provider:
        card = card_of(provider, "m")
        assert card.input_cost_per_1k == CUSTOM_IN_1K
        assert card.output_cost_per_1k == CUSTOM_OUT_1K
        assert card.pricing_source == "custom"
        assert card.rate_limits == {"requests_per_minute": 100}
        assert card.context_window == 8000
        assert card.supports_vision is True
        assert card.task_types == ("general", "vision")
        assert provider.get_supported_models() == ["m"]
        expected = (1000 * CUSTOM_IN_1K + 500 * CUSTOM_OUT_1K) / 1000
        assert provider.calculate_cost(1000, 500, "m") == pytest.approx(expected, rel=1e-12)
    assert not proxy.calls


async def test_custom_price_overrides_the_proxy_but_keeps_its_metadata(proxy: respx.MockRouter) -> None:
    mock_info(
        proxy,
        deployment(
            "m",
            upstream="openai/x",
            model_id="dep-m",
            input_cost=IN_PER_TOKEN,
            output_cost=OUT_PER_TOKEN,
            max_input_tokens=128000,
            supports_function_calling=True,
        ),
    )
    custom = {"m": {"pricing": {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K}, "metadata": {"supports_vision": True}}}
    async with LiteLLMProvider(BASE_URL, API_KEY, custom_models=custom) as provider:
        await provider.refresh_models()
        card = card_of(provider, "m")
    assert (card.input_cost_per_1k, card.output_cost_per_1k) == (CUSTOM_IN_1K, CUSTOM_OUT_1K)
    assert card.pricing_source == "custom"
    assert card.upstream_model == "openai/x"
    assert card.model_id == "dep-m"
    assert card.context_window == 128000
    assert card.supports_function_calling is True
    assert card.supports_vision is True


async def test_add_custom_model_overrides_the_proxy_price(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    await load(
        proxy, provider, deployment("m", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN, max_input_tokens=9000)
    )
    added = provider.add_custom_model(
        "m", {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K}, rate_limits={"tokens_per_minute": 5000}
    )
    assert added == provider.get_model_info("m")
    assert (added.input_cost_per_1k, added.output_cost_per_1k) == (CUSTOM_IN_1K, CUSTOM_OUT_1K)
    assert added.pricing_source == "custom"
    assert added.context_window == 9000
    assert added.rate_limits == {"tokens_per_minute": 5000}

    # A later proxy refresh does not undo the operator's price.
    await provider.refresh_models(force=True)
    assert card_of(provider, "m").input_cost_per_1k == CUSTOM_IN_1K


async def test_add_custom_model_declares_a_new_model(provider: LiteLLMProvider) -> None:
    card = provider.add_custom_model(
        "new", {"input": 0.0, "output": 0.0}, metadata={"mode": "embedding", "context_window": 512}
    )
    assert card.name == "new"
    assert (card.input_cost_per_1k, card.output_cost_per_1k) == (0.0, 0.0)
    assert card.pricing_source == "custom"
    assert card.mode == "embedding"
    assert card.task_types == ("embedding",)
    assert card.context_window == 512
    assert provider.calculate_cost(100, 0, "new") == 0.0
    assert "new" not in provider.get_supported_models()


OK_PRICING = {"input": CUSTOM_IN_1K, "output": CUSTOM_OUT_1K}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "pricing"),
        ({"pricing": {"input": -0.001, "output": CUSTOM_OUT_1K}}, "pricing.input"),
        ({"pricing": {"input": CUSTOM_IN_1K, "output": NAN}}, "pricing.output"),
        ({"pricing": {"input": CUSTOM_IN_1K}}, "pricing.output"),
        ({"pricing": {**OK_PRICING, "cached_input": 0.0001}}, "pricing.cached_input"),
        ({"pricing": OK_PRICING, "price": 1}, "price"),
        ({"pricing": OK_PRICING, "metadata": {"context_window": 0}}, "metadata.context_window"),
    ],
    ids=["missing-pricing", "negative", "nan", "missing-output", "unknown-pricing-key", "extra-key", "zero-window"],
)
def test_invalid_constructor_custom_model_names_model_and_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match="custom model 'my-model' is invalid") as caught:
        LiteLLMProvider(BASE_URL, API_KEY, custom_models={"my-model": raw})
    assert f"{field}:" in str(caught.value)


@pytest.mark.parametrize(
    ("pricing", "metadata", "field"),
    [
        ({"input": -1.0, "output": 0.0}, None, "pricing.input"),
        ({"input": 0.001, "output": float("inf")}, None, "pricing.output"),
        ({**OK_PRICING, "currency": 1.0}, None, "pricing.currency"),
        (OK_PRICING, {"context_window": 0}, "metadata.context_window"),
        (OK_PRICING, {"max_output_tokens": -5}, "metadata.max_output_tokens"),
    ],
    ids=["negative", "inf", "unknown-pricing-key", "zero-window", "negative-max-output"],
)
async def test_invalid_add_custom_model_names_model_and_field_and_changes_nothing(
    provider: LiteLLMProvider, pricing: dict[str, float], metadata: dict[str, Any] | None, field: str
) -> None:
    with pytest.raises(ValueError, match="custom model 'my-model' is invalid") as caught:
        provider.add_custom_model("my-model", pricing, metadata=metadata)
    assert f"{field}:" in str(caught.value)
    assert provider.get_model_info("my-model") is None


@pytest.mark.parametrize("name", ["", "   "], ids=["empty", "blank"])
async def test_custom_model_needs_a_non_empty_name(provider: LiteLLMProvider, name: str) -> None:
    with pytest.raises(ValueError, match="non-empty") as caught:
        provider.add_custom_model(name, OK_PRICING)
    assert repr(name) in str(caught.value)
    with pytest.raises(ValueError, match="non-empty"):
        LiteLLMProvider(BASE_URL, API_KEY, custom_models={name: {"pricing": OK_PRICING}})


async def test_model_card_is_frozen(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    await load(proxy, provider, deployment("m", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN))
    card = card_of(provider, "m")
    with pytest.raises(ValidationError, match="frozen"):
        card.input_cost_per_1k = 0.0  # type: ignore[misc]
    assert card_of(provider, "m").input_cost_per_1k == IN_PER_1K


# ---------------------------------------------------------------------------------------- calculate_cost


@pytest.mark.parametrize(
    ("input_tokens", "output_tokens"), [(1200, 350), (1, 0), (0, 1), (1_000_000, 250_000)], ids=str
)
async def test_calculate_cost_is_tokens_times_the_per_1k_price(
    proxy: respx.MockRouter, provider: LiteLLMProvider, input_tokens: int, output_tokens: int
) -> None:
    await load(proxy, provider, deployment("m", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN))
    expected = (input_tokens * IN_PER_1K + output_tokens * OUT_PER_1K) / 1000
    assert provider.calculate_cost(input_tokens, output_tokens, "m") == pytest.approx(expected, rel=1e-12, abs=0)


async def test_calculate_cost_of_zero_tokens_is_zero(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    await load(proxy, provider, deployment("m", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN))
    assert provider.calculate_cost(0, 0, "m") == 0.0


async def test_calculate_cost_is_infinite_when_the_price_is_unknown(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    await load(proxy, provider, deployment("unpriced"))
    assert provider.calculate_cost(100, 100, "unpriced") == math.inf
    assert provider.calculate_cost(0, 0, "unpriced") == math.inf
    assert provider.calculate_cost(100, 100, "not-in-catalog") == math.inf


@pytest.mark.parametrize(
    ("input_tokens", "output_tokens", "argument"),
    [
        (-1, 10, "input_tokens"),
        (10, -1, "output_tokens"),
        (1.5, 10, "input_tokens"),
        (10, 2.0, "output_tokens"),
        (True, 10, "input_tokens"),
        (10, False, "output_tokens"),
    ],
    ids=["negative-input", "negative-output", "float-input", "float-output", "bool-input", "bool-output"],
)
async def test_calculate_cost_rejects_bad_token_counts(
    proxy: respx.MockRouter, provider: LiteLLMProvider, input_tokens: Any, output_tokens: Any, argument: str
) -> None:
    await load(proxy, provider, deployment("m", input_cost=IN_PER_TOKEN, output_cost=OUT_PER_TOKEN))
    with pytest.raises(ValueError, match=argument) as caught:
        provider.calculate_cost(input_tokens, output_tokens, "m")
    assert "non-negative integer" in str(caught.value)
