"""Pick one candidate for a request: filter what cannot serve it, rank the rest.

Pure and synchronous (no I/O), so a decision across hundreds of candidates stays far
below a millisecond. Rules, in the order they are applied to each candidate:

1. *Unhealthy*: the catalog's deep health check said so.
2. *Cannot serve*: images without vision, tools without function calling, a JSON schema
   without response_schema support, a prompt larger than the context window, a ``max_tokens``
   above the model's output limit. When the model does not say (None), it is *unsure*, not out.
3. *Budget*: the estimated cost (``calculate_cost`` over estimated prompt and output tokens)
   must not exceed ``max_cost``; an unknown price cannot be shown to, so it is out.
4. *Unavailable* (from one :class:`StateSnapshot` per decision): in cooldown after a 429, its
   half-open trial in flight, or its provider failed its health check. Checked last so that when
   nothing is left and some candidate is only waiting, the error is a retryable NoRouteError
   with ``retry_after``, not a dead end. A candidate whose breaker is open (ejected for retryable
   failures) is left out too, unless open breakers are all that stands in the way: then the
   ejected ones are the last candidates this request could use, and they are kept, ``forced`` past
   their breakers (Envoy's panic threshold, LiteLLM's rule for single-deployment groups): a
   breaker protects the other candidates' traffic, it must not turn a transient burst into certain
   failure. A 429's wait or a failed health check is the upstream's own word and is kept.
5. *Rank*: known price before unknown price (always), sure before unsure, then (heuristic
   only) adequate tier before unknown tier before too-weak, then cheapest; ties go to the
   stronger tier, then the host's registration order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, assert_never

from .._utils import format_usd, usd_for_tokens
from ..errors import BudgetExceededError, NoRouteError
from ..host import LLMProvider
from .adaptive import AdaptiveRequest, arrange, headroom_status
from .candidates import CAPABILITIES, Candidate, Capability, CapabilityNeed
from .classify import PROMPT_CLASSES, PromptClass, PromptProfile
from .config import RoutingConfig
from .state.local import RoutingState, StateSnapshot, TargetStatus
from .state.signals import SignalView

__all__ = [
    "FORCED_NOTE",
    "RankedCandidate",
    "RoutingDecision",
    "expected_output_tokens",
    "needed_capabilities",
    "required_tier",
    "select_candidate",
    "unsure_escalation",
]

SelectStrategy = Literal["heuristic", "cost_optimized"]
_LIST_LIMIT = 8  # how many exclusions a reason spells out before "and N more"


@dataclass(frozen=True, slots=True)
class RankedCandidate:
    """A :class:`Candidate` as ranked for one request: its estimated cost for this prompt, what
    it was assumed to do (``note``), and whether it is ``forced`` past an open breaker because
    nothing else could serve the request. What a plan calls, in order; the decision's winner too."""

    candidate: Candidate
    estimated_cost: float | None
    note: str | None = None
    forced: bool = False

    @property
    def provider(self) -> str:
        return self.candidate.provider

    @property
    def model(self) -> str:
        return self.candidate.model

    @property
    def key(self) -> str:
        return self.candidate.key

    @property
    def tier(self) -> int | None:
        return self.candidate.tier


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where a request goes and why. Unpacks as ``provider, model, reason`` like ModelMuxer's
    ``select_model`` tuple, so host code written for that keeps working."""

    provider: str
    model: str
    reason: str
    estimated_cost: float | None
    excluded: Mapping[str, str] = field(default_factory=dict)
    strategy: str = "heuristic"
    profile: PromptProfile | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0
    tier: int | None = None
    #: Candidates left out only because they are unavailable now (``provider/model`` ->
    #: provider): a route that fails everywhere else reports how soon one of them is free.
    waiting: Mapping[str, str] = field(default_factory=dict)
    _best: _Scored | None = field(default=None, repr=False, compare=False)
    # The other eligible candidates, unranked: ranking them all is most of a decision's cost,
    # and most callers only need the winner, so ``alternatives`` ranks them on first use.
    _others: tuple[_Scored, ...] = field(default=(), repr=False, compare=False)
    _ranked: tuple[RankedCandidate, ...] | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[str]:
        return iter((self.provider, self.model, self.reason))

    @property
    def chosen(self) -> RankedCandidate:
        """The winner, ranked like its alternatives: the first candidate a route calls."""
        assert self._best is not None, "a RoutingDecision is made by select_candidate"
        return _ranked(self._best)

    @property
    def alternatives(self) -> tuple[RankedCandidate, ...]:
        """The other eligible candidates, best first (what fallbacks and cascades try next)."""
        if self._ranked is None:
            ranked = tuple(_ranked(s) for s in sorted(self._others, key=_rank))
            object.__setattr__(self, "_ranked", ranked)
            return ranked
        return self._ranked

    def top_alternatives(self, n: int) -> tuple[RankedCandidate, ...]:
        """The best ``n`` alternatives, without ranking the rest (a fallback chain needs few)."""
        if self._ranked is not None or n >= len(self._others):
            return self.alternatives[:n]
        return tuple(_ranked(s) for s in heapq.nsmallest(n, self._others, key=_rank))

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


def expected_output_tokens(profile: PromptProfile, max_tokens: int | None, config: RoutingConfig) -> int:
    """``max_tokens`` when the caller set it (then ``max_cost`` is a hard bound); else the
    largest ``expected_output_tokens`` among the prompt's classes (simple's for the rest)."""
    if max_tokens is not None and max_tokens > 0:
        return max_tokens
    table = config.expected_output_tokens
    fallback = table.get("simple", 256)
    return max(table.get(c, fallback) for c in profile.classes)


def required_tier(profile: PromptProfile, config: RoutingConfig) -> tuple[int, tuple[str, ...]]:
    """The tier the prompt needs and the classes that ask for more than tier 1 (including the
    class an unsure classification may be, see :func:`unsure_escalation`)."""
    needy = tuple(c for c in PROMPT_CLASSES if c in profile.classes and config.min_tier.get(c, 1) > 1)
    if not needy and config.unsure_action == "escalate":
        unsure = unsure_escalation(profile, config)
        if unsure is not None:
            needy = (unsure,)
    return max((config.min_tier[c] for c in needy), default=1), needy


def unsure_escalation(profile: PromptProfile, config: RoutingConfig) -> PromptClass | None:
    """The harder class a cheap-looking prompt may really be: nothing in the prompt asks for
    more than tier 1, the classifier's ``confidence`` is below ``config.unsure_confidence``
    and its runner-up needs a higher tier ("Is 221 prime?" scored simple 0.45, reasoning
    0.40). ``config.unsure_action`` says what routing does about it: ``escalate`` requires the
    runner-up's tier here; ``cascade`` (``HeuristicRouter``) starts cheap and escalates when the
    answer fails the quality check."""
    runner_up = profile.runner_up
    if runner_up is None or profile.confidence >= config.unsure_confidence:
        return None
    if config.min_tier.get(runner_up, 1) <= max((config.min_tier.get(c, 1) for c in profile.classes), default=1):
        return None
    return runner_up


@dataclass(slots=True)
class _Scored:
    candidate: Candidate
    position: int
    cost: float | None
    unsure: list[str]
    group: int  # 0 adequate, 1 tier unknown, 2 tier too low
    lead: int = 0  # < 0: placed ahead of the rest by live signals (adaptive.py)
    forced: ClassVar[bool] = False  # a class constant, not a field: the hot loop builds many


@dataclass(slots=True)
class _Forced(_Scored):
    """Scored past an open breaker: the request's last candidates (module rule 4)."""

    forced: ClassVar[bool] = True


def _rank(s: _Scored) -> tuple[int, bool, bool, int, int, float, int, int]:
    """Known price first (always), then sure before unsure, adequate tier, cheapest; ties go to
    the stronger tier, then registration order. Live signals may lead among near-equals (``lead``)."""
    tier = s.candidate.tier or 0
    return (
        s.lead,
        s.cost is None,
        bool(s.unsure),
        s.group,
        -tier if s.group == 2 else 0,
        s.cost or 0.0,
        -tier,
        s.position,
    )


#: The note on a candidate called past its open breaker (see the module's rule 4).
FORCED_NOTE = "breaker open, but no other candidate can serve this request"


def _ranked(s: _Scored) -> RankedCandidate:
    notes = [*s.unsure, FORCED_NOTE] if s.forced else s.unsure
    return RankedCandidate(s.candidate, s.cost, "; ".join(notes) if notes else None, s.forced)


#: Why a candidate whose price nobody knows is left out under ``max_cost``.
PRICE_UNKNOWN = "price unknown, so it cannot be shown to fit max_cost"


def _excluded_text(excluded: Mapping[str, str]) -> str:
    """``key (reason)`` pairs, the telling ones first: unknown-price exclusions (often many,
    all alike) go last, so a capped list still shows why the priced models were left out."""
    items = sorted(excluded.items(), key=lambda kv: kv[1] == PRICE_UNKNOWN)
    texts = [f"{k} ({v})" for k, v in items]
    if len(texts) > _LIST_LIMIT:
        texts = [*texts[:_LIST_LIMIT], f"and {len(texts) - _LIST_LIMIT} more"]
    return "; ".join(texts)


def needed_capabilities(profile: PromptProfile) -> tuple[Capability, ...]:
    """The :data:`CAPABILITIES` this prompt needs (read from its profile's ``needs_*`` flags)."""
    return tuple(c for c in CAPABILITIES if _needs(profile, c.need))


def _needs(profile: PromptProfile, need: CapabilityNeed) -> bool:
    match need:
        case "vision":
            return profile.needs_vision
        case "tools":
            return profile.needs_tools
        case "json_schema":
            return profile.needs_json_schema
        case "reasoning":
            return False  # a reasoning prompt asks for a tier (min_tier), not for the flag
        case _:
            assert_never(need)


@dataclass(slots=True)
class _Request:
    """What one decision checks every candidate against."""

    profile: PromptProfile
    config: RoutingConfig
    strategy: SelectStrategy
    prompt: int
    out: int
    need: int
    needy: tuple[str, ...]
    needs: tuple[Capability, ...]
    max_cost: float | None
    max_tokens: int | None
    #: The strategy the reason names (the one that ran, e.g. ``cascade`` over a cost ranking).
    label: str


@dataclass(slots=True)
class _Sorted:
    """Candidates sorted by the module's rules: eligible (``scored``), or out and why."""

    scored: list[_Scored] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    budget_blocked: list[tuple[Candidate, float | None]] = field(default_factory=list)
    unavailable: list[tuple[Candidate, TargetStatus]] = field(default_factory=list)
    ejected: list[tuple[_Scored, TargetStatus]] = field(default_factory=list)
    #: Headroom says they will run out before their limit resets (adaptive.py's rule 1).
    short: list[tuple[_Scored, TargetStatus]] = field(default_factory=list)
    #: What live signals decided, for the reason; ``fastest``: the ``fastest`` strategy ordered them.
    note: str | None = None
    fastest: bool = False


def select_candidate(
    candidates: Sequence[Candidate],
    providers: Mapping[str, LLMProvider],
    profile: PromptProfile,
    config: RoutingConfig,
    state: StateSnapshot | RoutingState,
    *,
    strategy: SelectStrategy = "heuristic",
    max_cost: float | None = None,
    max_tokens: int | None = None,
    restrict_to: Sequence[str] | None = None,
    label: str | None = None,
    adaptive: AdaptiveRequest | None = None,
) -> RoutingDecision:
    """Apply the module's rules. ``state``: the decision's snapshot (a RoutingState is read
    once); its live signals apply unless ``config.adaptive.enabled`` is off (``adaptive.py``;
    ``adaptive`` says what this request asks of them). ``label``: the strategy the reason names
    (default ``strategy``). Raises BudgetExceededError when only the budget stands in the way,
    NoRouteError otherwise (with ``excluded`` saying why for each candidate)."""
    view = state.snapshot() if isinstance(state, RoutingState) else state
    need, needy = required_tier(profile, config) if strategy == "heuristic" else (1, ())
    request = _Request(
        profile,
        config,
        strategy,
        profile.prompt_tokens,
        expected_output_tokens(profile, max_tokens, config),
        need,
        needy,
        needed_capabilities(profile),
        max_cost,
        max_tokens,
        label or strategy,
    )
    allowed = set(restrict_to) if restrict_to is not None else None
    signals = view.signals if config.adaptive.enabled else None
    found = _sort(candidates, providers, request, view, allowed)
    _keep_forced(found)
    if signals is not None:
        _adapt(found, request, signals, adaptive or AdaptiveRequest())
    if not found.scored:
        cooling = [status.remaining for _, status in found.unavailable]
        _raise_no_route(candidates, profile, found.excluded, found.budget_blocked, cooling, max_cost, allowed)
    return _decision(found, request)


def _adapt(found: _Sorted, request: _Request, signals: SignalView, adaptive: AdaptiveRequest) -> None:
    """Live signals (``adaptive.py``): skip targets short of headroom until their reset (unless
    they are all that is left: the upstream has the last word), then the latency objective and
    the order among near-equal prices."""
    config = request.config.adaptive
    found.fastest = adaptive.fastest
    for s in found.scored:
        room = headroom_status(signals, s.candidate.key, request.prompt + request.out, config)
        if room is not None:
            found.short.append((s, room))
    if found.short:
        short = {id(s) for s, _ in found.short}
        rest = [s for s in found.scored if id(s) not in short]
        if rest:
            found.scored = rest
            for s, status in found.short:
                found.unavailable.append((s.candidate, status))
                found.excluded[s.candidate.key] = status.reason
        else:
            found.note = f"every other target is unavailable; calling despite low headroom ({found.short[0][1].reason})"
    if found.scored:
        found.scored, note = arrange(found.scored, _rank, signals, config, adaptive, found.excluded)
        found.note = found.note or note


def _sort(
    candidates: Sequence[Candidate],
    providers: Mapping[str, LLMProvider],
    request: _Request,
    view: StateSnapshot,
    allowed: set[str] | None,
) -> _Sorted:
    """Rules 1-4 over every candidate, in one pass (the hot loop of a decision)."""
    found = _Sorted()
    check_state = not view.empty
    needy_set = set(request.needy)
    prompt, out, max_cost = request.prompt, request.out, request.max_cost
    for position, c in enumerate(candidates):
        if allowed is not None and c.key not in allowed:
            continue
        unsure: list[str] = []
        reason = _cannot_serve(c, request, unsure)
        if reason is not None:
            found.excluded[c.key] = reason
            continue
        # Candidate.estimate, unrolled for the hot loop: a carded candidate is priced from its fields.
        if c.card is not None:
            cost = usd_for_tokens(prompt, out, c.input_cost_per_1k, c.output_cost_per_1k)
        else:
            cost = c.estimate(providers.get(c.provider), prompt, out)
        if max_cost is not None and (cost is None or cost > max_cost):
            found.excluded[c.key] = _over_budget(cost, max_cost)
            found.budget_blocked.append((c, cost))
            continue
        group = _tier_group(c, request.need, needy_set)
        # Availability last: a cooling-down candidate that could otherwise serve the request
        # makes "nothing fits" a wait (retryable), not a budget or capability dead end.
        status = view.status(c.key, c.provider) if check_state else None
        if status is None:
            found.scored.append(_Scored(c, position, cost, unsure, group))
        elif status.cause == "breaker":
            found.ejected.append((_Forced(c, position, cost, unsure, group), status))
        else:
            found.unavailable.append((c, status))
    return found


def _cannot_serve(c: Candidate, request: _Request, unsure: list[str]) -> str | None:
    """Why ``c`` cannot serve the request (rules 1 and 2), or None; appends to ``unsure``
    what it is only assumed to do."""
    if c.healthy is False:
        return f"unhealthy: {c.health_error or 'deep health check failed'}"
    for capability in request.needs:
        has = c.capabilities.get(capability.field)
        if has is False:
            return f"no {capability.label}"
        if has is None:
            unsure.append(f"{capability.label} not stated")
    prompt = request.prompt
    if c.context_window is not None:
        if prompt > c.context_window:
            return f"prompt ~{prompt} tokens > context window {c.context_window}"
    elif prompt > request.config.assumed_context_window:
        unsure.append(f"context window not stated (prompt ~{prompt} tokens)")
    max_tokens = request.max_tokens
    if max_tokens and c.max_output_tokens is not None and max_tokens > c.max_output_tokens:
        return f"max_tokens {max_tokens} > model's output limit {c.max_output_tokens}"
    return None


def _over_budget(cost: float | None, max_cost: float) -> str:
    if cost is None:
        return PRICE_UNKNOWN
    return f"estimated {format_usd(cost)} > max_cost {format_usd(max_cost)}"


def _tier_group(c: Candidate, need: int, needy: set[str]) -> int:
    """0: adequate for the tier the prompt needs; 1: tier unknown; 2: too weak."""
    if need <= 1 or (needy and needy <= c.task_types) or (c.tier is not None and c.tier >= need):
        return 0
    return 1 if c.tier is None else 2


def _keep_forced(found: _Sorted) -> None:
    """Rule 4's exception: when only open breakers stand in the way, the ejected candidates
    are the last this request could use and stay eligible; otherwise they are unavailable."""
    if found.ejected and not found.scored and not found.unavailable:
        found.scored = [s for s, _ in found.ejected]
    else:
        found.unavailable.extend((s.candidate, status) for s, status in found.ejected)
    for c, status in found.unavailable:
        found.excluded[c.key] = status.reason


def _decision(found: _Sorted, request: _Request) -> RoutingDecision:
    """Rule 5: the best-ranked eligible candidate, with the reason and the others."""
    best = min(found.scored, key=_rank)
    return RoutingDecision(
        provider=best.candidate.provider,
        model=best.candidate.model,
        reason=_signals_reason(_reason(best, found.scored, request, found.excluded), found),
        estimated_cost=best.cost,
        _best=best,
        _others=tuple(s for s in found.scored if s is not best),
        excluded=found.excluded,
        waiting={c.key: c.provider for c, _ in found.unavailable},
        strategy=request.strategy,
        profile=request.profile,
        prompt_tokens=request.prompt,
        output_tokens=request.out,
        tier=best.candidate.tier,
    )


def _signals_reason(reason: str, found: _Sorted) -> str:
    if found.fastest:
        reason = reason.replace("cheapest adequate", "fastest adequate", 1)
    return f"{reason}; {found.note}" if found.note else reason


def _raise_no_route(
    candidates: Sequence[Candidate],
    profile: PromptProfile,
    excluded: dict[str, str],
    budget_blocked: list[tuple[Candidate, float | None]],
    cooling: list[float],
    max_cost: float | None,
    allowed: set[str] | None,
) -> None:
    if not excluded:
        if allowed is not None:
            raise NoRouteError(f"none of {', '.join(sorted(allowed))} is a registered chat model")
        raise NoRouteError("no registered provider offers a chat model (did refresh_models() run?)")
    if cooling:
        wait = min(cooling)
        raise NoRouteError(
            f"every candidate that could serve this request is cooling down or its provider is down; "
            f"retry in {wait:.1f}s. Excluded: {_excluded_text(excluded)}",
            excluded,
            retry_after=wait,
        )
    if budget_blocked:
        known = [cost for _, cost in budget_blocked if cost is not None]
        cheapest = f"; the cheapest would cost about {format_usd(min(known))}" if known else ""
        raise BudgetExceededError(
            f"no candidate fits max_cost {format_usd(max_cost)} for ~{profile.prompt_tokens} prompt tokens{cheapest}. "
            f"Excluded: {_excluded_text(excluded)}"
        )
    raise NoRouteError(
        f"no candidate can serve this {profile.describe()} prompt. Excluded: {_excluded_text(excluded)}", excluded
    )


def _reason(best: _Scored, scored: list[_Scored], request: _Request, excluded: Mapping[str, str]) -> str:
    profile, strategy, need, needy = request.profile, request.strategy, request.need, request.needy
    prompt, out, max_cost = request.prompt, request.out, request.max_cost
    c = best.candidate
    parts = [f"{request.label}: prompt is {profile.describe()}, ~{prompt} prompt + {out} output tokens"]
    tier = f"tier {c.tier}" if c.tier is not None else "tier unknown"
    if strategy == "heuristic" and need > 1:
        if needy and needy[0] not in profile.classes:  # unsure_escalation chose it
            parts.append(
                f"unsure ({profile.primary} {profile.confidence:.2f}, {needy[0]} {profile.runner_up_score:.2f}): "
                f"{needy[0]} needs tier >= {need}"
            )
        else:
            parts.append(f"{'+'.join(needy)} needs tier >= {need}")
    # Candidates that would rank higher on tier but lost on a rule that comes first: a known
    # price beats an unknown one, and a stated capability or window beats an unstated one.
    passed_over = [
        s for s in scored if s.group < best.group and ((s.cost is None) > (best.cost is None) or bool(s.unsure))
    ]
    if best.group == 0:
        why = "cheapest adequate" if strategy == "heuristic" else "cheapest"
    elif passed_over:
        better = min(passed_over, key=_rank)
        because = "its price is unknown" if better.cost is None else ", ".join(better.unsure)
        why = f"{better.candidate.key} reaches tier {need} but {because}; chose the best with known facts"
    elif best.group == 1:
        why = f"no candidate is known to reach tier {need}; cheapest of unknown tier"
    else:
        why = f"no candidate reaches tier {need}; strongest available"
    if best.cost is None:
        why += " (every eligible price is unknown)"
    if best.unsure:
        why += f", assuming {', '.join(best.unsure)}"
    if best.forced:
        why += f" ({FORCED_NOTE}: tried anyway)"
    parts.append(f"chose {c.key} ({tier}, est. {format_usd(best.cost)}): {why} of {len(scored)} eligible")
    if max_cost is not None:
        parts.append(f"max_cost {format_usd(max_cost)}")
    if excluded:
        parts.append(f"excluded: {_excluded_text(excluded)}")
    return "; ".join(parts)
