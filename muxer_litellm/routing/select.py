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
   ejected ones are the last targets this request could use, and they are kept, ``forced`` past
   their breakers (Envoy's panic threshold, LiteLLM's rule for single-deployment groups): a
   breaker protects the other targets' traffic, it must not turn a transient burst into certain
   failure. A 429's wait or a failed health check is the upstream's own word and is kept.
5. *Rank*: known price before unknown price (always), sure before unsure, then (heuristic
   only) adequate tier before unknown tier before too-weak, then cheapest; ties go to the
   stronger tier, then the host's registration order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from .._utils import usd_for_tokens
from ..errors import BudgetExceededError, NoRouteError
from ..host import LLMProvider
from .adaptive import AdaptiveRequest, arrange, headroom_status
from .candidates import CAPABILITIES, Candidate
from .classify import PROMPT_CLASSES, PromptClass, PromptProfile
from .config import RoutingConfig
from .state.local import RoutingState, StateSnapshot, TargetStatus

__all__ = [
    "FORCED_NOTE",
    "RankedCandidate",
    "RoutingDecision",
    "expected_output_tokens",
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
        """The winner, ranked like its alternatives: the first target a route calls."""
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
    """Scored past an open breaker: the request's last targets (module rule 4)."""

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


#: The note on a target called past its open breaker (see the module's rule 4).
FORCED_NOTE = "breaker open, but no other target can serve this request"


def _ranked(s: _Scored) -> RankedCandidate:
    notes = [*s.unsure, FORCED_NOTE] if s.forced else s.unsure
    return RankedCandidate(s.candidate, s.cost, "; ".join(notes) if notes else None, s.forced)


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.6f}"


def _excluded_text(excluded: Mapping[str, str]) -> str:
    """``key (reason)`` pairs, the telling ones first: unknown-price exclusions (often many,
    all alike) go last, so a capped list still shows why the priced models were left out."""
    items = sorted(excluded.items(), key=lambda kv: kv[1].startswith("price unknown"))
    texts = [f"{k} ({v})" for k, v in items]
    if len(texts) > _LIST_LIMIT:
        texts = [*texts[:_LIST_LIMIT], f"and {len(texts) - _LIST_LIMIT} more"]
    return "; ".join(texts)


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
    adaptive: AdaptiveRequest | None = None,
) -> RoutingDecision:
    """Apply the module's rules. ``state``: the decision's snapshot (a RoutingState is read
    once); its live signals apply unless ``config.adaptive.enabled`` is off (``adaptive.py``,
    ``adaptive`` says what this request asks of them). Raises BudgetExceededError when only the
    budget stands in the way, NoRouteError otherwise (with ``excluded`` saying why for each candidate)."""
    view = state.snapshot() if isinstance(state, RoutingState) else state
    prompt = profile.prompt_tokens
    out = expected_output_tokens(profile, max_tokens, config)
    need, needy = required_tier(profile, config) if strategy == "heuristic" else (1, ())
    allowed = set(restrict_to) if restrict_to is not None else None
    excluded: dict[str, str] = {}
    budget_blocked: list[tuple[Candidate, float | None]] = []
    unavailable: list[tuple[Candidate, TargetStatus]] = []
    ejected: list[tuple[_Scored, TargetStatus]] = []
    scored: list[_Scored] = []
    short: list[tuple[_Scored, TargetStatus]] = []  # headroom says they will run out before their reset
    check_state = not view.empty
    signals = view.signals if config.adaptive.enabled else None
    needy_set = set(needy)
    needs = [c for c in CAPABILITIES if getattr(profile, f"needs_{c.need}", False)]
    for position, c in enumerate(candidates):
        if allowed is not None and c.key not in allowed:
            continue
        if c.healthy is False:
            excluded[c.key] = f"unhealthy: {c.health_error or 'deep health check failed'}"
            continue
        unsure: list[str] = []
        reason = None
        for capability in needs:
            has = c.capabilities.get(capability.field)
            if has is False:
                reason = f"no {capability.label}"
                break
            if has is None:
                unsure.append(f"{capability.label} not stated")
        if reason is None:
            if c.context_window is not None:
                if prompt > c.context_window:
                    reason = f"prompt ~{prompt} tokens > context window {c.context_window}"
            elif prompt > config.assumed_context_window:
                unsure.append(f"context window not stated (prompt ~{prompt} tokens)")
        if reason is None and max_tokens and c.max_output_tokens is not None and max_tokens > c.max_output_tokens:
            reason = f"max_tokens {max_tokens} > model's output limit {c.max_output_tokens}"
        if reason is not None:
            excluded[c.key] = reason
            continue
        # Candidate.estimate, unrolled for the hot loop: a carded candidate is priced from its fields.
        if c.card is not None:
            cost = usd_for_tokens(prompt, out, c.input_cost_per_1k, c.output_cost_per_1k)
        else:
            cost = c.estimate(providers.get(c.provider), prompt, out)
        if max_cost is not None and (cost is None or cost > max_cost):
            excluded[c.key] = (
                "price unknown, so it cannot be shown to fit max_cost"
                if cost is None
                else f"estimated {_money(cost)} > max_cost {_money(max_cost)}"
            )
            budget_blocked.append((c, cost))
            continue
        if need <= 1 or (needy_set and needy_set <= c.task_types) or (c.tier is not None and c.tier >= need):
            group = 0
        elif c.tier is None:
            group = 1
        else:
            group = 2
        # Availability last: a cooling-down candidate that could otherwise serve the request
        # makes "nothing fits" a wait (retryable), not a budget or capability dead end.
        status = view.status(c.key, c.provider) if check_state else None
        if status is None and signals is not None:
            room = headroom_status(signals, c.key, prompt + out, config.adaptive)
            if room is not None:
                short.append((_Scored(c, position, cost, unsure, group), room))
                continue
        if status is None:
            scored.append(_Scored(c, position, cost, unsure, group))
        elif status.cause == "breaker":
            ejected.append((_Forced(c, position, cost, unsure, group), status))
        else:
            unavailable.append((c, status))

    if ejected and not scored and not unavailable:
        # Only open breakers stand in the way: these are the last targets this request could use.
        scored = [s for s, _ in ejected]
    else:
        unavailable.extend((s.candidate, status) for s, status in ejected)
    note = None
    if short and not scored:
        # Only predicted shortage stands in the way: the upstream has the last word, so call them.
        scored = [s for s, _ in sorted(short, key=lambda pair: pair[1].remaining)]
        note = f"every other target is unavailable; calling despite low headroom ({short[0][1].reason})"
    else:
        unavailable.extend((s.candidate, status) for s, status in short)
    for c, status in unavailable:
        excluded[c.key] = status.reason
    if signals is not None and scored:
        scored, tie_note = arrange(scored, _rank, signals, config.adaptive, adaptive or AdaptiveRequest(), excluded)
        note = tie_note if note is None else note
    if not scored:
        cooling = [status.remaining for _, status in unavailable]
        _raise_no_route(candidates, profile, excluded, budget_blocked, cooling, max_cost, allowed)

    best = min(scored, key=_rank)
    reason = _reason(best, scored, profile, strategy, need, needy, excluded, prompt, out, max_cost)
    if adaptive is not None and adaptive.fastest:
        reason = "fastest" + reason[len(strategy) :].replace("cheapest adequate", "fastest adequate", 1)
    if note is not None:
        reason += f"; {note}"
    return RoutingDecision(
        provider=best.candidate.provider,
        model=best.candidate.model,
        reason=reason,
        estimated_cost=best.cost,
        _best=best,
        _others=tuple(s for s in scored if s is not best),
        excluded=excluded,
        waiting={c.key: c.provider for c, _ in unavailable},
        strategy=strategy,
        profile=profile,
        prompt_tokens=prompt,
        output_tokens=out,
        tier=best.candidate.tier,
    )


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
        cheapest = f"; the cheapest would cost about {_money(min(known))}" if known else ""
        raise BudgetExceededError(
            f"no candidate fits max_cost {_money(max_cost)} for ~{profile.prompt_tokens} prompt tokens{cheapest}. "
            f"Excluded: {_excluded_text(excluded)}"
        )
    raise NoRouteError(
        f"no candidate can serve this {profile.describe()} prompt. Excluded: {_excluded_text(excluded)}", excluded
    )


def _reason(
    best: _Scored,
    scored: list[_Scored],
    profile: PromptProfile,
    strategy: SelectStrategy,
    need: int,
    needy: tuple[str, ...],
    excluded: Mapping[str, str],
    prompt: int,
    out: int,
    max_cost: float | None,
) -> str:
    c = best.candidate
    parts = [f"{strategy}: prompt is {profile.describe()}, ~{prompt} prompt + {out} output tokens"]
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
    parts.append(f"chose {c.key} ({tier}, est. {_money(best.cost)}): {why} of {len(scored)} eligible")
    if max_cost is not None:
        parts.append(f"max_cost {_money(max_cost)}")
    if excluded:
        parts.append(f"excluded: {_excluded_text(excluded)}")
    return "; ".join(parts)
