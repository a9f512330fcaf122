"""Planning: which candidates a request will call, in order, and why; nothing is called here.

``Planner.plan`` refreshes catalogs, classifies the prompt (with an exact token count near a
context window), reads the routing state once (:meth:`RoutingStore.snapshot`, which also takes
a round-robin combo's turn) and turns a
strategy into a :class:`RoutePlan`: the heuristic's or cost ranking with its fallbacks, a
combo's order, a cascade's steps. Every strategy goes through :meth:`Planner.decide`, the one
call of :func:`select_candidate`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..errors import NoRouteError, ProviderError, RoutingConfigError
from ..host import LLMProvider, MessageInput, RouteAttempt, TokenCounter
from .adaptive import AdaptiveRequest, latency_kind
from .candidates import Candidate, CandidateCache, missing_reason
from .classify import ProfileRefiner, PromptProfile, classify_prompt, estimate_prompt_tokens, json_text, text_tokens
from .config import CandidateRef, CascadeConfig, ComboConfig, RoutingConfig, check_budget
from .providers import count_prompt_tokens, refresh_catalogs
from .select import FORCED_NOTE, RankedCandidate, RoutingDecision, SelectStrategy, select_candidate, unsure_escalation
from .state.local import StateSnapshot
from .state.store import RoutingStore
from .tenants import TenantCall, allowed_models

__all__ = ["PlanKind", "Planner", "RoutePlan"]

PlanKind = Literal["single", "combo", "cascade"]


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """What ``route_request`` will do, before it does it (the CLI's ``route`` shows this).

    ``candidates``: what it calls, in order. ``excluded``: why each other candidate is out.
    ``waiting``: the excluded candidates that are only unavailable now (``provider/model`` ->
    provider), so an exhausted route can say how soon one of them is free."""

    strategy: str
    kind: PlanKind
    candidates: tuple[RankedCandidate, ...]
    reason: str
    profile: PromptProfile
    excluded: Mapping[str, str] = field(default_factory=dict)
    decision: RoutingDecision | None = None
    quality_threshold: float = 0.5
    waiting: Mapping[str, str] = field(default_factory=dict)
    #: Calls made while planning (an opt-in semantic classifier's embedding): they open the
    #: request's attempts and count in its total cost.
    attempts: tuple[RouteAttempt, ...] = ()
    #: Whose request it is (``tenants.TenantCall``): every attempt gets its keywords.
    tenant: TenantCall | None = None


class Planner:
    """Turns a request and a strategy into a :class:`RoutePlan`. Holds the candidate cache;
    reads (never writes) the routing state, except for taking a round-robin turn."""

    def __init__(
        self,
        config: RoutingConfig,
        state: RoutingStore,
        cache: CandidateCache,
        rng: random.Random,
        semantic: ProfileRefiner | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.cache = cache
        self.rng = rng
        #: Opt-in: refines each prompt's profile with a model call (``semantic.SemanticClassifier``).
        self.semantic = semantic

    # ------------------------------------------------------------------ pieces

    def candidates(self, providers: Mapping[str, LLMProvider]) -> list[Candidate]:
        return self.cache.build(
            providers, tiers=self.config.tiers, tier_price_thresholds=self.config.tier_price_thresholds
        )

    def classify(
        self, messages: Sequence[MessageInput], prompt_tokens: int | None, request: Mapping[str, Any]
    ) -> PromptProfile:
        return classify_prompt(
            messages,
            tools=request.get("tools"),
            functions=request.get("functions"),
            response_format=request.get("response_format"),
            long_context_tokens=self.config.long_context_tokens,
            prompt_tokens=prompt_tokens,
        )

    def decide(
        self,
        candidates: Sequence[Candidate],
        providers: Mapping[str, LLMProvider],
        profile: PromptProfile,
        view: StateSnapshot,
        *,
        strategy: SelectStrategy,
        max_cost: float | None,
        max_tokens: int | None,
        label: str | None = None,
        adaptive: AdaptiveRequest | None = None,
    ) -> RoutingDecision:
        """The one place a decision is made (select.py's rules over these candidates);
        ``label`` is the strategy its reason names, ``adaptive`` what it asks of live signals."""
        return select_candidate(
            candidates,
            providers,
            profile,
            self.config,
            view,
            strategy=strategy,
            max_cost=max_cost,
            max_tokens=max_tokens,
            label=label,
            adaptive=adaptive,
        )

    async def prompt_tokens(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        candidates: Sequence[Candidate],
        request: Mapping[str, Any],
    ) -> int:
        """The estimate, made exact by a provider's token counter only when some candidate's
        context window is within ``token_counter_band`` of it (where the estimate decides)."""
        tools = request.get("tools") or request.get("functions")
        estimate = estimate_prompt_tokens(messages, tools)
        if not self.config.token_counter:
            return estimate
        band = self.config.token_counter_band
        for c in candidates:
            window = c.context_window
            if window is None or abs(estimate - window) > band * window:
                continue
            provider = providers.get(c.provider)
            if not isinstance(provider, TokenCounter):
                continue  # another near-window candidate's provider may have a counter
            exact = await count_prompt_tokens(provider, messages, c.model, self.config.token_counter_timeout)
            if exact is None:
                return estimate
            return exact + (text_tokens(json_text(tools)) if tools else 0)
        return estimate

    # ------------------------------------------------------------------ planning

    async def plan(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        strategy: str | None,
        max_cost: float | None,
        request: Mapping[str, Any],
        *,
        take_turn: bool,
        streaming: bool = False,
        tenant: TenantCall | None = None,
    ) -> RoutePlan:
        """The plan for this request; ``streaming`` plans for a stream (which cannot cascade).
        ``tenant``: whose request it is: its own waits count, and its key's models bound the
        candidates (``/v1/models`` for that key, from providers that can say)."""
        name = self._strategy(strategy, providers, max_cost)
        allowed = {} if tenant is None else await allowed_models(providers, list(providers), tenant)
        candidates = await self._refreshed_candidates(providers)
        if allowed:
            candidates = [c for c in candidates if c.provider not in allowed or c.model in allowed[c.provider]]
        profile, pre = await self._profile(messages, providers, candidates, request)
        max_tokens = requested_max_tokens(request)
        rotating = name in self.config.combos and self.config.combos[name].strategy == "round_robin"
        view = await self.state.snapshot(turn=name if rotating else None, advance=take_turn)
        if tenant is not None:
            view = view.for_tenant(tenant.tenant)
        # ``fastest``: the heuristic's adequate candidates, fastest first (adaptive.py).
        signals = AdaptiveRequest(name == "fastest", latency_kind(self.config.adaptive, streaming))
        if name in self.config.combos:
            combo = self.config.combos[name]
            plan = self._plan_combo(name, combo, candidates, providers, profile, view, max_cost, max_tokens, signals)
        elif name in self.config.cascades:
            cascade = self.config.cascades[name]
            plan = self._plan_steps(name, cascade, candidates, providers, profile, view, max_cost, max_tokens, signals)
        else:
            base: SelectStrategy = "cost_optimized" if name in ("cost_optimized", "cascade") else "heuristic"
            decision = self.decide(
                candidates,
                providers,
                profile,
                view,
                strategy=base,
                max_cost=max_cost,
                max_tokens=max_tokens,
                label=name,
                adaptive=signals,
            )
            plan = self._plan_builtin(name, decision, profile, streaming)
        return _keep_allowed(replace(plan, attempts=pre, tenant=tenant), allowed)

    def _strategy(self, strategy: str | None, providers: Mapping[str, LLMProvider], max_cost: float | None) -> str:
        """The strategy's name, once the request's arguments are known to be usable."""
        check_budget(max_cost)
        if not providers:
            raise RoutingConfigError("providers is empty: register at least one provider")
        name = strategy or self.config.default_strategy
        if name not in self.config.strategy_names():
            raise RoutingConfigError(
                f"unknown routing strategy {name!r}; use one of {', '.join(self.config.strategy_names())}"
            )
        if (name == "cascade" or name in self.config.cascades) and not self.config.cascade_enabled:
            raise RoutingConfigError(f"strategy {name!r} needs cascade routing enabled (CASCADE_ROUTING_ENABLED=true)")
        return name

    async def _refreshed_candidates(self, providers: Mapping[str, LLMProvider]) -> list[Candidate]:
        """The candidates after refreshing stale catalogs; says why when a failed refresh left none."""
        refresh_failures = await refresh_catalogs(providers)
        candidates = self.candidates(providers)
        if not candidates and refresh_failures:
            # Say why the catalog is empty instead of "no chat model": usually the proxy is down.
            why = "; ".join(f"{name}: {error}" for name, error in refresh_failures.items())
            raise NoRouteError(f"no provider offers a chat model; catalog refresh failed ({why})", refresh_failures)
        return candidates

    async def _profile(
        self,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        candidates: Sequence[Candidate],
        request: Mapping[str, Any],
    ) -> tuple[PromptProfile, tuple[RouteAttempt, ...]]:
        """The prompt's profile, and the calls made to refine it. An opt-in semantic classifier
        refines the profile; its embedding call opens the request's attempts. It falls back to
        the default profile on a timeout or an error."""
        tokens = await self.prompt_tokens(messages, providers, candidates, request)
        profile = self.classify(messages, tokens, request)
        if self.semantic is None:
            return profile, ()
        return await self.semantic.refine(messages, profile)

    def _plan_builtin(self, name: str, decision: RoutingDecision, profile: PromptProfile, streaming: bool) -> RoutePlan:
        """A built-in strategy's plan: the decision and its fallbacks, or an automatic cascade."""
        first = decision.chosen
        threshold = self.config.quality_threshold
        # An unsure classification (select.unsure_escalation) with unsure_action "cascade" makes the
        # heuristic strategy a cascade: cheap first, then the stronger tiers while the answer fails
        # the quality check (streams cannot cascade).
        unsure = (
            name == "heuristic"
            and self.config.cascade_enabled
            and self.config.unsure_action == "cascade"
            and not streaming
            and unsure_escalation(profile, self.config) is not None
        )
        hybrid_cascade = name == "hybrid" and self.config.cascade_enabled
        if name == "cascade" or (hybrid_cascade and not streaming) or unsure:
            steps = _escalation((first, *decision.alternatives), self.config.cascade_max_steps)
            note = (
                f"unsure ({profile.primary} {profile.confidence:.2f}, {profile.runner_up} "
                f"{profile.runner_up_score:.2f}): "
                if unsure
                else ""
            )
            reason = f"{decision.reason}; {note}cascade {' -> '.join(s.key for s in steps)}"
            return RoutePlan(
                name, "cascade", steps, reason, profile, decision.excluded, decision, threshold, decision.waiting
            )
        ordered = (first, *decision.top_alternatives(self.config.max_attempts - 1))
        reason = decision.reason
        if hybrid_cascade:  # a stream: the heuristic pick, as a cascade's first step, without escalation
            reason += "; streams take the heuristic pick without escalation (a streamed answer cannot be checked first)"
        return RoutePlan(
            name, "single", ordered, reason, profile, decision.excluded, decision, threshold, decision.waiting
        )

    def _refs_as_candidates(
        self, refs: Sequence[CandidateRef], candidates: Sequence[Candidate], providers: Mapping[str, LLMProvider]
    ) -> tuple[list[Candidate], dict[str, str]]:
        """The candidates ``refs`` name, and why each other ref is not one (never called)."""
        known = {c.key: c for c in candidates}
        out: list[Candidate] = []
        missing: dict[str, str] = {}
        for ref in refs:
            found = known.get(ref.key)
            if found is not None:
                out.append(found)
                continue
            missing[ref.key] = missing_reason(ref.provider, providers.get(ref.provider), ref.model, candidates) or ""
        return out, missing

    def _eligible(
        self,
        name: str,
        refs: Sequence[CandidateRef],
        candidates: Sequence[Candidate],
        providers: Mapping[str, LLMProvider],
        profile: PromptProfile,
        view: StateSnapshot,
        max_cost: float | None,
        max_tokens: int | None,
        signals: AdaptiveRequest,
    ) -> tuple[dict[str, RankedCandidate], dict[str, str], RoutingDecision]:
        own, missing = self._refs_as_candidates(refs, candidates, providers)
        if not own:
            what = f"{name}: none of its candidates can be called: {'; '.join(f'{k}: {v}' for k, v in missing.items())}"
            offering = {c.provider for c in candidates}
            if any(r.provider in providers and r.provider not in offering for r in refs):
                raise NoRouteError(what, missing)  # a provider offers nothing right now: not the config's fault
            raise RoutingConfigError(what)  # unregistered providers, or models they do not offer: fix the config
        try:
            decision = self.decide(
                own,
                providers,
                profile,
                view,
                strategy="cost_optimized",
                max_cost=max_cost,
                max_tokens=max_tokens,
                adaptive=signals,
            )
        except ProviderError as exc:
            if isinstance(exc, NoRouteError):
                exc.excluded.update(missing)
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
        view: StateSnapshot,
        max_cost: float | None,
        max_tokens: int | None,
        signals: AdaptiveRequest,
    ) -> RoutePlan:
        eligible, excluded, decision = self._eligible(
            name, combo.targets, candidates, providers, profile, view, max_cost, max_tokens, signals
        )
        listed = [t for t in combo.targets if t.key in eligible]
        if combo.strategy == "cost":
            ordered = list(eligible.values())  # select_candidate's rank: known price first, cheapest first
        elif combo.strategy == "round_robin":
            start = (view.turn or 0) % len(listed)  # the turn this decision's snapshot took
            ordered = [eligible[t.key] for t in listed[start:] + listed[:start]]
        elif combo.strategy == "weighted":
            # Weighted shuffle (Efraimidis-Spirakis): the first pick is proportional to weight,
            # and the rest still give fallbacks in a weight-biased order.
            keyed = sorted(listed, key=lambda t: self.rng.random() ** (1.0 / t.weight), reverse=True)
            ordered = [eligible[t.key] for t in keyed]
        else:
            ordered = [eligible[t.key] for t in listed]
        reason = (
            f"combo {name!r} ({combo.strategy}): prompt is {profile.describe()}; "
            f"order {' -> '.join(a.key for a in ordered)}"
        )
        if excluded:
            reason += f"; skipped {'; '.join(f'{k} ({v})' for k, v in excluded.items())}"
        reason += _forced(ordered)
        return RoutePlan(
            name,
            "combo",
            tuple(ordered),
            reason,
            profile,
            excluded,
            decision,
            self.config.quality_threshold,
            decision.waiting,
        )

    def _plan_steps(
        self,
        name: str,
        cascade: CascadeConfig,
        candidates: Sequence[Candidate],
        providers: Mapping[str, LLMProvider],
        profile: PromptProfile,
        view: StateSnapshot,
        max_cost: float | None,
        max_tokens: int | None,
        signals: AdaptiveRequest,
    ) -> RoutePlan:
        eligible, excluded, decision = self._eligible(
            name, cascade.steps, candidates, providers, profile, view, max_cost, max_tokens, signals
        )
        steps = tuple(eligible[t.key] for t in cascade.steps if t.key in eligible)
        threshold = (
            cascade.quality_threshold if cascade.quality_threshold is not None else self.config.quality_threshold
        )
        reason = f"cascade {name!r}: prompt is {profile.describe()}; steps {' -> '.join(s.key for s in steps)}"
        if excluded:
            reason += f"; skipped {'; '.join(f'{k} ({v})' for k, v in excluded.items())}"
        reason += _forced(steps)
        return RoutePlan(name, "cascade", steps, reason, profile, excluded, decision, threshold, decision.waiting)


def _keep_allowed(plan: RoutePlan, allowed: Mapping[str, frozenset[str]]) -> RoutePlan:
    """``plan`` without the candidates the tenant's key may not call (a combo or cascade names
    its candidates itself), each excluded with why."""
    if not allowed:
        return plan

    def denied(key: str) -> bool:
        provider, _, model = key.partition("/")
        return provider in allowed and model not in allowed[provider]

    candidates = tuple(c for c in plan.candidates if not denied(c.key))
    excluded = {**plan.excluded, **{c.key: _DENIED for c in plan.candidates if denied(c.key)}}
    excluded = {key: _DENIED if denied(key) else why for key, why in excluded.items()}
    if not candidates:
        raise NoRouteError(f"{plan.strategy}: no candidate this tenant's key may call", excluded)
    return replace(plan, candidates=candidates, excluded=excluded)


_DENIED = "not among the models this tenant's key may call"


def requested_max_tokens(request: Mapping[str, Any]) -> int | None:
    """The request's output limit (``max_tokens`` or ``max_completion_tokens``), when it set a usable one."""
    for name in ("max_tokens", "max_completion_tokens"):
        value = request.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _forced(ordered: Sequence[RankedCandidate]) -> str:
    forced = [c.key for c in ordered if c.forced]
    return f"; {', '.join(forced)}: {FORCED_NOTE}, so tried anyway" if forced else ""


def _escalation(ranked: Sequence[RankedCandidate], max_steps: int) -> tuple[RankedCandidate, ...]:
    """From the first pick, then the best-ranked candidate of each stronger known tier."""
    steps = [ranked[0]]
    floor = ranked[0].tier or 0
    by_tier: dict[int, RankedCandidate] = {}
    for alt in ranked[1:]:
        if alt.tier is not None and alt.tier > floor and alt.tier not in by_tier:
            by_tier[alt.tier] = alt
    steps.extend(by_tier[t] for t in sorted(by_tier))
    return tuple(steps[:max_steps])
