"""Health probes, embeddings and the provider's lifecycle: the cheap ``health_check()`` (readiness
without a key, ``/v1/models`` with it, ``last_health_error``), the opt-in deep ``model_health()``,
``embeddings()`` (payload, usage, cost, validation, malformed replies), closing the pooled client
(own vs caller-supplied, twice, with a catalog refresh in flight) and the host's ABC contract."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import (
    BadRequestError,
    LiteLLMProvider,
    LLMProvider,
    ModelHealth,
    ProviderClosedError,
    ProviderError,
)
from muxer_litellm.host import MessageInput
from tests.unit.replies import API_KEY, BASE_URL, deployment, embedding_body, error_body, model_info

READY = {"status": "healthy", "db": "Not connected", "litellm_version": "1.106.0"}
HELLO: list[MessageInput] = [{"role": "user", "content": "hi"}]
MODELS = {"object": "list", "data": [{"id": "gpt-test", "object": "model"}]}


def mock_readiness(proxy: respx.MockRouter, response: httpx.Response | None = None) -> respx.Route:
    return proxy.get("/health/readiness").mock(return_value=response or httpx.Response(200, json=READY))


def mock_models(proxy: respx.MockRouter, response: httpx.Response | None = None) -> respx.Route:
    return proxy.get("/v1/models").mock(return_value=response or httpx.Response(200, json=MODELS))


# ---------------------------------------------------------------------------- health_check


async def test_health_check_true_when_ready_and_key_accepted(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    ready, models = mock_readiness(proxy), mock_models(proxy)
    assert await provider.health_check() is True
    assert provider.last_health_error is None
    assert ready.call_count == 1
    assert models.call_count == 1


async def test_readiness_goes_without_key_and_models_with_it(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    ready, models = mock_readiness(proxy), mock_models(proxy)
    await provider.health_check()
    assert "authorization" not in ready.calls.last.request.headers
    assert models.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_readiness_saying_unhealthy_is_unhealthy(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_readiness(proxy, httpx.Response(200, json={"status": "unhealthy"}))
    models = mock_models(proxy)
    assert await provider.health_check() is False
    assert provider.last_health_error is not None
    assert "unhealthy" in provider.last_health_error
    assert not models.called


async def test_readiness_503_is_unhealthy(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_readiness(proxy, httpx.Response(503, json=error_body("Service Unavailable", None, "503")))
    models = mock_models(proxy)
    assert await provider.health_check() is False
    assert provider.last_health_error is not None
    assert "503" in provider.last_health_error
    assert not models.called


async def test_wrong_key_reads_unhealthy_and_names_the_key(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_readiness(proxy)
    body = error_body(f"No connected db. Received API Key = {API_KEY}", "no_db_connection", "no_db_connection")
    mock_models(proxy, httpx.Response(400, json=body))
    assert await provider.health_check() is False
    error = provider.last_health_error
    assert error is not None
    assert "API key" in error
    assert "LITELLM_API_KEY" in error
    assert API_KEY not in error


async def test_unreachable_proxy_is_unhealthy_naming_the_url(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    proxy.get("/health/readiness").mock(side_effect=httpx.ConnectError("Connection refused"))
    assert await provider.health_check() is False
    error = provider.last_health_error
    assert error is not None
    assert BASE_URL in error
    assert "not reachable" in error
    assert "Connection refused" in error


async def test_hanging_readiness_times_out_at_the_health_limit(proxy: respx.MockRouter) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200, json=READY)

    proxy.get("/health/readiness").mock(side_effect=hang)
    models = mock_models(proxy)
    async with LiteLLMProvider(BASE_URL, API_KEY, health_timeout=0.05) as provider:
        assert await provider.health_check() is False
        error = provider.last_health_error
    assert error is not None
    assert "0.05s" in error
    assert not models.called


async def test_later_success_clears_last_health_error(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    proxy.get("/health/readiness").mock(
        side_effect=[httpx.Response(503, text="Service Unavailable"), httpx.Response(200, json=READY)]
    )
    mock_models(proxy)
    assert await provider.health_check() is False
    assert provider.last_health_error is not None
    assert await provider.health_check() is True
    assert provider.last_health_error is None


async def test_health_check_never_calls_the_deep_health(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    deep = proxy.get("/health").mock(return_value=httpx.Response(200, json={}))
    mock_readiness(proxy)
    mock_models(proxy)
    assert await provider.health_check() is True
    assert not deep.called
    assert [call.request.url.path for call in proxy.calls] == ["/health/readiness", "/v1/models"]


# ---------------------------------------------------------------------------- model_health

HEALTH_CATALOG = model_info(
    deployment("a", upstream="openai/a", model_id="id-a"),
    deployment("b", upstream="openai/b", model_id="id-b"),
    deployment("pool", upstream="openai/p", model_id="id-p1"),
    deployment("pool", upstream="openai/p", model_id="id-p2"),
)


def mock_deep_health(proxy: respx.MockRouter, payload: Any) -> respx.Route:
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=HEALTH_CATALOG))
    return proxy.get("/health").mock(return_value=httpx.Response(200, json=payload))


async def test_model_health_names_results_and_updates_the_catalog(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    route = mock_deep_health(
        proxy,
        {
            "healthy_endpoints": [{"model": "openai/a", "model_id": "id-a"}],
            "unhealthy_endpoints": [{"model": "openai/b", "model_id": "id-b", "error": "boom\nstack trace line"}],
            "healthy_count": 1,
            "unhealthy_count": 1,
        },
    )
    results = await provider.model_health()
    assert results == [
        ModelHealth(model_name="a", upstream_model="openai/a", model_id="id-a", healthy=True, error=None),
        ModelHealth(model_name="b", upstream_model="openai/b", model_id="id-b", healthy=False, error="boom"),
    ]
    assert route.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"
    card_a, card_b = provider.get_model_info("a"), provider.get_model_info("b")
    assert card_a is not None
    assert card_b is not None
    assert (card_a.healthy, card_a.health_error) == (True, None)
    assert (card_b.healthy, card_b.health_error) == (False, "boom")
    unchecked = provider.get_model_info("pool")
    assert unchecked is not None
    assert unchecked.healthy is None


async def test_name_with_one_healthy_deployment_counts_healthy(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_deep_health(
        proxy,
        {
            "healthy_endpoints": [{"model": "openai/p", "model_id": "id-p1"}],
            "unhealthy_endpoints": [{"model": "openai/p", "model_id": "id-p2", "error": "timeout"}],
        },
    )
    results = await provider.model_health()
    assert [(r.model_name, r.model_id, r.healthy) for r in results] == [
        ("pool", "id-p1", True),
        ("pool", "id-p2", False),
    ]
    card = provider.get_model_info("pool")
    assert card is not None
    assert card.healthy is True
    assert card.health_error is None


async def test_endpoint_without_model_id_has_no_name(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_deep_health(
        proxy,
        {
            "healthy_endpoints": [{"model": "openai/x"}],
            "unhealthy_endpoints": [{"model": "openai/y", "model_id": "id-unknown", "error": "nope"}],
        },
    )
    results = await provider.model_health()
    assert results == [
        ModelHealth(model_name=None, upstream_model="openai/x", model_id=None, healthy=True),
        ModelHealth(model_name=None, upstream_model="openai/y", model_id="id-unknown", healthy=False, error="nope"),
    ]


async def test_malformed_health_entries_are_skipped(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    mock_deep_health(
        proxy,
        {
            "healthy_endpoints": ["junk", 3, None, ["id-a"], {"model": "openai/a", "model_id": "id-a"}],
            "unhealthy_endpoints": "not a list",
        },
    )
    results = await provider.model_health()
    assert results == [ModelHealth(model_name="a", upstream_model="openai/a", model_id="id-a", healthy=True)]


async def test_unhealthy_endpoint_without_error_text_says_unhealthy(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    mock_deep_health(
        proxy, {"healthy_endpoints": [], "unhealthy_endpoints": [{"model": "openai/b", "model_id": "id-b"}]}
    )
    results = await provider.model_health()
    assert [(r.model_name, r.healthy, r.error) for r in results] == [("b", False, "unhealthy")]


async def test_non_json_deep_health_is_a_provider_error(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    proxy.get("/health").mock(return_value=httpx.Response(200, text="OK", headers={"content-type": "text/plain"}))
    with pytest.raises(ProviderError) as caught:
        await provider.model_health()
    assert type(caught.value) is ProviderError
    assert "/health" in str(caught.value)
    assert "not a JSON object" in str(caught.value)
    assert "'OK'" in str(caught.value)


# ---------------------------------------------------------------------------- embeddings

EMBED_IN_PER_TOKEN, EMBED_IN_PER_1K = 1e-07, 0.0001
VECTORS = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]


def mock_embeddings(proxy: respx.MockRouter, body: Any = None, headers: dict[str, str] | None = None) -> respx.Route:
    reply = httpx.Response(200, json=embedding_body(VECTORS) if body is None else body, headers=headers)
    return proxy.post("/v1/embeddings").mock(return_value=reply)


async def test_embeddings_posts_model_input_and_kwargs(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    route = mock_embeddings(proxy, headers={"x-litellm-response-cost": "0.0000123", "x-litellm-call-id": "call-emb"})
    response = await provider.embeddings(["alpha", "beta"], "embed", dimensions=3, encoding_format="float")
    request = route.calls.last.request
    assert request.url.path == "/v1/embeddings"
    assert json.loads(request.content) == {
        "model": "embed",
        "input": ["alpha", "beta"],
        "dimensions": 3,
        "encoding_format": "float",
    }
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert [d.embedding for d in response.data] == VECTORS
    assert [d.index for d in response.data] == [0, 1]
    assert response.model == "text-embedding-test"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (8, 8)
    assert response.router_metadata.estimated_cost == pytest.approx(0.0000123)
    assert response.router_metadata.cost_source == "proxy"
    assert response.router_metadata.call_id == "call-emb"


async def test_embeddings_cost_from_catalog_without_header(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    prompt_tokens = 1500
    entry = deployment("embed", model_id="id-embed", input_cost=EMBED_IN_PER_TOKEN, output_cost=0, mode="embedding")
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=model_info(entry)))
    mock_embeddings(proxy, embedding_body(VECTORS, prompt_tokens=prompt_tokens))
    response = await provider.embeddings("alpha", "embed")
    assert response.router_metadata.cost_source == "catalog"
    assert response.router_metadata.estimated_cost == pytest.approx(prompt_tokens * EMBED_IN_PER_1K / 1000)


async def test_embeddings_cost_unknown_without_price(proxy: respx.MockRouter, provider: LiteLLMProvider) -> None:
    entry = deployment("embed", model_id="id-embed", mode="embedding")
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=model_info(entry)))
    mock_embeddings(proxy, headers={"x-litellm-response-cost": "0"})
    response = await provider.embeddings("alpha", "embed")
    assert response.router_metadata.estimated_cost is None
    assert response.router_metadata.cost_source == "unknown"


@pytest.mark.parametrize(
    ("input_", "model", "kwargs", "fragment"),
    [
        ("", "embed", {}, "input"),
        ([], "embed", {}, "input"),
        (None, "embed", {}, "input"),
        ("alpha", "", {}, "model"),
        ("alpha", "  ", {}, "model"),
        (["alpha"], None, {}, "model"),
    ],
    ids=["input-empty-str", "input-empty-list", "input-none", "model-empty", "model-blank", "model-none"],
)
async def test_embeddings_validation_is_a_bad_request_without_http(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    input_: Any,
    model: Any,
    kwargs: dict[str, Any],
    fragment: str,
) -> None:
    route = mock_embeddings(proxy)
    with pytest.raises(BadRequestError) as caught:
        await provider.embeddings(input_, model, **kwargs)
    assert fragment in str(caught.value)
    assert caught.value.retryable is False
    assert not route.called


@pytest.mark.parametrize("name", ["input", "model"])
async def test_embeddings_input_or_model_in_kwargs_never_reaches_the_proxy(
    proxy: respx.MockRouter, provider: LiteLLMProvider, name: str
) -> None:
    # The signature binds input/model already, so Python refuses a second value before any request.
    route = mock_embeddings(proxy)
    extra: dict[str, Any] = {name: "duplicate"}
    with pytest.raises(TypeError, match=f"multiple values for argument '{name}'"):
        await provider.embeddings("alpha", "embed", **extra)
    assert not route.called


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "model": "embed"},
        {"data": "vectors", "model": "embed"},
        {"data": [{"embedding": [0.1]}], "model": "embed"},
        {"data": [{"index": 0, "embedding": [0.1]}], "usage": {"prompt_tokens": -3, "total_tokens": 1}},
    ],
    ids=["data-missing", "data-str", "item-without-index", "usage-negative"],
)
async def test_malformed_embedding_reply_is_a_provider_error(
    proxy: respx.MockRouter, provider: LiteLLMProvider, body: dict[str, Any]
) -> None:
    mock_embeddings(proxy, body, headers={"x-litellm-response-cost": "0.001", "x-litellm-call-id": "call-emb"})
    with pytest.raises(ProviderError) as caught:
        await provider.embeddings("alpha", "embed")
    assert type(caught.value) is ProviderError
    assert "malformed embedding response" in str(caught.value)
    assert caught.value.model == "embed"
    assert caught.value.call_id == "call-emb"


# ---------------------------------------------------------------------------- lifecycle


async def test_async_with_closes_its_own_client(proxy: respx.MockRouter) -> None:
    route = mock_models(proxy)
    provider = LiteLLMProvider(BASE_URL, API_KEY)
    async with provider as entered:
        assert entered is provider
        assert provider.closed is False
        await provider.get_available_models()
    assert provider.closed is True
    # A closed provider says so with a typed error and sends nothing.
    for call in (provider.get_available_models(), provider.chat_completion(HELLO, "m")):
        with pytest.raises(ProviderClosedError) as caught:
            await call
        assert caught.value.retryable is False
        assert "closed with aclose()" in str(caught.value)
    with pytest.raises(ProviderClosedError):
        async for _ in provider.stream_chat_completion(HELLO, "m"):
            pass
    assert route.call_count == 1


async def test_caller_supplied_client_is_used_and_not_closed(proxy: respx.MockRouter) -> None:
    route = mock_models(proxy)
    async with httpx.AsyncClient() as client:
        provider = LiteLLMProvider(BASE_URL, API_KEY, http_client=client)
        models = await provider.get_available_models()
        await provider.aclose()
        assert client.is_closed is False
        assert models == MODELS["data"]
        assert route.call_count == 1
        assert route.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"
        # Still usable by its owner after the provider is gone.
        assert (await client.get(f"{BASE_URL}/v1/models")).status_code == 200
    assert client.is_closed is True


async def test_aclose_twice_is_fine(proxy: respx.MockRouter) -> None:
    provider = LiteLLMProvider(BASE_URL, API_KEY)
    await provider.aclose()
    await provider.aclose()
    assert provider.closed is True


async def test_aclose_cancels_an_in_flight_catalog_refresh_quietly(proxy: respx.MockRouter) -> None:
    started = asyncio.Event()

    async def never_answers(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(10)
        return httpx.Response(200, json=model_info())

    proxy.get("/model/info").mock(side_effect=never_answers)
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        provider = LiteLLMProvider(BASE_URL, API_KEY)
        waiter = asyncio.create_task(provider.refresh_models())
        async with asyncio.timeout(5):
            await started.wait()
        await provider.aclose()
        # The waiter was not cancelled; the provider it waited on was closed: it says so.
        with pytest.raises(ProviderClosedError):
            await waiter
        assert provider.closed is True
        with pytest.raises(ProviderClosedError):
            await provider.refresh_models()
        del waiter
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in reported] == []


async def test_litellm_provider_is_an_llm_provider(provider: LiteLLMProvider) -> None:
    assert inspect.isabstract(LLMProvider)
    with pytest.raises(TypeError, match="abstract"):
        LLMProvider()  # type: ignore[abstract]
    assert isinstance(provider, LLMProvider)
    assert not inspect.isabstract(LiteLLMProvider)


async def test_get_supported_models_is_sync_and_reads_the_cache(
    proxy: respx.MockRouter, provider: LiteLLMProvider
) -> None:
    assert not inspect.iscoroutinefunction(LiteLLMProvider.get_supported_models)
    assert provider.get_supported_models() == []
    catalog = model_info(deployment("chat-b"), deployment("chat-a"), deployment("embed", mode="embedding"))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=catalog))
    await provider.refresh_models()
    assert provider.get_supported_models() == ["chat-a", "chat-b"]
    assert inspect.iscoroutinefunction(LiteLLMProvider.health_check)
    # A stream is an object, not a coroutine: `async for` works without an await.
    assert not inspect.iscoroutinefunction(LiteLLMProvider.stream_chat_completion)
