"""``HeuristicRouter``: the facade over planning (``plan.py``) and execution (``execute.py``).

Strategies (``route_request(strategy=...)``):

- ``heuristic``: classify the prompt, keep the cheapest candidate of an adequate tier.
- ``cost_optimized``: the cheapest candidate that can serve the prompt, whatever its tier.
- ``cascade``: cheapest first; escalate to stronger tiers while the answer fails the check.
- ``hybrid``: the heuristic pick, escalated like a cascade when cascades are enabled (a stream
  takes the pick without escalation).
- a combo name: the combo's candidates in its order (priority, weighted, round_robin, cost).
- a cascade name: that cascade's steps.

Every strategy falls back by the error policy of ``policy.py`` and records the decision and
every attempt in ``router_metadata``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any, Literal

from .._stream import ChatStream, producer_stream
from .._utils import new_hash_key
from ..errors import BadRequestError, RoutingConfigError
from ..host import ChatCompletionResponse, LLMProvider, MessageInput
from .candidates import Candidate, CandidateCache, missing_reason
from .classify import ProfileRefiner, PromptProfile
from .config import RoutingConfig, check_budget, check_fraction
from .execute import Deadline, Executor
from .inflight import InFlight, RoutedCall, closed_error
from .plan import Planner, RoutePlan, requested_max_tokens
from .policy import ErrorAction, error_action
from .providers import probe_health, refresh_catalogs
from .quality import QualityScorer
from .select import RoutingDecision
from .state.local import RoutingState
from .state.redis import RedisStore, StoreMetricsHook
from .state.signals import SignalSettings
from .state.store import LocalStore, RoutingStore
from .tenants import tenant_call

__all__ = ["ErrorAction", "HeuristicRouter", "RoutePlan", "error_action"]


async def _next_or_stop(routed: AsyncGenerator[dict[str, Any], None], call: RoutedCall) -> dict[str, Any] | None:
    """The next chunk (None at the end); ProviderClosedError once the router's aclose() stopped it."""
    if call.stopped:
        raise closed_error()
    call.task = asyncio.current_task()
    try:
        return await anext(routed)
    except StopAsyncIteration:
        return None
    except asyncio.CancelledError:
        if not call.stopped_us():
            raise
    finally:
        call.task = None
    raise closed_error()


def check_deadline(deadline: float | None) -> float | None:
    """A routed deadline: None, or a positive finite number of seconds."""
    if deadline is not None and (
        isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not 0 < deadline < math.inf
    ):
        raise ValueError(f"deadline must be a positive number of seconds, got {deadline!r}")
    return None if deadline is None else float(deadline)


class HeuristicRouter:
    """Host-side routing over any ``dict[str, LLMProvider]`` (native providers and
    :class:`~muxer_litellm.LiteLLMProvider` alike). Keep one per gateway: its ``store``
    remembers cooldowns, breakers, provider health and round-robin turns between requests.

    ``store`` is where: by default this process's ``state`` (:class:`LocalStore`), or Redis
    shared by every replica when the config says ``state_backend: redis`` (:class:`RedisStore`,
    which routes on ``state`` while Redis is out of reach; ``store_metrics`` hears about that).
    Close the router (``await router.aclose()``, or ``async with``) to release a Redis client."""

    def __init__(
        self,
        config: RoutingConfig | None = None,
        *,
        quality_check: QualityScorer | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        state: RoutingState | None = None,
        store: RoutingStore | None = None,
        store_metrics: StoreMetricsHook | None = None,
        semantic: ProfileRefiner | None = None,
    ) -> None:
        """``semantic`` (opt-in, e.g. :class:`SemanticClassifier`) refines each prompt's class with
        an embedding call through the proxy; its cost counts in the request's ``total_cost``."""
        self.config = config or RoutingConfig()
        self.state = (
            state
            or (store.local if store is not None else None)
            or RoutingState(
                clock=clock,
                breaker_threshold=self.config.breaker_threshold,
                breaker_cooldown=self.config.breaker_cooldown,
                health_ttl=self.config.health_ttl,
                max_cooldown=self.config.max_cooldown,
            )
        )
        adaptive = self.config.adaptive
        # The config's say on how signals are kept, also for a state (or store) passed in.
        self.state.signals.settings = SignalSettings(
            alpha=adaptive.alpha,
            baseline_alpha=adaptive.baseline_alpha,
            min_samples=adaptive.min_samples,
            headroom_ttl=adaptive.headroom_ttl,
            stale_after=adaptive.stale_after,
        )
        self.store = store or self._default_store(store_metrics)
        self._cache = CandidateCache(clock=clock)
        self.planner = Planner(self.config, self.store, self._cache, rng or random.Random(), semantic)
        hash_key = self.config.tenant_hash_key
        self._hash_key = hash_key.get_secret_value().encode() if hash_key is not None else new_hash_key()
        self.executor = Executor(self.config, self.store, quality_check)
        self._in_flight = InFlight()

    def _default_store(self, metrics: StoreMetricsHook | None) -> RoutingStore:
        config = self.config
        if config.state_backend != "redis" or config.redis_url is None:
            return LocalStore(self.state)
        return RedisStore.from_url(
            config.redis_url.get_secret_value(),
            local=self.state,
            prefix=config.redis_prefix,
            timeout=config.redis_timeout,
            retry_interval=config.redis_retry_interval,
            trial_lease=config.redis_trial_lease,
            metrics=metrics,
            cluster=config.redis_cluster,
            publish_interval=config.adaptive.publish_interval,
            shared_ttl=config.adaptive.shared_ttl,
            publish_below=config.adaptive.publish_below,
        )

    async def aclose(self, *, drain_timeout: float = 10.0) -> None:
        """Refuse new routes at once (ProviderClosedError), let routes in flight finish for up
        to ``drain_timeout`` seconds, then stop them with ProviderClosedError; release the
        store's connections (a Redis client). The router is not used after."""
        await self._in_flight.drain(drain_timeout)
        await self.store.aclose()

    async def __aenter__(self) -> HeuristicRouter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def quality_check(self) -> QualityScorer | None:
        """The cascade's default answer check (None: :func:`default_quality_check`)."""
        return self.executor.quality_check

    @quality_check.setter
    def quality_check(self, scorer: QualityScorer | None) -> None:
        self.executor.quality_check = scorer

    # ------------------------------------------------------------------ decisions (sync)

    def candidates(self, providers: Mapping[str, LLMProvider]) -> list[Candidate]:
        """Every (provider, model) the providers offer, with prices, windows, tiers."""
        return self.planner.candidates(providers)

    def invalidate(self) -> None:
        """Forget cached candidates (they are also rebuilt when a catalog changes)."""
        self._cache.clear()

    def classify(
        self, messages: Sequence[MessageInput], *, prompt_tokens: int | None = None, **request: Any
    ) -> PromptProfile:
        return self.planner.classify(messages, prompt_tokens, request)

    def select_model(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        *,
        strategy: Literal["heuristic", "cost_optimized"] = "heuristic",
        max_cost: float | None = None,
        prompt_tokens: int | None = None,
        **request: Any,
    ) -> RoutingDecision:
        """Pick one candidate without calling it. ``request`` is the chat request's own
        parameters (``tools``, ``response_format``, ``max_tokens``...); unknown ones are
        ignored. Raises BudgetExceededError / NoRouteError when nothing fits.

        Reads only cached catalogs: call ``await provider.refresh_models()`` first, or
        use ``route_request``/``plan``, which do. With a shared store it reads the routing
        state as of the last request this replica routed."""
        if strategy not in ("heuristic", "cost_optimized"):
            raise RoutingConfigError(f"select_model strategy must be 'heuristic' or 'cost_optimized', got {strategy!r}")
        check_budget(max_cost)
        return self.planner.decide(
            self.candidates(providers),
            providers,
            self.classify(messages, prompt_tokens=prompt_tokens, **request),
            self.store.cached_snapshot(),
            strategy=strategy,
            max_cost=max_cost,
            max_tokens=requested_max_tokens(request),
        )

    # ------------------------------------------------------------------ providers

    async def refresh(self, providers: Mapping[str, LLMProvider]) -> dict[str, str]:
        """Refresh stale catalogs (providers that are a ``CatalogProvider``); a failed refresh
        keeps the old catalog, so routing still works on what it knew. Returns why each
        failed refresh failed, by provider name."""
        return await refresh_catalogs(providers)

    def check_config(self, providers: Mapping[str, LLMProvider]) -> dict[str, str]:
        """The config's references to candidates (combo ``targets``, cascade ``steps``, ``tiers``
        keys) that name no candidate of these providers, with why: ``{"combo 'fast': litellm/x":
        "litellm does not offer 'x' (it offers ...)"}``. Empty when every one exists. Reads the
        cached catalogs: call it after ``await router.refresh(providers)``. Plans exclude such
        references on every request anyway (never calling them); this says so up front."""
        candidates = self.candidates(providers)
        refs: list[tuple[str, str, str]] = []
        for name, combo in self.config.combos.items():
            refs.extend((f"combo {name!r}", t.provider, t.model) for t in combo.targets)
        for name, cascade in self.config.cascades.items():
            refs.extend((f"cascade {name!r}", t.provider, t.model) for t in cascade.steps)
        for key in self.config.tiers:
            provider, model = key.split("/", 1)
            refs.append(("tiers", provider, model))
        problems: dict[str, str] = {}
        for where, provider, model in refs:
            why = missing_reason(provider, providers.get(provider), model, candidates)
            if why is not None:
                problems[f"{where}: {provider}/{model}"] = why
        return problems

    async def check_health(self, providers: Mapping[str, LLMProvider]) -> dict[str, bool]:
        """Run every provider's cheap ``health_check()`` concurrently, each within
        ``health_check_timeout``; a provider that fails is left out of routing for
        ``health_ttl`` seconds (or until a later check passes)."""
        results = await probe_health(providers, self.config.health_check_timeout)
        for name, (ok, error) in results.items():
            await self.store.set_provider_health(name, ok, error)
        return {name: ok for name, (ok, _) in results.items()}

    # ------------------------------------------------------------------ planning and calling

    async def plan(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        strategy: str | None = None,
        max_cost: float | None = None,
        **request: Any,
    ) -> RoutePlan:
        """Decide what ``route_request`` would call, in order, without calling anything (and
        without taking a round-robin turn, so previewing does not change the next route)."""
        tenant = tenant_call(request, self._hash_key)
        return await self.planner.plan(messages, providers, strategy, max_cost, request, take_turn=False, tenant=tenant)

    async def route_request(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        strategy: str | None = None,
        max_cost: float | None = None,
        *,
        quality_check: QualityScorer | None = None,
        quality_threshold: float | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        """Route, call, fall back; ``kwargs`` go to ``chat_completion`` (``max_tokens``,
        ``temperature``, ``tools``...). ``strategy`` defaults to the config's
        ``default_strategy``. ``max_cost`` (USD) bounds the estimate of each call, and of
        the whole cascade. Cascades score answers with ``quality_check`` (default: the
        router's, else :func:`default_quality_check`) against ``quality_threshold``.

        ``deadline`` (seconds) bounds the whole request, all attempts and cascade steps
        together: each attempt gets the time that is left and is cancelled when it runs out,
        an attempt with too little left is not started, and ``router_metadata`` records the
        time each attempt had (``attempts[].time_left_ms``).

        Several tenants (docs/tenants.md): ``api_key`` (a tenant's virtual key),
        ``extra_headers``, ``attribution`` and ``tenant_id`` go to every attempt of providers
        that take them, with one request id and ``traceparent``; the tenant's own limits make
        only that tenant wait, and its key's models bound its candidates."""
        if kwargs.get("stream"):
            raise BadRequestError("route_request does not stream; use route_stream()")
        kwargs.pop("stream", None)
        check_fraction("quality_threshold", quality_threshold)
        tenant = tenant_call(kwargs, self._hash_key)
        clock = Deadline.start(check_deadline(deadline))
        call = self._in_flight.enter()
        call.task = asyncio.current_task()
        try:
            plan = await self.planner.plan(
                messages, providers, strategy, max_cost, kwargs, take_turn=True, tenant=tenant
            )
            if plan.kind == "cascade":
                threshold = plan.quality_threshold if quality_threshold is None else quality_threshold
                return await self.executor.cascade(
                    plan, messages, providers, max_cost, quality_check, threshold, kwargs, clock
                )
            return await self.executor.chain(plan, messages, providers, kwargs, clock)
        except asyncio.CancelledError:
            if not call.stopped_us():
                raise
        finally:
            self._in_flight.leave(call)
        raise closed_error()  # aclose() stopped it after the drain

    def route_stream(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        strategy: str | None = None,
        max_cost: float | None = None,
        *,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> ChatStream:
        """Stream through the route: fall back only until the first chunk arrives (after
        that the caller has seen output, so an error is raised, not hidden). The chunk that
        carries ``router_metadata`` gets the routing fields; if none does, a trailer chunk
        with ``choices: []`` carries them. Cascades cannot stream (an answer must be checked
        before anyone sees it).

        Returns a :class:`ChatStream`: iterate it with ``async for``, close it early with
        ``aclose()`` or ``async with``, and read the typed ``metadata`` (with the routing
        fields), ``usage`` and ``cost`` once it has ended. Planning starts on the first read.
        ``deadline`` (seconds, from the first read) bounds the whole stream, attempts included.
        The tenant keywords are :meth:`route_request`'s."""
        kwargs.pop("stream", None)
        check_deadline(deadline)

        async def chunks(out: ChatStream) -> AsyncGenerator[dict[str, Any], None]:
            tenant = tenant_call(kwargs, self._hash_key)
            clock = Deadline.start(deadline)
            call = self._in_flight.enter()
            try:
                call.task = asyncio.current_task()
                try:
                    plan = await self.planner.plan(
                        messages, providers, strategy, max_cost, kwargs, take_turn=True, streaming=True, tenant=tenant
                    )
                finally:
                    call.task = None
                if plan.kind == "cascade":
                    raise BadRequestError(f"strategy {plan.strategy!r} is a cascade; cascades cannot stream")
                async with contextlib.aclosing(
                    self.executor.stream(plan, messages, providers, kwargs, out, clock)
                ) as routed:
                    while (chunk := await _next_or_stop(routed, call)) is not None:
                        yield chunk
            finally:
                self._in_flight.leave(call)

        return producer_stream(chunks, marks_end=False)
