"""``HeuristicRouter``: choose, call and fall back across registered providers.

Strategies (``route_request(strategy=...)``):

- ``heuristic``: classify the prompt, keep the cheapest candidate of an adequate tier.
- ``cost_optimized``: the cheapest candidate that can serve the prompt, whatever its tier.
- ``cascade``: cheapest first; escalate to stronger tiers while the answer fails the check.
- ``hybrid``: the heuristic pick, escalated like a cascade when cascades are enabled.
- a combo name: the combo's targets in its order (priority, weighted, round_robin, cost).
- a cascade name: that cascade's steps.

Every strategy falls back on errors another target may not have (429, 5xx, timeouts,
connection failures, unknown model, context window, content policy), skips the rest of a
provider whose credentials or budget were refused, and stops on a request no target would
accept. ``router_metadata`` records the decision and every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    FallbackExhaustedError,
    ModelNotFoundError,
    NoRouteError,
    ProviderError,
    RateLimitError,
    RoutingConfigError,
)
from ..host import ChatCompletionResponse, LLMProvider, MessageInput, RouteAttempt
from ..streaming import close_stream
from .candidates import Candidate, CandidateCache, candidate_for
from .classify import PromptProfile, _json_text, classify_prompt, estimate_prompt_tokens, text_tokens
from .config import CascadeConfig, ComboConfig, RoutingConfig, Target
from .quality import QualityScorer, QualityVerdict, default_quality_check
from .select import Alternative, RoutingDecision, select_candidate, unsure_escalation
from .semantic import ProfileRefiner
from .state import TargetState

__all__ = ["ErrorAction", "HeuristicRouter", "RoutePlan", "error_action"]

logger = logging.getLogger("muxer_litellm.routing")

PlanKind = Literal["single", "combo", "cascade"]
ErrorAction = Literal["next", "skip_provider", "stop"]


def error_action(exc: ProviderError) -> ErrorAction:
    """What a failed target means for the rest of the route.

    ``next``: another target may succeed (retryable, or scoped to this model).
    ``skip_provider``: this provider refused our credentials or budget; its other models
    would too, but another provider has its own. ``stop``: the request itself is wrong.
    """
    if isinstance(exc, (AuthenticationError, BudgetExceededError)):
        return "skip_provider"
    if isinstance(exc, (ModelNotFoundError, ContextWindowExceededError, ContentPolicyError)):
        return "next"
    if isinstance(exc, BadRequestError):
        return "stop"
    return "next" if exc.retryable else "stop"


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """What ``route_request`` will do, before it does it (the CLI's ``route`` shows this)."""

    strategy: str
    kind: PlanKind
    targets: tuple[Alternative, ...]
    reason: str
    profile: PromptProfile
    excluded: Mapping[str, str] = field(default_factory=dict)
    decision: RoutingDecision | None = None
    quality_threshold: float = 0.5
    #: Calls made while planning (an opt-in semantic classifier's embedding): they open the
    #: request's attempts and count in its total cost.
    attempts: tuple[RouteAttempt, ...] = ()


@dataclass(slots=True)
class _Run:
    """Attempts of one routed request, and what they cost."""

    attempts: list[RouteAttempt] = field(default_factory=list)
    last_error: ProviderError | None = None

    def add(self, target: Alternative, outcome: str, **fields: Any) -> RouteAttempt:
        attempt = RouteAttempt(provider=target.provider, model=target.model, outcome=outcome, **fields)
        self.attempts.append(attempt)
        return attempt

    @property
    def failures(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "failed")

    def answered_reason(self, reason: str, target: Alternative) -> str:
        """The plan's reason, plus the fallback when earlier targets failed."""
        if not self.failures:
            return reason
        return f"{reason}; answered by {target.key} after {self.failures} failed attempt(s)"

    def skipped(self, target: Alternative, state: TargetState, refused: Mapping[str, str]) -> bool:
        """Record ``target`` as skipped when its provider refused us earlier in this request
        or it is unavailable now (cooling down, breaker open, provider down)."""
        if target.provider in refused:
            self.add(target, "skipped", detail=refused[target.provider])
            return True
        status = state.status(target.key, target.provider)
        if status is not None:
            self.add(target, "skipped", detail=status.reason)
            return True
        return False

    def total_cost(self) -> float | None:
        """Answered calls' cost; failed and skipped calls count 0 (providers do not bill
        errors). None as soon as one answered call's cost is unknown."""
        total = 0.0
        for a in self.attempts:
            if a.outcome in ("ok", "accepted", "escalated", "classified", "judged"):
                if a.cost is None:
                    return None
                total += a.cost
        return total


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HeuristicRouter:
    """Host-side routing over any ``dict[str, LLMProvider]`` (native providers and
    :class:`~muxer_litellm.LiteLLMProvider` alike). Keep one per gateway: it remembers
    cooldowns, breakers, provider health and round-robin turns between requests."""

    def __init__(
        self,
        config: RoutingConfig | None = None,
        *,
        quality_check: QualityScorer | None = None,
        clock: Any = time.monotonic,
        rng: random.Random | None = None,
        semantic: ProfileRefiner | None = None,
    ) -> None:
        self.config = config or RoutingConfig()
        self.quality_check = quality_check
        # Opt-in: refines each prompt's profile with a model call (``semantic.SemanticClassifier``).
        self.semantic = semantic
        self.state = TargetState(
            clock=clock,
            breaker_threshold=self.config.breaker_threshold,
            breaker_cooldown=self.config.breaker_cooldown,
            health_ttl=self.config.health_ttl,
            max_cooldown=self.config.max_cooldown,
        )
        self._rng = rng or random.Random()
        self._cache = CandidateCache(clock=clock)

    # ------------------------------------------------------------------ decisions (sync)

    def candidates(self, providers: Mapping[str, LLMProvider]) -> list[Candidate]:
        """Every (provider, model) the providers offer, with prices, windows, tiers."""
        return self._cache.build(
            providers, tiers=self.config.tiers, tier_price_thresholds=self.config.tier_price_thresholds
        )

    def invalidate(self) -> None:
        """Forget cached candidates (they are also rebuilt when a catalog changes)."""
        self._cache.clear()

    def classify(
        self, messages: Sequence[MessageInput], *, prompt_tokens: int | None = None, **request: Any
    ) -> PromptProfile:
        return classify_prompt(
            messages,
            tools=request.get("tools"),
            functions=request.get("functions"),
            response_format=request.get("response_format"),
            long_context_tokens=self.config.long_context_tokens,
            prompt_tokens=prompt_tokens,
        )

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
        use ``route_request``/``plan``, which do."""
        if strategy not in ("heuristic", "cost_optimized"):
            raise RoutingConfigError(f"select_model strategy must be 'heuristic' or 'cost_optimized', got {strategy!r}")
        _check_budget(max_cost)
        profile = self.classify(messages, prompt_tokens=prompt_tokens, **request)
        return select_candidate(
            self.candidates(providers),
            providers,
            profile,
            self.config,
            self.state,
            strategy=strategy,
            max_cost=max_cost,
            max_tokens=_max_tokens(request),
        )

    # ------------------------------------------------------------------ planning (async)

    async def refresh(self, providers: Mapping[str, LLMProvider]) -> dict[str, str]:
        """Refresh stale catalogs (providers with ``refresh_models``); a failed refresh
        keeps the old catalog, so routing still works on what it knew. Returns why each
        failed refresh failed, by provider name."""
        refreshers = [(name, fn) for name, p in providers.items() if callable(fn := getattr(p, "refresh_models", None))]
        failures: dict[str, str] = {}
        if not refreshers:
            return failures
        results = await asyncio.gather(*(fn() for _, fn in refreshers), return_exceptions=True)
        for (name, _), result in zip(refreshers, results, strict=True):
            if isinstance(result, Exception):
                logger.warning("routing: catalog refresh of %r failed, using what it had: %s", name, _short(result))
                failures[name] = f"{type(result).__name__}: {_short(result, 200)}"
            elif isinstance(result, BaseException):
                raise result
        return failures

    async def check_health(self, providers: Mapping[str, LLMProvider]) -> dict[str, bool]:
        """Run every provider's cheap ``health_check()`` concurrently, each within
        ``health_check_timeout``; a provider that fails is left out of routing for
        ``health_ttl`` seconds (or until a later check passes)."""

        async def probe(provider: LLMProvider) -> tuple[bool, str | None]:
            try:
                async with asyncio.timeout(self.config.health_check_timeout):
                    ok = bool(await provider.health_check())
            except TimeoutError:
                return False, f"health_check() took longer than {self.config.health_check_timeout:g}s"
            except Exception as exc:
                logger.warning("routing: health_check raised: %s", _short(exc))
                return False, f"health_check() raised {type(exc).__name__}: {_short(exc, 200)}"
            error = getattr(provider, "last_health_error", None)
            return ok, (error if isinstance(error, str) else None) if not ok else None

        names = list(providers)
        results = await asyncio.gather(*(probe(providers[n]) for n in names))
        for name, (ok, error) in zip(names, results, strict=True):
            self.state.set_provider_health(name, ok, error)
        return {name: ok for name, (ok, _) in zip(names, results, strict=True)}

    async def _prompt_tokens(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        candidates: Sequence[Candidate],
        request: Mapping[str, Any],
    ) -> int:
        """The estimate, made exact by the proxy's token counter only when some candidate's
        context window is within ``token_counter_band`` of it (where the estimate decides)."""
        tools = request.get("tools") or request.get("functions")
        estimate = estimate_prompt_tokens(messages, tools)
        if not self.config.token_counter:
            return estimate
        band = self.config.token_counter_band
        for c in candidates:
            window = c.context_window
            counter = getattr(providers.get(c.provider), "count_tokens", None)
            if window is None or not callable(counter) or abs(estimate - window) > band * window:
                continue
            try:
                async with asyncio.timeout(self.config.token_counter_timeout):
                    exact = await counter(list(messages), c.model)
            except (ProviderError, TimeoutError) as exc:
                logger.debug("routing: token counter unavailable, keeping the estimate: %s", _short(exc))
                return estimate
            if isinstance(exact, int) and not isinstance(exact, bool) and exact >= 0:
                return exact + (text_tokens(_json_text(tools)) if tools else 0)
            return estimate
        return estimate

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
        return await self._plan(messages, providers, strategy, max_cost, request, take_turn=False)

    async def _plan(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        strategy: str | None,
        max_cost: float | None,
        request: Mapping[str, Any],
        *,
        take_turn: bool,
        streaming: bool = False,
    ) -> RoutePlan:
        _check_budget(max_cost)
        if not providers:
            raise RoutingConfigError("providers is empty: register at least one provider")
        name = strategy or self.config.default_strategy
        if name not in self.config.strategy_names():
            raise RoutingConfigError(
                f"unknown routing strategy {name!r}; use one of {', '.join(self.config.strategy_names())}"
            )
        if (name == "cascade" or name in self.config.cascades) and not self.config.cascade_enabled:
            raise RoutingConfigError(f"strategy {name!r} needs cascade routing enabled (CASCADE_ROUTING_ENABLED=true)")
        refresh_failures = await self.refresh(providers)
        candidates = self.candidates(providers)
        if not candidates and refresh_failures:
            # Say why the catalog is empty instead of "no chat model": usually the proxy is down.
            why = "; ".join(f"{name}: {error}" for name, error in refresh_failures.items())
            raise NoRouteError(f"no provider offers a chat model; catalog refresh failed ({why})", refresh_failures)
        tokens = await self._prompt_tokens(messages, providers, candidates, request)
        profile = self.classify(messages, prompt_tokens=tokens, **request)
        max_tokens = _max_tokens(request)
        # --- hook (issue 14): an opt-in semantic classifier refines the profile; its embedding
        # call opens the request's attempts. Falls back to the default profile on timeout/error.
        pre: tuple[RouteAttempt, ...] = ()
        if self.semantic is not None:
            profile, pre = await self.semantic.refine(messages, profile)

        if name in self.config.combos:
            combo = self.config.combos[name]
            plan = self._plan_combo(name, combo, candidates, providers, profile, max_cost, max_tokens, take_turn)
            return replace(plan, attempts=pre)
        if name in self.config.cascades:
            cascade = self.config.cascades[name]
            plan = self._plan_steps(name, cascade, candidates, providers, profile, max_cost, max_tokens)
            return replace(plan, attempts=pre)

        base: Literal["heuristic", "cost_optimized"] = (
            "cost_optimized" if name in ("cost_optimized", "cascade") else "heuristic"
        )
        decision = select_candidate(
            candidates,
            providers,
            profile,
            self.config,
            self.state,
            strategy=base,
            max_cost=max_cost,
            max_tokens=max_tokens,
        )
        first = decision.chosen
        threshold = self.config.quality_threshold
        # --- hook (issue 14): an unsure classification (select.unsure_escalation) with
        # unsure_action "cascade" makes the heuristic strategy a cascade: cheap first, then the
        # stronger tiers while the answer fails the quality check (streams cannot cascade).
        unsure = (
            name == "heuristic"
            and self.config.cascade_enabled
            and self.config.unsure_action == "cascade"
            and not streaming
            and unsure_escalation(profile, self.config) is not None
        )
        if name == "cascade" or (name == "hybrid" and self.config.cascade_enabled) or unsure:
            steps = _escalation((first, *decision.alternatives), self.config.cascade_max_steps)
            chain = " -> ".join(s.key for s in steps)
            note = (
                f"unsure ({profile.primary} {profile.confidence:.2f}, {profile.runner_up} "
                f"{profile.runner_up_score:.2f}): "
                if unsure
                else ""
            )
            reason = f"{decision.reason}; {note}cascade {chain}"
            return RoutePlan(name, "cascade", steps, reason, profile, decision.excluded, decision, threshold, pre)
        targets = (first, *decision.top_alternatives(self.config.max_attempts - 1))
        return RoutePlan(name, "single", targets, decision.reason, profile, decision.excluded, decision, threshold, pre)

    def _targets_as_candidates(
        self, targets: Sequence[Target], candidates: Sequence[Candidate], providers: Mapping[str, LLMProvider]
    ) -> tuple[list[Candidate], dict[str, str]]:
        known = {c.key: c for c in candidates}
        out: list[Candidate] = []
        missing: dict[str, str] = {}
        for target in targets:
            if target.provider not in providers:
                missing[target.key] = f"provider {target.provider!r} is not registered"
                continue
            found = known.get(target.key)
            if found is None:
                found = candidate_for(
                    target.provider,
                    providers[target.provider],
                    target.model,
                    tiers=self.config.tiers,
                    tier_price_thresholds=self.config.tier_price_thresholds,
                )
            out.append(found)
        return out, missing

    def _eligible(
        self,
        name: str,
        targets: Sequence[Target],
        candidates: Sequence[Candidate],
        providers: Mapping[str, LLMProvider],
        profile: PromptProfile,
        max_cost: float | None,
        max_tokens: int | None,
    ) -> tuple[dict[str, Alternative], dict[str, str], RoutingDecision]:
        own, missing = self._targets_as_candidates(targets, candidates, providers)
        if not own:
            raise RoutingConfigError(f"{name}: {'; '.join(f'{k}: {v}' for k, v in missing.items())}")
        try:
            decision = select_candidate(
                own,
                providers,
                profile,
                self.config,
                self.state,
                strategy="cost_optimized",
                max_cost=max_cost,
                max_tokens=max_tokens,
            )
        except ProviderError as exc:
            excluded = getattr(exc, "excluded", None)
            if isinstance(excluded, dict):
                excluded.update(missing)
            raise
        eligible = {a.key: a for a in (decision.chosen, *decision.alternatives)}
        return eligible, {**decision.excluded, **missing}, decision

    def _plan_combo(
        self,
        name: str,
        combo: ComboConfig,
        candidates: Sequence[Candidate],
        providers: Mapping[str, LLMProvider],
        profile: PromptProfile,
        max_cost: float | None,
        max_tokens: int | None,
        take_turn: bool,
    ) -> RoutePlan:
        eligible, excluded, decision = self._eligible(
            name, combo.targets, candidates, providers, profile, max_cost, max_tokens
        )
        listed = [t for t in combo.targets if t.key in eligible]
        if combo.strategy == "cost":
            ordered = list(eligible.values())  # select_candidate's rank: known price first, cheapest first
        elif combo.strategy == "round_robin":
            start = self.state.next_turn(name, len(listed), advance=take_turn)
            ordered = [eligible[t.key] for t in listed[start:] + listed[:start]]
        elif combo.strategy == "weighted":
            # Weighted shuffle (Efraimidis-Spirakis): the first pick is proportional to weight,
            # and the rest still give fallbacks in a weight-biased order.
            keyed = sorted(listed, key=lambda t: self._rng.random() ** (1.0 / t.weight), reverse=True)
            ordered = [eligible[t.key] for t in keyed]
        else:
            ordered = [eligible[t.key] for t in listed]
        reason = (
            f"combo {name!r} ({combo.strategy}): prompt is {profile.describe()}; "
            f"order {' -> '.join(a.key for a in ordered)}"
        )
        if excluded:
            reason += f"; skipped {'; '.join(f'{k} ({v})' for k, v in excluded.items())}"
        return RoutePlan(
            name, "combo", tuple(ordered), reason, profile, excluded, decision, self.config.quality_threshold
        )

    def _plan_steps(
        self,
        name: str,
        cascade: CascadeConfig,
        candidates: Sequence[Candidate],
        providers: Mapping[str, LLMProvider],
        profile: PromptProfile,
        max_cost: float | None,
        max_tokens: int | None,
    ) -> RoutePlan:
        eligible, excluded, decision = self._eligible(
            name, cascade.steps, candidates, providers, profile, max_cost, max_tokens
        )
        steps = tuple(eligible[t.key] for t in cascade.steps if t.key in eligible)
        threshold = (
            cascade.quality_threshold if cascade.quality_threshold is not None else self.config.quality_threshold
        )
        reason = f"cascade {name!r}: prompt is {profile.describe()}; steps {' -> '.join(s.key for s in steps)}"
        if excluded:
            reason += f"; skipped {'; '.join(f'{k} ({v})' for k, v in excluded.items())}"
        return RoutePlan(name, "cascade", steps, reason, profile, excluded, decision, threshold)

    # ------------------------------------------------------------------ calling

    async def route_request(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        strategy: str | None = None,
        max_cost: float | None = None,
        *,
        quality_check: QualityScorer | None = None,
        quality_threshold: float | None = None,
        **kwargs: Any,
    ) -> ChatCompletionResponse:
        """Route, call, fall back; ``kwargs`` go to ``chat_completion`` (``max_tokens``,
        ``temperature``, ``tools``...). ``strategy`` defaults to the config's
        ``default_strategy``. ``max_cost`` (USD) bounds the estimate of each call, and of
        the whole cascade. Cascades score answers with ``quality_check`` (default: the
        router's, else :func:`default_quality_check`) against ``quality_threshold``."""
        if kwargs.get("stream"):
            raise BadRequestError("route_request does not stream; use route_stream()")
        kwargs.pop("stream", None)
        if quality_threshold is not None and (
            isinstance(quality_threshold, bool)
            or not isinstance(quality_threshold, (int, float))
            or not 0 <= quality_threshold <= 1
        ):
            raise RoutingConfigError(f"quality_threshold must be within [0, 1], got {quality_threshold!r}")
        plan = await self._plan(messages, providers, strategy, max_cost, kwargs, take_turn=True)
        if plan.kind == "cascade":
            threshold = plan.quality_threshold if quality_threshold is None else quality_threshold
            scorer = quality_check or self.quality_check
            return await self._cascade(plan, messages, providers, max_cost, scorer, threshold, kwargs)
        return await self._chain(plan, messages, providers, kwargs)

    def _on_error(self, target: Alternative, exc: ProviderError) -> ErrorAction:
        action = error_action(exc)
        if isinstance(exc, RateLimitError):
            wait = exc.retry_after if exc.retry_after is not None else self.config.rate_limit_cooldown
            self.state.cool_down(target.key, wait, "rate limited (429)")
        elif exc.retryable and self.state.record_failure(target.key):
            logger.warning("routing: breaker opened for %s after repeated failures", target.key)
        return action

    def _failed(self, target: Alternative, exc: ProviderError, run: _Run, skip: dict[str, str], started: float) -> None:
        """Record a failed target; re-raises ``exc`` when no other target would do better."""
        action = self._on_error(target, exc)
        run.add(target, "failed", error=type(exc).__name__, detail=_short(exc), duration_ms=_ms(started))
        run.last_error = exc
        if action == "stop":
            raise exc
        if action == "skip_provider":
            skip[target.provider] = f"{target.provider} refused our request earlier ({type(exc).__name__})"

    async def _call(
        self,
        target: Alternative,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
        run: _Run,
        skip: dict[str, str],
    ) -> ChatCompletionResponse | None:
        """One target: skipped (returns None), answered, or failed (None, or raises when
        the error means no target will do)."""
        if run.skipped(target, self.state, skip):
            return None
        started = time.perf_counter()
        try:
            response = await providers[target.provider].chat_completion(list(messages), target.model, **kwargs)
        except ProviderError as exc:
            self._failed(target, exc, run, skip, started)
            return None
        self.state.record_success(target.key)
        run.add(target, "ok", cost=response.router_metadata.estimated_cost, duration_ms=_ms(started))
        return response

    async def _chain(
        self,
        plan: RoutePlan,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
    ) -> ChatCompletionResponse:
        run = _Run(list(plan.attempts))
        skip: dict[str, str] = {}
        for target in plan.targets:
            response = await self._call(target, messages, providers, kwargs, run, skip)
            if response is not None:
                return _finish(response, target, plan.strategy, run.answered_reason(plan.reason, target), run)
        raise _exhausted(plan, run, self.state)

    async def _cascade(
        self,
        plan: RoutePlan,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        max_cost: float | None,
        scorer: QualityScorer | None,
        threshold: float,
        kwargs: Mapping[str, Any],
    ) -> ChatCompletionResponse:
        run = _Run(list(plan.attempts))
        skip: dict[str, str] = {}
        spent = 0.0
        best: tuple[float, ChatCompletionResponse, Alternative, RouteAttempt] | None = None
        stopped: str | None = None
        for step in plan.targets:
            if max_cost is not None:
                # select_candidate already dropped steps priced unknown or over max_cost alone.
                estimate = step.estimated_cost or 0.0
                if spent + estimate > max_cost:
                    stopped = (
                        f"stopped before {step.key}: spent ${spent:.6f} + est. ${estimate:.6f}"
                        f" > max_cost ${max_cost:.6f}"
                    )
                    run.add(step, "skipped", detail=stopped)
                    break
            response = await self._call(step, messages, providers, kwargs, run, skip)
            if response is None:
                continue
            attempt = run.attempts[-1]
            actual = response.router_metadata.estimated_cost
            spent += actual if actual is not None else (step.estimated_cost or 0.0)
            verdict = await _score(scorer, messages, response, plan.profile)
            attempt.quality_score = verdict.score
            if verdict.model is not None:  # --- hook (issue 14): a judge model's call is an attempt too
                judge = Alternative(verdict.provider or "judge", verdict.model, verdict.cost, None)
                outcome = "failed" if verdict.error else "judged"
                run.add(
                    judge,
                    outcome,
                    cost=None if verdict.error else verdict.cost,
                    error=verdict.error,
                    detail=verdict.reason,
                    duration_ms=verdict.duration_ms,
                )
            if verdict.score >= threshold:
                attempt.outcome = "accepted"
                attempt.detail = f"quality {verdict.score:.2f} >= {threshold:.2f}: {verdict.reason}"
                reason = f"{plan.reason}; accepted {step.key} at step {len(run.attempts)}"
                return _finish(response, step, plan.strategy, reason, run)
            attempt.outcome = "escalated"
            attempt.detail = f"quality {verdict.score:.2f} < {threshold:.2f}: {verdict.reason}"
            if best is None or verdict.score >= best[0]:
                best = (verdict.score, response, step, attempt)
        if best is not None:
            score, response, step, best_attempt = best
            best_attempt.detail = f"{best_attempt.detail}; returned as the best answer"
            why = stopped or "no step passed the quality check"
            reason = f"{plan.reason}; {why}; returning the best answer ({step.key}, quality {score:.2f})"
            return _finish(response, step, plan.strategy, reason, run)
        if stopped is not None and not any(a.outcome == "failed" for a in run.attempts):
            raise BudgetExceededError(f"cascade {plan.strategy!r}: {stopped}")
        raise _exhausted(plan, run, self.state)

    async def route_stream(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        strategy: str | None = None,
        max_cost: float | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream through the route: fall back only until the first chunk arrives (after
        that the caller has seen output, so an error is raised, not hidden). The chunk that
        carries ``router_metadata`` gets the routing fields; if none does, a trailer chunk
        with ``choices: []`` carries them. Cascades cannot stream (an answer must be checked
        before anyone sees it)."""
        kwargs.pop("stream", None)
        plan = await self._plan(messages, providers, strategy, max_cost, kwargs, take_turn=True, streaming=True)
        if plan.kind == "cascade":
            raise BadRequestError(f"strategy {plan.strategy!r} is a cascade; cascades cannot stream")
        run = _Run(list(plan.attempts))
        skip: dict[str, str] = {}
        for target in plan.targets:
            if run.skipped(target, self.state, skip):
                continue
            started = time.perf_counter()
            try:
                # A host provider may raise on the call itself (the contract's method is a plain def).
                stream = providers[target.provider].stream_chat_completion(list(messages), target.model, **kwargs)
            except ProviderError as exc:
                self._failed(target, exc, run, skip, started)
                continue
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                first = None
            except ProviderError as exc:
                await close_stream(stream, quiet=True)
                self._failed(target, exc, run, skip, started)
                continue
            except BaseException:
                await close_stream(stream, quiet=True)
                raise
            attempt = run.add(target, "ok", duration_ms=_ms(started))
            reason = run.answered_reason(plan.reason, target)
            meta_sent = False
            try:
                chunk = first
                while chunk is not None:
                    meta = chunk.get("router_metadata")
                    if isinstance(meta, dict) and not meta_sent:
                        cost = meta.get("estimated_cost")
                        attempt.cost = float(cost) if isinstance(cost, (int, float)) else None
                        attempt.duration_ms = _ms(started)
                        chunk["router_metadata"] = _meta_dict(meta, target, plan.strategy, reason, run)
                        meta_sent = True
                    yield chunk
                    try:
                        chunk = await anext(stream)
                    except StopAsyncIteration:
                        chunk = None
                    except ProviderError as exc:
                        # Too late to fall back: the caller has output. Still teach the state.
                        self._on_error(target, exc)
                        raise
            finally:
                await close_stream(stream, quiet=True)
            self.state.record_success(target.key)
            if not meta_sent:
                attempt.duration_ms = _ms(started)
                yield {
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": target.model,
                    "choices": [],
                    "router_metadata": _meta_dict(
                        {"response_time_ms": _ms(started), "cost_source": "unknown"},
                        target,
                        plan.strategy,
                        reason,
                        run,
                    ),
                }
            return
        raise _exhausted(plan, run, self.state)


# ---------------------------------------------------------------------- helpers


def _check_budget(max_cost: float | None) -> None:
    if max_cost is None:
        return
    if isinstance(max_cost, bool) or not isinstance(max_cost, (int, float)) or not math.isfinite(max_cost):
        raise ValueError(f"max_cost must be a finite number of USD >= 0, got {max_cost!r}")
    if max_cost < 0:
        raise ValueError(f"max_cost must be >= 0 USD, got {max_cost!r}")


def _max_tokens(request: Mapping[str, Any]) -> int | None:
    for name in ("max_tokens", "max_completion_tokens"):
        value = request.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _escalation(ranked: Sequence[Alternative], max_steps: int) -> tuple[Alternative, ...]:
    """From the first pick, then the best-ranked candidate of each stronger known tier."""
    steps = [ranked[0]]
    floor = ranked[0].tier or 0
    by_tier: dict[int, Alternative] = {}
    for alt in ranked[1:]:
        if alt.tier is not None and alt.tier > floor and alt.tier not in by_tier:
            by_tier[alt.tier] = alt
    steps.extend(by_tier[t] for t in sorted(by_tier))
    return tuple(steps[:max_steps])


def _routing_fields(target: Alternative, strategy: str, reason: str, run: _Run) -> dict[str, Any]:
    return {
        "selected_provider": target.provider,
        "selected_model": target.model,
        "routing_reason": reason,
        "routing_strategy": strategy,
        "total_cost": run.total_cost(),
    }


def _finish(
    response: ChatCompletionResponse, target: Alternative, strategy: str, reason: str, run: _Run
) -> ChatCompletionResponse:
    update = _routing_fields(target, strategy, reason, run)
    update["attempts"] = list(run.attempts)
    meta = response.router_metadata.model_copy(update=update)
    return response.model_copy(update={"router_metadata": meta})


def _meta_dict(meta: Mapping[str, Any], target: Alternative, strategy: str, reason: str, run: _Run) -> dict[str, Any]:
    out = {**meta, **_routing_fields(target, strategy, reason, run)}
    out["attempts"] = [a.model_dump(mode="json") for a in run.attempts]
    out.setdefault("estimated_cost", None)
    return out


def _exhausted(plan: RoutePlan, run: _Run, state: TargetState) -> ProviderError:
    attempts = [a.model_dump(mode="json") for a in run.attempts]
    summary = "; ".join(
        f"{a.provider}/{a.model}: {a.outcome}{f' ({a.error})' if a.error else ''}" for a in run.attempts
    )
    if run.last_error is None:
        return NoRouteError(
            f"{plan.strategy}: no target could be called ({summary})",
            {f"{a.provider}/{a.model}": a.detail or a.outcome for a in run.attempts},
        )
    error = FallbackExhaustedError(f"{plan.strategy}: every target failed ({summary})", attempts, run.last_error)
    error.__cause__ = run.last_error
    waits = [s.remaining for t in plan.targets if (s := state.status(t.key, t.provider)) is not None]
    error.retry_after = min(waits) if waits and len(waits) == len(plan.targets) else None
    return error


async def _score(
    scorer: QualityScorer | None,
    messages: Sequence[MessageInput],
    response: ChatCompletionResponse,
    profile: PromptProfile,
) -> QualityVerdict:
    if scorer is None:
        return default_quality_check(messages, response, profile)
    result = await scorer(messages, response)
    if isinstance(result, QualityVerdict):
        verdict = result
    elif isinstance(result, (int, float)) and not isinstance(result, bool):
        verdict = QualityVerdict(float(result), "custom quality check")
    else:
        raise TypeError(f"quality check must return a number in [0, 1] or a QualityVerdict, got {result!r}")
    if not (math.isfinite(verdict.score) and 0 <= verdict.score <= 1):
        raise ValueError(f"quality check returned {verdict.score!r}; scores must be within [0, 1]")
    return verdict
