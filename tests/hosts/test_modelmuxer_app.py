"""ModelMuxer's real FastAPI app with the adapter installed and the real LiteLLM proxy behind it.

Requests go through ModelMuxer's own auth, policy, router (``HeuristicRouter.select_model``
with the generated price table and rules), chat and streaming routes, error mapping and
registry; the proxy forwards to the fake upstream (``tests/fake_upstream.py``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.fake_upstream import RETRY_AFTER_SECONDS, FakeUpstream
from tests.hosts.conftest import Gateway, ModelMuxer

pytestmark = pytest.mark.integration

#: Rows an operator adds by hand for models the proxy cannot price (kept by --merge).
OPERATOR_ROWS = {
    f"litellm:{m}": {"input_per_1k_usd": 0.001, "output_per_1k_usd": 0.002}
    for m in ("ratelimited-chat", "broken-chat", "mystery-chat")
}


def upstream_body(fake_upstream: FakeUpstream, marker: str) -> dict[str, Any]:
    """The last request the fake upstream got whose last message contains ``marker``."""
    for request in reversed(fake_upstream.requests):
        messages = request["body"].get("messages") or []
        if messages and marker in str(messages[-1].get("content")):
            body: dict[str, Any] = request["body"]
            return body
    raise AssertionError(f"the upstream never saw {marker!r}")


def sse_frames(text: str) -> list[Any]:
    frames = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    return [f if f == "[DONE]" else json.loads(f) for f in frames]


def test_generated_intents_are_modelmuxers(modelmuxer: ModelMuxer) -> None:
    intent = modelmuxer.module("app.core.intent")
    router = modelmuxer.module("app.router").HeuristicRouter()
    assert set(modelmuxer.hosts.INTENT_NEEDS) == set(intent.INTENT_LABELS)
    # The task types its analyze_prompt yields are the keys of its built-in preferences.
    assert set(modelmuxer.hosts.TASK_TYPE_INTENTS) == set(router.model_preferences)


async def test_modelmuxer_loads_the_generated_files(gateway: Gateway) -> None:
    mm = gateway.mm
    costing = mm.module("app.core.costing")
    rules_mod = mm.module("app.core.routing_rules")
    prices = costing.load_price_table(str(mm.price_table))
    assert prices["litellm:cheap-chat"].input_per_1k_usd == pytest.approx(0.0001)
    assert "litellm:mystery-chat" not in prices  # unknown price: no row
    rules = rules_mod.load_routing_rules(str(mm.routing_rules))
    assert len(rules.rules) == len(json.loads(mm.routing_rules.read_text())["rules"])
    # Production mode refuses rules that name unpriced models or missing providers: these pass.
    rules_mod.validate_routing_rules(
        rules, mode="production", price_table_keys=set(prices), available_providers={"litellm"}
    )
    # Merged into the table ModelMuxer ships, its own rows and notes stay.
    shipped = mm.src / "scripts" / "data" / "prices.json"
    merged = mm.hosts.write_price_table(gateway.adapter.provider, mm.workdir / "merged.json", shipped)
    loaded = costing.load_price_table(str(mm.workdir / "merged.json"))
    native = {k for k in json.loads(shipped.read_text()) if not k.startswith("_")}
    assert native
    assert native <= set(loaded)
    assert set(merged.written) <= set(loaded)
    assert "_comment" in merged.data


async def test_chat_through_modelmuxer(gateway: Gateway, fake_upstream: FakeUpstream) -> None:
    response = await gateway.chat(
        "Say hello to marker-71", model="litellm/cheap-chat", top_p=0.5, stop=["zzz"], region="eu", max_budget=1.0
    )
    assert response.status_code == 200, response.text
    body = response.json()
    sent = upstream_body(fake_upstream, "marker-71")
    assert body["choices"][0]["message"]["content"] == f"echo: {sent['messages'][-1]['content']}"
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == len(body["choices"][0]["message"]["content"].split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    meta = body["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"]) == ("litellm", "cheap-chat")
    assert isinstance(meta["estimated_cost"], float)
    assert meta["estimated_cost"] > 0  # ModelMuxer's estimate, from the generated price table
    assert (sent["top_p"], sent["stop"]) == (0.5, ["zzz"])
    assert "region" not in sent
    assert "max_budget" not in sent


async def test_streaming_through_modelmuxer(gateway: Gateway, fake_upstream: FakeUpstream) -> None:
    response = await gateway.chat("Stream to marker-72 please", model="litellm/cheap-chat", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(response.text)
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    assert not [c for c in chunks if "error" in c]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    sent = upstream_body(fake_upstream, "marker-72")
    assert text == f"echo: {sent['messages'][-1]['content']}"
    last = chunks[-1]
    assert last["usage"]["completion_tokens"] == len(text.split())
    assert last["usage"]["prompt_tokens"] > 0
    assert last["router_metadata"]["cost_source"] == "proxy"
    assert last["router_metadata"]["estimated_cost"] > 0  # what the proxy billed


async def test_models_and_providers_list_the_proxy_models(gateway: Gateway) -> None:
    chat_models = gateway.adapter.get_supported_models()
    assert {"cheap-chat", "smart-chat", "mystery-chat"} <= set(chat_models)
    assert "embed" not in chat_models

    models = (await gateway.client.get("/v1/models")).json()["data"]
    by_id = {m["id"]: m for m in models}
    assert {f"litellm/{m}" for m in chat_models} <= set(by_id)
    assert by_id["litellm/smart-chat"]["pricing"]["output"] == pytest.approx(0.015)
    assert "litellm/embed" not in by_id

    providers = (await gateway.client.get("/v1/providers")).json()["providers"]
    assert providers["litellm"]["models"] == chat_models
    assert providers["litellm"]["status"] == "available"


async def test_modelmuxer_picks_proxy_models_by_itself(gateway: Gateway) -> None:
    # ModelMuxer's own classifier decides what is simple ("What is the capital of France?" reads
    # as code_gen to it); these two are chat_lite to it.
    simple = await gateway.chat("Hi, how are you today?", model="auto")
    assert simple.status_code == 200, simple.text
    meta = simple.json()["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"]) == ("litellm", "cheap-chat")
    assert meta["routing_rule"] == "litellm:chat_lite"

    code = await gateway.chat("Write a Python function: def add(a, b): return a + b, with tests", model="auto")
    assert code.status_code == 200, code.text
    meta = code.json()["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"]) == ("litellm", "smart-chat")
    assert meta["routing_rule"] == "litellm:code_gen"

    # And its router called directly, with no requested model.
    router = gateway.mm.module("app.router").HeuristicRouter()
    message = gateway.mm.module("app.models").ChatMessage
    provider, model, *_ = await router.select_model(
        messages=[message(role="user", content="Hello there, nice weather")]
    )
    assert (provider, model) == ("litellm", "cheap-chat")


async def test_task_type_rules_route_when_the_intent_classifier_is_off(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.mm.main.app_settings.router, "intent_classifier_enabled", False)
    code = await gateway.chat("```python\nimport os\ndef f(x):\n    return x\n```\nfix this function", model="auto")
    assert code.status_code == 200, code.text
    meta = code.json()["router_metadata"]
    assert meta["selected_model"] == "smart-chat"
    assert meta["routing_rule"] == "litellm:task:code"


async def test_without_the_generated_files_modelmuxer_never_picks_the_proxy(gateway_factory: Any) -> None:
    gateway = await gateway_factory(tables=False)
    response = await gateway.chat("Hi, how are you today?", model="auto")
    assert response.status_code == 402  # ModelMuxer: no priced preference within budget
    assert response.json()["error"]["type"] == "budget_exceeded"


async def test_rate_limit_reaches_the_client_as_429_with_the_wait(gateway_factory: Any) -> None:
    gateway = await gateway_factory(prices_merge=OPERATOR_ROWS)
    response = await gateway.chat("hello", model="litellm/ratelimited-chat")
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["type"], error["code"]) == (
        "rate_limit_error",
        "provider_error",
    )  # ours, not ModelMuxer's own limiter
    assert f"retry after {RETRY_AFTER_SECONDS}s" in error["message"]


async def test_upstream_500_reaches_the_client_as_502(gateway_factory: Any) -> None:
    gateway = await gateway_factory(prices_merge=OPERATOR_ROWS)
    response = await gateway.chat("hello", model="litellm/broken-chat")
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "provider_error"
    assert response.json()["error"]["message"].startswith("Provider error: ")


async def test_wrong_proxy_key_reaches_the_client_as_401(gateway_factory: Any) -> None:
    gateway = await gateway_factory(api_key="sk-wrong-key-1234")
    response = await gateway.chat("hello", model="litellm/cheap-chat")
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("authentication_error", "provider_error")
    assert "sk-wrong-key-1234" not in response.text


async def test_a_stream_error_ends_the_stream_with_an_error_frame(gateway_factory: Any) -> None:
    gateway = await gateway_factory(prices_merge=OPERATOR_ROWS)
    response = await gateway.chat("hello", model="litellm/ratelimited-chat", stream=True)
    assert response.status_code == 200  # ModelMuxer has sent its headers before the provider is called
    frames = sse_frames(response.text)
    assert frames == [{"error": {"message": "An internal error occurred.", "type": "provider_error"}}]


async def test_an_unpriced_model_does_not_break_modelmuxer(gateway_factory: Any) -> None:
    gateway = await gateway_factory()
    refused = await gateway.chat("hello", model="litellm/mystery-chat")
    assert refused.status_code == 402  # no row, so ModelMuxer will not pick it: refused, not a 500
    assert refused.json()["error"]["type"] == "budget_exceeded"

    priced_by_operator = await gateway_factory(prices_merge=OPERATOR_ROWS)
    response = await priced_by_operator.chat("hello mystery", model="litellm/mystery-chat")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["usage"]["prompt_tokens"] > 0
    assert isinstance(body["router_metadata"]["estimated_cost"], float)
    direct = await priced_by_operator.adapter.invoke("mystery-chat", [{"role": "user", "content": "hi"}])
    assert (direct.raw["cost"], direct.raw["cost_source"]) == (None, "unknown")
    assert direct.tokens_in > 0


async def test_the_registry_keeps_the_adapter_and_closes_it_on_cleanup(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = gateway.mm.registry
    await registry.refresh_provider_registry()
    assert registry.get_provider_registry()["litellm"] is gateway.adapter
    assert not gateway.adapter.closed  # ModelMuxer's refresh closes every adapter; ours was kept open
    after_refresh = await gateway.chat("still there?", model="litellm/cheap-chat")
    assert after_refresh.status_code == 200, after_refresh.text

    monkeypatch.setattr(gateway.mm.main.app_settings.features, "test_mode", True)
    assert registry.get_provider_registry()["litellm"] is gateway.adapter  # rebuilt on every call there
    monkeypatch.undo()

    await registry.cleanup_provider_registry()  # what ModelMuxer's shutdown runs
    assert gateway.adapter.closed
    gone = await gateway.chat("hello", model="litellm/cheap-chat")
    assert gone.status_code == 502
    assert "closed" in gone.json()["error"]["message"]


async def test_uninstall_restores_modelmuxers_registry(modelmuxer: ModelMuxer, gateway_factory: Any) -> None:
    registry = modelmuxer.registry
    app = modelmuxer.main.app
    original, original_lifespan = registry.build_registry, app.router.lifespan_context
    await gateway_factory(tables=False)
    assert registry.build_registry is not original
    assert app.router.lifespan_context is not original_lifespan  # loads the catalog at start-up
    adapter = modelmuxer.hosts.uninstall()
    assert adapter is not None
    assert "litellm" not in registry.PROVIDERS
    assert registry.build_registry is original
    assert app.router.lifespan_context is original_lifespan
    assert "litellm" not in registry.build_registry()


async def test_a_burst_of_requests_through_modelmuxer(gateway: Gateway, fake_upstream: FakeUpstream) -> None:
    responses = await asyncio.gather(
        *(gateway.chat(f"burst item marker-b{i}-end", model="litellm/cheap-chat") for i in range(16))
    )
    for i, response in enumerate(responses):
        assert response.status_code == 200, response.text
        sent = upstream_body(fake_upstream, f"marker-b{i}-end")
        assert response.json()["choices"][0]["message"]["content"] == f"echo: {sent['messages'][-1]['content']}"


async def test_a_raw_provider_is_what_the_adapter_fixes(modelmuxer: ModelMuxer, gateway: Gateway) -> None:
    """The reported failure, for contrast: LiteLLMProvider itself in ModelMuxer's registry."""
    modelmuxer.registry.PROVIDERS["litellm"] = gateway.adapter.provider
    try:
        response = await gateway.chat("hello", model="litellm/cheap-chat")
    finally:
        modelmuxer.registry.PROVIDERS["litellm"] = gateway.adapter
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_server_error"


# ------------------------------------------------ what ModelMuxer does (docs/modelmuxer.md, its limits)


async def test_modelmuxer_redacts_the_prompt_before_it_classifies_and_sends_it(
    gateway: Gateway, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    features = gateway.mm.main.app_settings.features
    monkeypatch.setattr(features, "redact_pii", True)  # ModelMuxer's default
    redacted = await gateway.chat("What is the capital of France?", model="auto")
    assert redacted.status_code == 200, redacted.text
    meta = redacted.json()["router_metadata"]
    assert (meta["intent_label"], meta["selected_model"]) == ("chat_lite", "cheap-chat")
    sent = upstream_body(fake_upstream, "redacted")["messages"][-1]["content"]
    assert sent == "What is the <nationalid-redacted> of <nationalid-redacted>?"  # what the model gets

    monkeypatch.setattr(features, "redact_pii", False)
    verbatim = await gateway.chat("What is the capital of France?", model="auto")
    meta = verbatim.json()["router_metadata"]
    assert (meta["intent_label"], meta["selected_model"]) == ("code_gen", "smart-chat")


@pytest.mark.parametrize("name", ["smart-chat", "gpt-5-nonexistent"])
async def test_a_name_without_a_known_provider_is_answered_by_another_model(gateway: Gateway, name: str) -> None:
    response = await gateway.chat("Hi, how are you today?", model=name)
    assert response.status_code == 200, response.text
    meta = response.json()["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"]) == ("litellm", "cheap-chat")
    assert "Explicit model" not in meta["routing_reason"]


async def test_an_unknown_proxy_model_is_402_and_a_priced_one_the_proxy_lacks_is_502(gateway_factory: Any) -> None:
    gateway = await gateway_factory()
    # A row for a model the proxy does not serve (generating the table drops such rows; an
    # operator's hand edit or a proxy that lost the model leaves one). Read on every request.
    table = json.loads(gateway.mm.price_table.read_text())
    table["litellm:ghost-chat"] = {"input_per_1k_usd": 0.001, "output_per_1k_usd": 0.002}
    gateway.mm.price_table.write_text(json.dumps(table))
    unknown = await gateway.chat("hello", model="litellm/no-such-model")
    assert unknown.status_code == 402
    assert unknown.json()["error"]["type"] == "budget_exceeded"
    unknown_stream = await gateway.chat("hello", model="litellm/no-such-model", stream=True)
    assert unknown_stream.status_code == 402  # refused before the stream starts

    lacking = await gateway.chat("hello", model="litellm/ghost-chat")
    assert lacking.status_code == 502
    error = lacking.json()["error"]
    assert error["type"] == "provider_error"
    assert "ghost-chat" in error["message"]


async def test_modelmuxer_logs_streams_at_zero_and_not_the_plain_calls(gateway: Gateway) -> None:
    async def logged() -> tuple[int, float]:
        costs = (await gateway.client.get("/v1/analytics/costs")).json()
        return costs["total_requests"], costs["total_cost"]

    before_count, before_cost = await logged()
    plain = await gateway.chat("not logged", model="litellm/cheap-chat")
    assert plain.status_code == 200, plain.text
    assert await logged() == (before_count, before_cost)

    streamed = await gateway.chat("logged", model="litellm/cheap-chat", stream=True)
    frames = sse_frames(streamed.text)
    billed = frames[-2]["router_metadata"]["estimated_cost"]
    assert billed > 0
    assert await logged() == (before_count + 1, before_cost)  # logged, at $0 instead of what was billed


def test_without_api_keys_modelmuxer_accepts_its_built_in_test_keys(
    modelmuxer: ModelMuxer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = modelmuxer.module("app.settings").settings
    monkeypatch.setattr(settings.api, "api_keys", None)
    auth = modelmuxer.module("app.auth").APIKeyAuth()
    for key in ("test-api-key", "valid-api-key", "test-key"):
        assert auth.validate_api_key(key)
    monkeypatch.setattr(settings.api, "api_keys", "mm-own-key")
    auth = modelmuxer.module("app.auth").APIKeyAuth()
    assert auth.validate_api_key("mm-own-key")
    assert not auth.validate_api_key("test-api-key")
