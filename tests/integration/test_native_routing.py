"""Routing over a native provider beside a real LiteLLM proxy: the inputs that failed before,
against the packaged demo proxy (muxer_litellm/demo/litellm-demo.yaml: gpt-4o-mini,
claude-sonnet, text-embedding-3-small) and the suite's proxy. The native provider is the one
docs/native-providers.md shows. The same cases over the fake provider: tests/unit/routing/test_native_providers.py.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from muxer_litellm import LiteLLMProvider
from muxer_litellm.demo.run import default_config
from muxer_litellm.errors import FallbackExhaustedError
from muxer_litellm.host import LLMProvider
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from muxer_litellm.testing import BareFakeProvider
from tests.cli_runner import CliRun, run_cli
from tests.litellm_proxy import LiteLLMProxy, litellm_executable
from tests.unit.test_docs_native_provider import load_example

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
#: The demo proxy's chat models, in the order its catalog lists them.
SERVED = re.compile(r"\(it offers (gpt-4o-mini, claude-sonnet|claude-sonnet, gpt-4o-mini)\)")


@pytest.fixture(scope="module")
def demo_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMProxy]:
    """The packaged demo config, served as an operator would run it (loopback, random key)."""
    if litellm_executable() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the litellm CLI is missing: `make test` installs .[dev,proxy]")
        pytest.skip("litellm[proxy] is not installed; run `make test` (or pip install -e '.[dev,proxy]')")
    proxy = LiteLLMProxy(
        str(default_config()), tmp_path_factory.mktemp("demo-proxy"), f"sk-test-{secrets.token_hex(8)}"
    )
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def demo(demo_proxy: LiteLLMProxy) -> AsyncIterator[LiteLLMProvider]:
    async with LiteLLMProvider(demo_proxy.base_url, demo_proxy.master_key) as provider:
        yield provider


def acme() -> LLMProvider:
    provider: LLMProvider = load_example().AcmeProvider()
    return provider


def cli(proxy: LiteLLMProxy, *args: str) -> CliRun:
    env = {"COLUMNS": "200", "LITELLM_BASE_URL": proxy.base_url, "LITELLM_API_KEY": proxy.master_key}
    result = run_cli(list(args), env)
    assert proxy.master_key not in result.output
    assert "Traceback" not in result.output
    return result


# ---------------------------------------------------------------------- candidates checked (demo proxy)


def test_route_with_the_example_configs_everyday_combo_says_its_models_are_not_served(
    demo_proxy: LiteLLMProxy,
) -> None:
    result = cli(
        demo_proxy, "route", "What is the capital of France?", "--config", str(ROOT / "config" / "routing.yaml"),
        "--strategy", "everyday",
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert "chosen" not in result.stdout
    served = SERVED.search(result.stderr)
    assert served is not None, result.stderr
    assert f"warning: combo 'everyday': litellm/cheap-chat: litellm does not offer 'cheap-chat' {served[0]}" in (
        result.stderr
    )
    assert "warning: combo 'everyday': openai/gpt-4o-mini: provider 'openai' is not registered" in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: everyday: none of its candidates can be called: ")
    assert f"litellm/smart-chat: litellm does not offer 'smart-chat' {served[0]}" in error


async def test_a_misspelled_cascade_step_is_left_out_and_the_cascade_answers(demo: LiteLLMProvider) -> None:
    providers: dict[str, LLMProvider] = {"litellm": demo}
    config = RoutingConfig(cascades={"careful": {"steps": ["litellm/gpt-4o-mini", "litellm/claude-sonet"]}})
    async with HeuristicRouter(config) as router:
        await router.refresh(providers)
        problems = router.check_config(providers)
        response = await router.route_request(MESSAGES, providers, "careful")

    why = problems["cascade 'careful': litellm/claude-sonet"]
    assert why.startswith("litellm does not offer 'claude-sonet' (it offers ")
    assert SERVED.search(why) is not None
    assert why.endswith("did you mean 'claude-sonnet'?")
    meta = response.router_metadata
    assert meta.routing_reason.startswith("cascade 'careful'")
    assert "skipped litellm/claude-sonet (litellm does not offer 'claude-sonet'" in meta.routing_reason
    assert [a.model for a in meta.attempts] == ["gpt-4o-mini"]


async def test_a_combo_model_the_native_provider_does_not_list_is_never_called(demo: LiteLLMProvider) -> None:
    native = BareFakeProvider("acme", {"acme-mini": (0.0002, 0.0008)})
    providers: dict[str, LLMProvider] = {"acme": native, "litellm": demo}
    config = RoutingConfig(combos={"fast": {"targets": ["acme/acme-maxi", "litellm/gpt-4o-mini"]}})
    async with HeuristicRouter(config) as router:
        plan = await router.plan(MESSAGES, providers, "fast", max_cost=1.0)
        response = await router.route_request(MESSAGES, providers, "fast", max_cost=1.0)

    assert plan.excluded["acme/acme-maxi"].startswith("acme does not offer 'acme-maxi' (it offers acme-mini)")
    assert "price unknown" not in plan.excluded["acme/acme-maxi"]
    assert native.calls == []
    assert response.router_metadata.selected_model == "gpt-4o-mini"


def test_chat_with_the_demo_embedding_model_says_it_is_one(demo_proxy: LiteLLMProxy) -> None:
    result = cli(demo_proxy, "chat", "hi", "-m", "text-embedding-3-small")

    assert result.exit_code == 1, result.output
    assert re.fullmatch(
        r"error: text-embedding-3-small is an embedding model \(its mode in the proxy's catalog\), not a chat "
        r"model; chat models: (gpt-4o-mini, claude-sonnet|claude-sonnet, gpt-4o-mini)\n",
        result.stderr,
    ), result.stderr


# ---------------------------------------------------------------------- beside the suite's proxy


@pytest.mark.parametrize(
    "raised",
    [RuntimeError("backend crashed"), ConnectionError("reset"), TimeoutError("slow"), KeyError("choices")],
    ids=lambda e: type(e).__name__,
)
async def test_a_native_providers_own_exception_falls_back_to_the_proxy(
    provider: LiteLLMProvider, raised: Exception
) -> None:
    native = BareFakeProvider("acme", {"acme-mini": (0.0002, 0.0008)}, script={"acme-mini": [raised]})
    providers: dict[str, LLMProvider] = {"acme": native, "litellm": provider}
    config = RoutingConfig(combos={"c": {"targets": ["acme/acme-mini", "litellm/cheap-chat"]}})
    async with HeuristicRouter(config) as router:
        response = await router.route_request(MESSAGES, providers, "c")

    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("litellm", "cheap-chat")
    assert [(a.model, a.outcome, a.error) for a in meta.attempts] == [
        ("acme-mini", "failed", type(raised).__name__),
        ("cheap-chat", "ok", None),
    ]
    assert meta.cost_source == "proxy"
    assert meta.total_cost is not None
    assert meta.total_cost > 0


async def test_the_docs_native_provider_streams_priced_beside_the_proxy(provider: LiteLLMProvider) -> None:
    providers: dict[str, LLMProvider] = {"acme": acme(), "litellm": provider}
    config = RoutingConfig(combos={"c": {"targets": ["acme/acme-mini", "litellm/cheap-chat"]}})
    async with HeuristicRouter(config) as router:
        native = router.route_stream(MESSAGES, providers, "c")
        native_text = "".join([chunk_text(c) async for c in native])

    assert native_text == "Paris is the capital of France."
    assert native.metadata is not None
    expected = providers["acme"].calculate_cost(14, 8, "acme-mini")
    assert (native.metadata.selected_provider, native.metadata.cost_source) == ("acme", "catalog")
    assert native.cost == pytest.approx(expected)
    assert native.metadata.total_cost == pytest.approx(expected)


async def test_hybrid_streams_its_heuristic_pick_from_the_proxy(provider: LiteLLMProvider) -> None:
    providers: dict[str, LLMProvider] = {"litellm": provider}
    async with HeuristicRouter(RoutingConfig(default_strategy="hybrid")) as router:
        stream = router.route_stream(MESSAGES, providers)
        chunks = [c async for c in stream]

    assert chunks
    assert stream.metadata is not None
    assert stream.metadata.routing_strategy == "hybrid"
    assert stream.metadata.selected_model == "cheap-chat"
    assert stream.metadata.routing_reason.startswith("hybrid: ")
    assert stream.metadata.cost_source == "proxy"
    assert stream.cost is not None


async def test_errors_name_their_cause_against_the_proxy(provider: LiteLLMProvider) -> None:
    providers: dict[str, LLMProvider] = {"litellm": provider}
    config = RoutingConfig(combos={"strong": {"targets": ["litellm/broken-chat"]}})
    async with HeuristicRouter(config) as router:
        plan = await router.plan(MESSAGES, providers, "cascade")
        with pytest.raises(FallbackExhaustedError) as exhausted:
            await router.route_request(MESSAGES, providers, "strong")
        with pytest.raises(Exception, match=re.escape("max_cost $0.000000001 ")):
            await router.route_request(MESSAGES, providers, max_cost=1e-9)

    assert plan.reason.startswith("cascade: ")
    text = str(exhausted.value)
    assert text.startswith("strong: every candidate failed (litellm/broken-chat: failed (")
    # The proxy's own message, not only the error's class.
    assert f"{type(exhausted.value.last_error).__name__}: {str(exhausted.value.last_error)[:100]}" in text


def chunk_text(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or []
    return "".join((c.get("delta") or {}).get("content") or "" for c in choices)
