"""Routing over native providers (``muxer_litellm.host.LLMProvider`` written by a gateway's
developer, here ``muxer_litellm.testing``'s fakes): configured candidates checked against the
catalogs, a provider's own exceptions contained, native streams priced, hybrid streams, and
errors that name their cause. The same inputs against a real proxy: tests/integration/test_native_routing.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from muxer_litellm import LiteLLMProvider
from muxer_litellm.errors import (
    FallbackExhaustedError,
    NoRouteError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RoutingConfigError,
)
from muxer_litellm.proxy.process import free_port
from muxer_litellm.routing import HeuristicRouter, RoutingConfig
from muxer_litellm.routing.policy import contained
from tests.unit.routing.helpers import (
    CHEAP,
    COMPLETION_TOKENS,
    EXPENSIVE,
    MESSAGES,
    PROMPT_TOKENS,
    answered_cost,
    bare,
    called,
    card,
    catalog,
    combo,
    drain,
    make_router,
    user,
)

# A gateway's own provider, as a developer writes it, beside a catalog provider named like the demo proxy.
ACME_MODELS = {"acme-mini": CHEAP}


def acme(**kw: Any) -> Any:
    return bare("acme", ACME_MODELS, replies={"acme-mini": "hello from acme"}, **kw)


def demo_like_proxy(**kw: Any) -> Any:
    """A catalog provider serving what the demo proxy serves: two chat models and an embedding model."""
    return catalog(
        "litellm",
        [
            card("gpt-4o-mini", 0.00015, 0.0006),
            card("claude-sonnet", 0.003, 0.015),
            card("text-embedding-3-small", 0.00002, 0.0, mode="embedding"),
        ],
        **kw,
    )


# ---------------------------------------------------------------------- 1. candidates checked against catalogs


async def test_a_combo_candidate_the_native_provider_does_not_list_is_excluded_and_never_called() -> None:
    native = acme()
    router = make_router(combo("acme/acme-maxi", "acme/acme-mini", name="fast"))

    plan = await router.plan(MESSAGES, {"acme": native}, "fast")
    response = await router.route_request(MESSAGES, {"acme": native}, "fast")

    assert [c.key for c in plan.candidates] == ["acme/acme-mini"]
    assert (
        plan.excluded["acme/acme-maxi"]
        == "acme does not offer 'acme-maxi' (it offers acme-mini); did you mean 'acme-mini'?"
    )
    assert "skipped acme/acme-maxi (acme does not offer 'acme-maxi'" in plan.reason
    assert called(native) == ["acme-mini"]  # acme-maxi was never called
    assert response.router_metadata.selected_model == "acme-mini"
    assert [a.model for a in response.router_metadata.attempts] == ["acme-mini"]


async def test_a_misspelled_cascade_step_is_reported_at_load_and_left_out_of_every_plan() -> None:
    proxy = demo_like_proxy()
    providers = {"litellm": proxy}
    config = RoutingConfig(cascades={"careful": {"steps": ["litellm/gpt-4o-mini", "litellm/claude-sonet"]}})
    router = make_router(config)

    await router.refresh(providers)
    problems = router.check_config(providers)
    plan = await router.plan(MESSAGES, providers, "careful")

    assert problems == {
        "cascade 'careful': litellm/claude-sonet": (
            "litellm does not offer 'claude-sonet' (it offers gpt-4o-mini, claude-sonnet); "
            "did you mean 'claude-sonnet'?"
        )
    }
    assert [c.key for c in plan.candidates] == ["litellm/gpt-4o-mini"]
    assert "did you mean 'claude-sonnet'?" in plan.excluded["litellm/claude-sonet"]


async def test_a_combo_of_names_the_proxy_does_not_serve_is_a_config_error_naming_what_it_serves() -> None:
    # config/routing.yaml's "everyday" against the demo proxy's models.
    proxy = demo_like_proxy()
    config = RoutingConfig(
        combos={"everyday": {"targets": ["litellm/cheap-chat", "openai/gpt-4o-mini", "litellm/smart-chat"]}}
    )
    router = make_router(config)

    with pytest.raises(RoutingConfigError) as error:
        await router.plan(MESSAGES, {"litellm": proxy}, "everyday")

    message = str(error.value)
    assert message.startswith("everyday: none of its candidates can be called: ")
    assert "litellm/cheap-chat: litellm does not offer 'cheap-chat' (it offers gpt-4o-mini, claude-sonnet)" in message
    assert "openai/gpt-4o-mini: provider 'openai' is not registered" in message
    assert proxy.calls == []


async def test_an_embedding_model_named_in_a_combo_is_excluded_as_one() -> None:
    proxy = demo_like_proxy()
    router = make_router(combo("litellm/text-embedding-3-small", "litellm/gpt-4o-mini"))

    plan = await router.plan(MESSAGES, {"litellm": proxy}, "c")

    assert plan.excluded["litellm/text-embedding-3-small"] == (
        "litellm's 'text-embedding-3-small' is not a chat model (mode 'embedding' in its catalog)"
    )


async def test_with_max_cost_a_missing_model_and_an_unpriced_one_read_differently() -> None:
    native = bare("acme", {"acme-mini": CHEAP, "acme-free-tier": None})
    router = make_router(combo("acme/acme-mini", "acme/acme-mxi", "acme/acme-free-tier"))

    plan = await router.plan(MESSAGES, {"acme": native}, "c", max_cost=1.0)

    assert plan.excluded["acme/acme-mxi"].startswith(
        "acme does not offer 'acme-mxi' (it offers acme-mini, acme-free-tier)"
    )
    assert plan.excluded["acme/acme-free-tier"] == "price unknown, so it cannot be shown to fit max_cost"


async def test_a_provider_offering_nothing_right_now_is_no_route_not_a_config_error() -> None:
    empty = catalog("litellm", [])
    native = acme()
    router = make_router(combo("litellm/gpt-4o-mini", name="proxy-only"))

    with pytest.raises(NoRouteError) as error:
        await router.plan(MESSAGES, {"litellm": empty, "acme": native}, "proxy-only")

    assert error.value.excluded == {
        "litellm/gpt-4o-mini": "litellm offers no chat model right now (its catalog is empty or was not loaded)"
    }


async def test_check_config_covers_combos_cascades_and_tiers_and_is_empty_when_all_exist() -> None:
    proxy = demo_like_proxy()
    providers = {"litellm": proxy}
    good = make_router(
        RoutingConfig(
            combos={"c": {"targets": ["litellm/gpt-4o-mini"]}},
            cascades={"k": {"steps": ["litellm/gpt-4o-mini", "litellm/claude-sonnet"]}},
            tiers={"litellm/claude-sonnet": 3},
        )
    )
    bad = make_router(RoutingConfig(tiers={"litellm/smart-chat": 3}))

    assert good.check_config(providers) == {}
    assert list(bad.check_config(providers)) == ["tiers: litellm/smart-chat"]


# ---------------------------------------------------------------------- 2. a provider's own exceptions


@pytest.mark.parametrize(
    ("raised", "retryable"),
    [
        (RuntimeError("backend crashed"), False),
        (KeyError("choices"), False),
        (ConnectionError("connection reset by peer"), True),
        (TimeoutError("read timed out"), True),
    ],
    ids=["RuntimeError", "KeyError", "ConnectionError", "TimeoutError"],
)
async def test_a_native_providers_own_exception_is_a_failed_attempt_and_the_route_falls_back(
    raised: Exception, retryable: bool
) -> None:
    native = acme(script={"acme-mini": [raised]})
    proxy = demo_like_proxy()
    router = make_router(combo("acme/acme-mini", "litellm/gpt-4o-mini", breaker_threshold=1))

    response = await router.route_request(MESSAGES, {"acme": native, "litellm": proxy}, "c")

    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("litellm", "gpt-4o-mini")
    failed = meta.attempts[0]
    assert (failed.provider, failed.model, failed.outcome) == ("acme", "acme-mini", "failed")
    assert failed.error == type(raised).__name__
    assert failed.detail == str(raised)
    # Retryable (timeouts, connection errors) counts toward the breaker; a bug does not.
    assert (router.state.breaker_state("acme/acme-mini") == "open") is retryable


async def test_every_candidate_raising_its_own_exception_ends_in_fallback_exhausted_with_each_message() -> None:
    native = acme(script={"acme-mini": [RuntimeError("backend crashed")]})
    other = bare("beta", {"beta-1": CHEAP}, script={"beta-1": [TimeoutError("read timed out")]})
    router = make_router(combo("acme/acme-mini", "beta/beta-1", name="strong"))

    with pytest.raises(FallbackExhaustedError) as error:
        await router.route_request(MESSAGES, {"acme": native, "beta": other}, "strong")

    assert str(error.value) == (
        "strong: every candidate failed (acme/acme-mini: failed (RuntimeError: backend crashed); "
        "beta/beta-1: failed (TimeoutError: read timed out))"
    )
    last = error.value.last_error
    assert isinstance(last, ProviderTimeoutError)
    assert isinstance(last.__cause__, TimeoutError)
    assert [a["error"] for a in error.value.attempts] == ["RuntimeError", "TimeoutError"]


async def test_cancellation_still_propagates_from_a_native_provider() -> None:
    native = acme(script={"acme-mini": [asyncio.CancelledError()]})
    proxy = demo_like_proxy()
    router = make_router(combo("acme/acme-mini", "litellm/gpt-4o-mini"))

    with pytest.raises(asyncio.CancelledError):
        await router.route_request(MESSAGES, {"acme": native, "litellm": proxy}, "c")

    assert proxy.calls == []


async def test_a_native_stream_raising_its_own_exception_before_the_first_chunk_falls_back() -> None:
    native = acme(script={"acme-mini": [RuntimeError("stream broke")]})
    proxy = demo_like_proxy()
    router = make_router(combo("acme/acme-mini", "litellm/gpt-4o-mini"))

    stream = router.route_stream(MESSAGES, {"acme": native, "litellm": proxy}, "c")
    await drain(stream)

    assert stream.metadata is not None
    assert stream.metadata.selected_model == "gpt-4o-mini"
    assert [(a.model, a.outcome, a.error) for a in stream.metadata.attempts] == [
        ("acme-mini", "failed", "RuntimeError"),
        ("gpt-4o-mini", "ok", None),
    ]


class APITimeoutError(Exception):
    """An SDK's own timeout class, as openai-python names it."""


class APIConnectionError(Exception):
    """An SDK's own connection error class."""


@pytest.mark.parametrize(
    ("raised", "kind", "retryable"),
    [
        (TimeoutError("t"), ProviderTimeoutError, True),
        (APITimeoutError("Request timed out."), ProviderTimeoutError, True),
        (ConnectionRefusedError("refused"), ProviderUnavailableError, True),
        (APIConnectionError("Connection error."), ProviderUnavailableError, True),
        (ValueError("bad"), ProviderError, False),
    ],
)
def test_contained_reads_sdk_exceptions_by_their_kind(raised: Exception, kind: type, retryable: bool) -> None:
    error = contained(raised, "acme", "acme-mini")
    assert type(error) is kind
    assert error.retryable is retryable
    assert (error.provider, error.model, error.error_type) == ("acme", "acme-mini", type(raised).__name__)
    assert str(error) == f"{type(raised).__name__}: {raised}"
    assert error.__cause__ is raised


def test_contained_keeps_the_contracts_errors_as_they_are() -> None:
    error = ProviderUnavailableError("down", 503)
    assert contained(error, "acme", "m") is error


# ---------------------------------------------------------------------- 3. native streams priced


async def test_a_native_stream_with_usage_on_its_last_chunk_is_priced_by_calculate_cost() -> None:
    native = acme(stream_metadata=False)  # chunks carry usage, no router_metadata
    router = make_router(combo("acme/acme-mini"))

    stream = router.route_stream(MESSAGES, {"acme": native}, "c")
    chunks = await drain(stream)

    expected = native.calculate_cost(PROMPT_TOKENS, COMPLETION_TOKENS, "acme-mini")
    assert expected == pytest.approx(answered_cost(CHEAP))
    assert stream.metadata is not None
    assert stream.cost == pytest.approx(expected)
    assert stream.metadata.cost_source == "catalog"
    assert stream.metadata.total_cost == pytest.approx(expected)
    assert chunks[-1]["router_metadata"]["estimated_cost"] == pytest.approx(expected)


async def test_a_native_stream_with_an_unknown_price_stays_unknown() -> None:
    native = bare("acme", {"acme-mini": None}, stream_metadata=False)
    router = make_router(combo("acme/acme-mini"))

    stream = router.route_stream(MESSAGES, {"acme": native}, "c")
    await drain(stream)

    assert stream.metadata is not None
    assert (stream.cost, stream.metadata.cost_source, stream.metadata.total_cost) == (None, "unknown", None)


async def test_a_native_chat_without_its_own_price_is_priced_from_usage() -> None:
    native = acme()
    unpriced = native.response("acme-mini", "hi")
    unpriced.router_metadata.estimated_cost = None
    unpriced.router_metadata.cost_source = "unknown"
    native.script["acme-mini"] = [unpriced]
    router = make_router(combo("acme/acme-mini"))

    response = await router.route_request(MESSAGES, {"acme": native}, "c")

    meta = response.router_metadata
    assert meta.cost_source == "catalog"
    assert meta.estimated_cost == pytest.approx(answered_cost(CHEAP))
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP))


# ---------------------------------------------------------------------- 4. hybrid streams


async def test_default_strategy_hybrid_streams_its_heuristic_pick() -> None:
    native = bare("acme", {"acme-mini": CHEAP, "acme-max": EXPENSIVE})
    router = HeuristicRouter(RoutingConfig(default_strategy="hybrid"))
    providers = {"acme": native}

    stream = router.route_stream(MESSAGES, providers)
    chunks = await drain(stream)
    plan = await router.plan(MESSAGES, providers)  # a chat call still escalates like a cascade

    assert chunks
    assert stream.metadata is not None
    assert (stream.metadata.selected_model, stream.metadata.routing_strategy) == ("acme-mini", "hybrid")
    assert stream.metadata.routing_reason.startswith("hybrid: ")
    assert "streams take the heuristic pick without escalation" in stream.metadata.routing_reason
    assert plan.kind == "cascade"


# ---------------------------------------------------------------------- 5. error texts


async def test_a_cascades_reason_names_the_cascade_strategy() -> None:
    native = bare("acme", {"acme-mini": CHEAP, "acme-max": EXPENSIVE})
    router = make_router(RoutingConfig())

    plan = await router.plan(MESSAGES, {"acme": native}, "cascade")

    assert plan.reason.startswith("cascade: prompt is simple")
    assert "cost_optimized" not in plan.reason


async def test_a_tiny_max_cost_prints_with_enough_digits() -> None:
    native = acme()
    router = make_router(RoutingConfig())

    with pytest.raises(ProviderError) as error:
        await router.route_request(MESSAGES, {"acme": native}, max_cost=1e-9)

    assert "max_cost $0.000000001 " in str(error.value)
    assert "$0.000000 " not in str(error.value)


async def test_no_route_after_every_candidate_was_skipped_names_each_reason() -> None:
    native = acme(script={"acme-mini": [ProviderUnavailableError("acme is down", 503)]})
    router = make_router(combo("acme/acme-mini", breaker_threshold=1, breaker_cooldown=60))
    providers = {"acme": native}
    with pytest.raises(FallbackExhaustedError) as first:
        await router.route_request(MESSAGES, providers, "c")
    assert "acme/acme-mini: failed (ProviderUnavailableError: acme is down)" in str(first.value)

    # The breaker is open, but it is the last candidate: tried anyway, and the message says why it failed.
    with pytest.raises(FallbackExhaustedError) as second:
        await router.route_request(user("Hello?"), providers, "c")
    assert "(ProviderUnavailableError: acme is down)" in str(second.value)


async def test_a_proxy_on_the_wrong_port_fails_with_what_to_check() -> None:
    port = free_port()  # nothing listens there
    async with LiteLLMProvider(f"http://127.0.0.1:{port}", "sk-" + "x" * 32) as proxy:
        proxy.add_custom_model("claude-sonnet", {"input": 0.003, "output": 0.015})
        router = make_router(combo("litellm/claude-sonnet", name="strong"))

        with pytest.raises(FallbackExhaustedError) as error:
            await router.route_request(MESSAGES, {"litellm": proxy}, "strong")

    assert str(error.value).startswith(
        f"strong: every candidate failed (litellm/claude-sonnet: failed (ProviderUnavailableError: "
        f"LiteLLM proxy not reachable at http://127.0.0.1:{port} (ConnectError: "
    )
    assert "check that the proxy is running and that base_url (LITELLM_BASE_URL) names its host and port" in str(
        error.value
    )
