"""``execute.py`` through ``HeuristicRouter.route_request``: the fallback chain (next target,
skip a provider, stop), ``router_metadata`` of a routed answer, exhausted routes, and the
heuristic/cost_optimized fallback along the decision's alternatives up to ``max_attempts``.

Costs are derived from the fakes (see ``helpers.py``). A plan estimates
``estimate_prompt_tokens(messages)`` prompt tokens and, for a simple prompt without ``max_tokens``,
256 output tokens (``RoutingConfig.expected_output_tokens["simple"]``).
"""

from __future__ import annotations

import pytest

from muxer_litellm import (
    BadRequestError,
    ContextWindowExceededError,
    FallbackExhaustedError,
    ModelNotFoundError,
    NoRouteError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from muxer_litellm.routing import RoutingConfig
from tests.unit.routing.helpers import (
    CHEAP,
    MESSAGES,
    MID,
    NEXT_ERRORS,
    SKIP_PROVIDER_ERRORS,
    STOP_ERRORS,
    Clock,
    answered_cost,
    attempt_rows,
    bare,
    called,
    combo,
    make_router,
    two_providers,
)

# ---------------------------------------------------------------------------- helpers


# ---------------------------------------------------------------------------- error_action / fallback rules


@pytest.mark.parametrize("exc", NEXT_ERRORS)
async def test_retryable_and_model_scoped_errors_fall_back_to_the_next_target(exc: ProviderError) -> None:
    a, b, providers = two_providers(a_script={"m1": [exc]})
    router = make_router(combo("a/m1", "a/m2", "b/m3"))

    response = await router.route_request(MESSAGES, providers, "c")

    meta = response.router_metadata
    # the same provider's next model is tried: these errors are about this model only
    assert (meta.selected_provider, meta.selected_model) == ("a", "m2")
    assert called(a) == ["m1", "m2"]
    assert called(b) == []
    assert attempt_rows(meta.attempts) == [
        ("a", "m1", "failed", type(exc).__name__),
        ("a", "m2", "ok", None),
    ]


@pytest.mark.parametrize("exc", SKIP_PROVIDER_ERRORS)
async def test_auth_and_budget_errors_skip_that_providers_other_targets_but_try_another_provider(
    exc: ProviderError,
) -> None:
    a, b, providers = two_providers(a_script={"m1": [exc]})
    router = make_router(combo("a/m1", "a/m2", "b/m3"))

    response = await router.route_request(MESSAGES, providers, "c")

    meta = response.router_metadata
    assert (meta.selected_provider, meta.selected_model) == ("b", "m3")
    assert called(a) == ["m1"]  # m2 shares the refused credentials/budget
    assert called(b) == ["m3"]
    assert attempt_rows(meta.attempts) == [
        ("a", "m1", "failed", type(exc).__name__),
        ("a", "m2", "skipped", None),
        ("b", "m3", "ok", None),
    ]
    skipped = meta.attempts[1]
    assert skipped.detail is not None
    assert type(exc).__name__ in skipped.detail


@pytest.mark.parametrize("exc", STOP_ERRORS)
async def test_request_errors_are_raised_at_once_and_later_targets_never_called(exc: ProviderError) -> None:
    a, b, providers = two_providers(a_script={"m1": [exc]})
    router = make_router(combo("a/m1", "b/m3", "a/m2"))

    with pytest.raises(type(exc)) as info:
        await router.route_request(MESSAGES, providers, "c")

    assert info.value is exc
    assert called(a) == ["m1"]
    assert called(b) == []


async def test_fallback_chain_goes_through_several_failures_in_order() -> None:
    _a, _b, providers = two_providers(
        a_script={"m1": [RateLimitError("429")], "m2": [ModelNotFoundError("gone", 404)]},
        b_script={"m3": [ProviderTimeoutError("slow")]},
    )
    router = make_router(combo("a/m1", "a/m2", "b/m3", "b/m4"))

    response = await router.route_request(MESSAGES, providers, "c")

    assert response.router_metadata.selected_model == "m4"
    assert attempt_rows(response.router_metadata.attempts) == [
        ("a", "m1", "failed", "RateLimitError"),
        ("a", "m2", "failed", "ModelNotFoundError"),
        ("b", "m3", "failed", "ProviderTimeoutError"),
        ("b", "m4", "ok", None),
    ]
    assert "after 3 failed attempt(s)" in response.router_metadata.routing_reason


# ---------------------------------------------------------------------------- router_metadata


async def test_router_metadata_records_the_fallback_and_costs() -> None:
    alpha = bare("native-alpha", {"m1": CHEAP}, script={"m1": [ProviderUnavailableError("503", 503)]})
    beta = bare("native-beta", {"m2": MID})
    router = make_router(combo("alpha/m1", "beta/m2", name="mix"))

    response = await router.route_request(MESSAGES, {"alpha": alpha, "beta": beta}, "mix")

    meta = response.router_metadata
    assert meta.selected_provider == "beta"  # the providers-dict key, not provider_name
    assert meta.selected_model == "m2"
    assert meta.routing_strategy == "mix"
    assert "mix" in meta.routing_reason
    assert "answered by beta/m2 after 1 failed attempt(s)" in meta.routing_reason
    assert [(a.provider, a.model, a.outcome, a.error) for a in meta.attempts] == [
        ("alpha", "m1", "failed", "ProviderUnavailableError"),
        ("beta", "m2", "ok", None),
    ]
    assert meta.attempts[0].cost is None
    assert meta.attempts[1].cost == pytest.approx(answered_cost(MID))
    assert meta.estimated_cost == pytest.approx(answered_cost(MID))
    assert meta.total_cost == pytest.approx(answered_cost(MID))  # the failed call counts 0
    assert all(a.duration_ms is not None and a.duration_ms >= 0 for a in meta.attempts)


async def test_router_metadata_without_fallback_has_one_ok_attempt() -> None:
    _a, _, providers = two_providers()
    router = make_router(combo("a/m1", "b/m3"))
    meta = (await router.route_request(MESSAGES, providers, "c")).router_metadata
    assert attempt_rows(meta.attempts) == [("a", "m1", "ok", None)]
    assert meta.total_cost == pytest.approx(answered_cost(CHEAP))
    assert "failed attempt" not in meta.routing_reason


async def test_total_cost_is_none_when_the_answering_call_cost_is_unknown() -> None:
    a = bare("native-a", {"known": CHEAP}, script={"known": [ProviderUnavailableError("503", 503)]})
    b = bare("native-b", {"mystery": None})
    router = make_router(combo("a/known", "b/mystery"))

    meta = (await router.route_request(MESSAGES, {"a": a, "b": b}, "c")).router_metadata

    assert meta.selected_model == "mystery"
    assert meta.estimated_cost is None
    assert meta.attempts[-1].cost is None
    assert meta.total_cost is None  # unknown, never read as free


# ---------------------------------------------------------------------------- exhausted / no route


@pytest.mark.parametrize(
    ("last", "retryable"),
    [
        (ProviderUnavailableError("503", 503), True),
        (RateLimitError("429", retry_after=2), True),
        (ModelNotFoundError("gone", 404), False),
        (ContextWindowExceededError("too long", 400), False),
    ],
)
async def test_all_targets_fail_raises_fallback_exhausted_mirroring_the_last_error(
    last: ProviderError, retryable: bool
) -> None:
    first = ProviderTimeoutError("slow")
    a, b, providers = two_providers(a_script={"m1": [first]}, b_script={"m3": [last]})
    router = make_router(combo("a/m1", "b/m3"))

    with pytest.raises(FallbackExhaustedError) as info:
        await router.route_request(MESSAGES, providers, "c")

    err = info.value
    assert err.last_error is last
    assert err.__cause__ is last
    assert err.retryable is retryable
    assert err.status_code == last.status_code
    assert [(d["provider"], d["model"], d["outcome"], d["error"]) for d in err.attempts] == [
        ("a", "m1", "failed", "ProviderTimeoutError"),
        ("b", "m3", "failed", type(last).__name__),
    ]
    assert called(a) == ["m1"]
    assert called(b) == ["m3"]


async def test_all_targets_cooling_down_raises_no_route_with_the_shortest_wait() -> None:
    clock = Clock()
    _, _, providers = two_providers(
        a_script={"m1": [RateLimitError("429", retry_after=4)]},
        b_script={"m3": [RateLimitError("429", retry_after=9)]},
    )
    router = make_router(combo("a/m1", "b/m3"), clock)

    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, providers, "c")

    clock.now = 1.0
    with pytest.raises(NoRouteError) as info:
        await router.route_request(MESSAGES, providers, "c")
    err = info.value
    assert err.retry_after == pytest.approx(3.0)
    assert err.retryable is True
    assert set(err.excluded) == {"a/m1", "b/m3"}


# ---------------------------------------------------------------------------- heuristic / cost_optimized fallback


@pytest.mark.parametrize("strategy", ["heuristic", "cost_optimized"])
async def test_builtin_strategies_fall_back_along_the_alternatives_up_to_max_attempts(strategy: str) -> None:
    err = ProviderUnavailableError("503", 503)
    p = bare(
        "native",
        {"d": (0.004, 0.004), "a": (0.001, 0.001), "c": (0.003, 0.003), "b": (0.002, 0.002)},
        script={m: [err] for m in "abcd"},
    )
    router = make_router(RoutingConfig(max_attempts=3))

    with pytest.raises(FallbackExhaustedError) as info:
        await router.route_request(MESSAGES, {"p": p}, strategy)

    assert called(p) == ["a", "b", "c"]  # cheapest first, then the alternatives; d never
    assert [d["model"] for d in info.value.attempts] == ["a", "b", "c"]
    assert info.value.last_error is err


@pytest.mark.parametrize("strategy", ["heuristic", "cost_optimized"])
async def test_builtin_strategy_answer_after_a_failure_records_both_attempts(strategy: str) -> None:
    p = bare("native", {"a": CHEAP, "b": (0.001, 0.002)}, script={"a": [RateLimitError("429")]})
    router = make_router(RoutingConfig())

    meta = (await router.route_request(MESSAGES, {"p": p}, strategy)).router_metadata

    assert meta.selected_model == "b"
    assert meta.routing_strategy == strategy
    assert attempt_rows(meta.attempts) == [("p", "a", "failed", "RateLimitError"), ("p", "b", "ok", None)]
    assert meta.total_cost == pytest.approx(answered_cost((0.001, 0.002)))


async def test_max_attempts_one_means_no_fallback() -> None:
    p = bare("native", {"a": CHEAP, "b": MID}, script={"a": [ProviderTimeoutError("slow")]})
    router = make_router(RoutingConfig(max_attempts=1))
    with pytest.raises(FallbackExhaustedError):
        await router.route_request(MESSAGES, {"p": p}, "cost_optimized")
    assert called(p) == ["a"]


async def test_builtin_strategy_stops_on_bad_request() -> None:
    p = bare("native", {"a": CHEAP, "b": MID}, script={"a": [BadRequestError("bad", 400)]})
    with pytest.raises(BadRequestError):
        await make_router(RoutingConfig()).route_request(MESSAGES, {"p": p}, "heuristic")
    assert called(p) == ["a"]
