"""Execution: call a :class:`RoutePlan`'s candidates in order and fall back, per the error policy.

Each candidate is admitted by the routing state just before it is called (a half-open candidate
admits one trial at a time; a blocked one is skipped), and every outcome is reported back:
success, a counted failure, a 429's wait, or nothing learned (:mod:`.policy` says which).
``router_metadata`` records the decision and every attempt; an exhausted route says how soon
some candidate could serve again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._stream import ChatStream, record_results
from .._utils import format_usd
from ..errors import BudgetExceededError, FallbackExhaustedError, NoRouteError, ProviderError, ProviderTimeoutError
from ..host import ChatCompletionResponse, LLMProvider, MessageInput, RouteAttempt, RouterMetadata, Usage
from .candidates import safe_cost
from .classify import PromptProfile
from .config import RoutingConfig, check_fraction
from .measure import CallSignals
from .plan import RoutePlan
from .policy import ErrorVerdict, contained, error_verdict
from .providers import short
from .quality import QualityScorer, QualityVerdict, default_quality_check
from .select import RankedCandidate
from .state.local import TargetStatus, Ticket, scoped_key
from .state.store import RoutingStore
from .tenants import TenantCall

__all__ = ["Attempts", "Deadline", "Executor", "exhausted_error", "priced", "routed_metadata"]

logger = logging.getLogger("muxer_litellm.routing")


#: An attempt is not started with less than this many seconds left of a routed deadline.
MIN_ATTEMPT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Deadline:
    """A routed request's deadline: ``seconds`` in all, ending at ``ends`` (``time.monotonic``)."""

    seconds: float
    ends: float

    @classmethod
    def start(cls, seconds: float | None) -> Deadline | None:
        return None if seconds is None else cls(seconds, time.monotonic() + seconds)

    def left(self) -> float:
        return self.ends - time.monotonic()

    def error(self, model: str | None = None) -> ProviderTimeoutError:
        return ProviderTimeoutError(
            f"the routed request's deadline={self.seconds:g}s ran out", None, None, model=model, limit="deadline"
        )


@dataclass(slots=True)
class Attempts:
    """Attempts of one routed request, what they cost, and which providers refused it."""

    attempts: list[RouteAttempt] = field(default_factory=list)
    last_error: ProviderError | None = None
    refused: dict[str, str] = field(default_factory=dict)
    deadline: Deadline | None = None
    #: Seconds of the deadline left when the current attempt started.
    left_at_start: float | None = None
    #: Whose request it is: its keywords go to each call, its own waits are its own.
    tenant: TenantCall | None = None

    @property
    def label(self) -> str | None:
        return None if self.tenant is None else self.tenant.tenant

    def kwargs_for(self, provider: LLMProvider, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        return kwargs if self.tenant is None else self.tenant.kwargs_for(provider, kwargs)

    def add(self, candidate: RankedCandidate, outcome: str, **fields: Any) -> RouteAttempt:
        if self.left_at_start is not None and "time_left_ms" not in fields:
            fields["time_left_ms"] = round(self.left_at_start * 1000, 3)
        attempt = RouteAttempt(provider=candidate.provider, model=candidate.model, outcome=outcome, **fields)
        self.attempts.append(attempt)
        return attempt

    @property
    def failures(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "failed")

    def answered_reason(self, reason: str, candidate: RankedCandidate) -> str:
        """The plan's reason, plus the fallback when earlier candidates failed."""
        if not self.failures:
            return reason
        return f"{reason}; answered by {candidate.key} after {self.failures} failed attempt(s)"

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


class Executor:
    """Runs plans against providers; reports every outcome to the routing state."""

    def __init__(self, config: RoutingConfig, state: RoutingStore, quality_check: QualityScorer | None = None) -> None:
        self.config = config
        self.state = state
        self.quality_check = quality_check

    # ------------------------------------------------------------------ one candidate

    async def _admit(self, candidate: RankedCandidate, run: Attempts) -> Ticket | None:
        """A ticket to call ``candidate``, or None after recording why it is skipped (its provider
        refused this request earlier, it is cooling down, its trial gate is taken...)."""
        if candidate.provider in run.refused:
            run.add(candidate, "skipped", detail=run.refused[candidate.provider])
            return None
        admission = await self.state.admit(candidate.key, candidate.provider, forced=candidate.forced, tenant=run.label)
        if isinstance(admission, TargetStatus):
            run.add(candidate, "skipped", detail=admission.reason)
            return None
        return admission

    async def _learn(
        self, candidate: RankedCandidate, ticket: Ticket, exc: ProviderError, run: Attempts
    ) -> ErrorVerdict:
        """Report a failure to the state; returns what it means for the rest of the route.
        A tenant's own limit makes only that tenant wait (on the provider or this candidate)."""
        verdict = error_verdict(
            exc,
            rate_limit_cooldown=self.config.rate_limit_cooldown,
            tenant_budget_fallback=self.config.tenant_budget_fallback,
        )
        if verdict.effect == "cool_down":
            await self.state.cool_down(ticket.key, verdict.wait or 0.0, "rate limited (429)", ticket=ticket)
        elif verdict.effect in ("cool_tenant", "cool_tenant_target"):
            whole = verdict.effect == "cool_tenant"
            key = scoped_key(run.label, candidate.provider if whole else candidate.key)
            why = f"this tenant's {exc.entity or 'own'} limit{'' if whole else ' for this model'} (429)"
            await self.state.cool_down(key, verdict.wait or 0.0, why, ticket=ticket)
            await self.state.release(ticket)
        elif verdict.effect == "failure":
            if await self.state.record_failure(ticket):
                logger.warning("routing: breaker opened for %s after repeated failures", ticket.key)
        else:
            await self.state.release(ticket)
        return verdict

    async def _failed(
        self,
        candidate: RankedCandidate,
        ticket: Ticket,
        raised: Exception,
        run: Attempts,
        started: float,
        call: CallSignals,
    ) -> None:
        """Record a failed candidate (whatever its provider raised: see :func:`contained`);
        re-raises the typed error when no other candidate would do better."""
        exc = contained(raised, candidate.provider, candidate.model)
        call.failed(exc, self.config.rate_limit_cooldown)
        verdict = await self._learn(candidate, ticket, exc, run)
        action = verdict.action
        attempt = run.add(
            candidate, "failed", error=type(raised).__name__, detail=short(raised), duration_ms=_ms(started)
        )
        if verdict.effect in ("cool_down", "cool_tenant", "cool_tenant_target"):
            attempt.retry_after, attempt.retry_after_source = verdict.wait, verdict.wait_source
        run.last_error = exc
        if action == "stop":
            raise exc
        if action == "skip_provider":
            run.refused[candidate.provider] = (
                f"{candidate.provider} refused our request earlier ({type(raised).__name__})"
            )

    async def _out_of_time(self, candidate: RankedCandidate, ticket: Ticket, run: Attempts, started: float) -> None:
        """The routed deadline ran out during this attempt: recorded as failed, but not held
        against the candidate (it had only what earlier attempts left)."""
        assert run.deadline is not None
        exc = run.deadline.error(candidate.model)
        await _release_anyway(self.state, ticket)
        run.add(candidate, "failed", error=type(exc).__name__, detail=short(exc), duration_ms=_ms(started))
        run.last_error = exc

    async def _call(
        self,
        candidate: RankedCandidate,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
        run: Attempts,
    ) -> ChatCompletionResponse | None:
        """One candidate: skipped (None), answered, or failed (None, or raises when the error
        means no candidate will do). With a routed deadline, the call gets the time that is left
        (and is cancelled when it runs out); with too little left it is not started."""
        left = _time_left(candidate, run)
        if left == 0.0:
            return None
        ticket = await self._admit(candidate, run)
        if ticket is None:
            return None
        started = time.perf_counter()
        call = CallSignals(self.state, candidate.key)
        provider = providers[candidate.provider]
        try:
            async with asyncio.timeout(left):
                response = await provider.chat_completion(
                    list(messages), candidate.model, **run.kwargs_for(provider, kwargs)
                )
            if not isinstance(response, ChatCompletionResponse):
                raise TypeError(f"chat_completion returned {type(response).__name__}, not a ChatCompletionResponse")
        except TimeoutError as exc:
            if run.deadline is not None and run.deadline.left() <= 0:
                call.end(ok=None)  # not held against the candidate
                await self._out_of_time(candidate, ticket, run, started)
            else:  # not our deadline: the provider's own exception
                await self._failed(candidate, ticket, exc, run, started, call)
            return None
        except Exception as exc:  # a provider's own exception is a failure of this candidate
            await self._failed(candidate, ticket, exc, run, started, call)
            return None
        except BaseException:
            call.end(ok=None)
            await _release_anyway(self.state, ticket)  # cancelled: says nothing about the candidate
            raise
        call.answered(response.router_metadata, response.usage)
        await self.state.record_success(ticket)
        meta = priced(response.router_metadata, response.usage, provider, candidate.model)
        run.add(candidate, "ok", cost=meta.estimated_cost, duration_ms=_ms(started))
        return response if meta is response.router_metadata else response.model_copy(update={"router_metadata": meta})

    # ------------------------------------------------------------------ strategies

    async def chain(
        self,
        plan: RoutePlan,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
        deadline: Deadline | None = None,
    ) -> ChatCompletionResponse:
        """Targets in order until one answers."""
        run = Attempts(list(plan.attempts), deadline=deadline, tenant=plan.tenant)
        for candidate in plan.candidates:
            response = await self._call(candidate, messages, providers, kwargs, run)
            if response is not None:
                return _finish(response, candidate, plan.strategy, run.answered_reason(plan.reason, candidate), run)
        raise await exhausted_error(plan, run, self.state)

    async def cascade(
        self,
        plan: RoutePlan,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        max_cost: float | None,
        scorer: QualityScorer | None,
        threshold: float,
        kwargs: Mapping[str, Any],
        deadline: Deadline | None = None,
    ) -> ChatCompletionResponse:
        """Steps in order until an answer passes the quality check (or the budget ends)."""
        run = Attempts(list(plan.attempts), deadline=deadline, tenant=plan.tenant)
        # What planning already spent (a semantic classifier's embedding) counts toward max_cost.
        spent = sum(a.cost or 0.0 for a in plan.attempts)
        best: _Best | None = None
        stopped: str | None = None
        for number, step in enumerate(plan.candidates, start=1):
            stopped = _budget_stop(step, spent, max_cost)
            if stopped is not None:
                run.add(step, "skipped", detail=stopped)
                break
            response = await self._call(step, messages, providers, kwargs, run)
            if response is None:
                continue
            attempt = run.attempts[-1]
            actual = response.router_metadata.estimated_cost
            spent += actual if actual is not None else (step.estimated_cost or 0.0)
            verdict = await _score(scorer or self.quality_check, messages, response, plan.profile)
            attempt.quality_score = verdict.score
            spent += _record_judge(verdict, run)
            if verdict.score >= threshold:
                attempt.outcome = "accepted"
                attempt.detail = f"quality {verdict.score:.2f} >= {threshold:.2f}: {verdict.reason}"
                reason = f"{plan.reason}; accepted {step.key} at step {number}"
                return _finish(response, step, plan.strategy, reason, run)
            attempt.outcome = "escalated"
            attempt.detail = f"quality {verdict.score:.2f} < {threshold:.2f}: {verdict.reason}"
            if best is None or verdict.score >= best.score:
                best = _Best(verdict.score, response, step, attempt)
        return await self._cascade_end(plan, run, best, stopped)

    async def _cascade_end(
        self, plan: RoutePlan, run: Attempts, best: _Best | None, stopped: str | None
    ) -> ChatCompletionResponse:
        """No step passed: the best answer so far, else why there is none."""
        if best is not None:
            best.attempt.detail = f"{best.attempt.detail}; returned as the best answer"
            why = stopped or "no step passed the quality check"
            reason = f"{plan.reason}; {why}; returning the best answer ({best.step.key}, quality {best.score:.2f})"
            return _finish(best.response, best.step, plan.strategy, reason, run)
        if stopped is not None and not any(a.outcome == "failed" for a in run.attempts):
            raise BudgetExceededError(f"cascade {plan.strategy!r}: {stopped}")
        raise await exhausted_error(plan, run, self.state)

    async def stream(
        self,
        plan: RoutePlan,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
        out: ChatStream,
        deadline: Deadline | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Stream through the plan, falling back only until the first chunk arrives (after
        that the caller has seen output, so an error is raised, not hidden). Each provider's
        stream is read through :class:`ChatStream` (typed usage and metadata); the chunk that
        carries its metadata gets the routing fields, else a trailer chunk does, and ``out``
        records the typed results."""
        run = Attempts(list(plan.attempts), deadline=deadline, tenant=plan.tenant)
        for candidate in plan.candidates:
            opened = await self._open_stream(candidate, messages, providers, kwargs, run)
            if opened is None:
                continue
            async with contextlib.aclosing(self._relay(plan, opened, run, out)) as relayed:
                async for chunk in relayed:
                    yield chunk
            return
        raise await exhausted_error(plan, run, self.state)

    async def _open_stream(
        self,
        candidate: RankedCandidate,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
        run: Attempts,
    ) -> _OpenStream | None:
        """Open ``candidate``'s stream and read its first chunk; None when it was skipped or failed
        (recorded in ``run``: the route falls back), or raises when no candidate would do better."""
        if _time_left(candidate, run) == 0.0:
            return None
        ticket = await self._admit(candidate, run)
        if ticket is None:
            return None
        started = time.perf_counter()
        call = CallSignals(self.state, candidate.key)
        provider = providers[candidate.provider]
        try:
            # A host provider may raise on the call itself (the contract's method is a plain def).
            opened = provider.stream_chat_completion(
                list(messages), candidate.model, **run.kwargs_for(provider, kwargs)
            )
        except Exception as exc:
            await self._failed(candidate, ticket, exc, run, started, call)
            return None
        except BaseException:
            call.end(ok=None)
            await _release_anyway(self.state, ticket)
            raise
        inner = ChatStream.wrap(opened)
        try:
            first: dict[str, Any] | None = await _within(anext(inner), run.deadline)
        except StopAsyncIteration:
            first = None
        except _OutOfTimeError:
            call.end(ok=None)  # not held against the candidate
            await _abandon(inner)
            await self._out_of_time(candidate, ticket, run, started)
            return None
        except Exception as exc:
            await _abandon(inner)
            await self._failed(candidate, ticket, exc, run, started, call)
            return None
        except BaseException:
            call.end(ok=None)
            await _abandon(inner)
            await _release_anyway(self.state, ticket)
            raise
        call.first_chunk(inner.metadata)
        return _OpenStream(candidate, provider, ticket, inner, first, started, call)

    async def _relay(
        self, plan: RoutePlan, opened: _OpenStream, run: Attempts, out: ChatStream
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The answering candidate's chunks, the one carrying its metadata given the routing
        fields (else a trailer chunk carries them); an error now is raised, not fallen back from."""
        candidate, inner, started = opened.candidate, opened.inner, opened.started
        await self.state.record_success(opened.ticket)  # it answered; a later error is reported on its own
        attempt = run.add(candidate, "ok", duration_ms=_ms(started))
        reason = run.answered_reason(plan.reason, candidate)
        meta: RouterMetadata | None = None
        try:
            chunk = opened.first
            while chunk is not None:
                if meta is None and inner.metadata is not None:
                    own = priced(inner.metadata, inner.usage, opened.provider, candidate.model)
                    attempt.cost = own.estimated_cost
                    attempt.duration_ms = _ms(started)
                    meta = routed_metadata(own, candidate, plan.strategy, reason, run)
                    chunk["router_metadata"] = meta.model_dump(mode="json")
                    record_results(out, inner.usage, meta)
                yield chunk
                chunk = await self._next_chunk(opened, run)
        finally:
            await inner.aclose()
            opened.call.answered(inner.metadata, inner.usage, chat=False)
        if meta is not None:
            # Usage may come after the metadata: price it now if its provider did not.
            own = priced(meta, inner.usage, opened.provider, candidate.model)
            if own is not meta:
                attempt.cost = own.estimated_cost
                meta = routed_metadata(own, candidate, plan.strategy, reason, run)
            record_results(out, inner.usage, meta)
            return
        attempt.duration_ms = _ms(started)
        base = RouterMetadata(
            selected_provider=candidate.provider,
            selected_model=candidate.model,
            routing_reason=reason,
            response_time_ms=_ms(started),
            cost_source="unknown",
        )
        own = priced(base, inner.usage, opened.provider, candidate.model)
        attempt.cost = own.estimated_cost
        meta = routed_metadata(own, candidate, plan.strategy, reason, run)
        record_results(out, inner.usage, meta)
        yield {
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": candidate.model,
            "choices": [],
            "router_metadata": meta.model_dump(mode="json"),
        }

    async def _next_chunk(self, opened: _OpenStream, run: Attempts) -> dict[str, Any] | None:
        """The next chunk (None at the end), within the routed deadline. An error now is too
        late to fall back from (the caller has output): reported to the state and raised as
        the contract's error; the deadline running out is raised as its own."""
        deadline = run.deadline
        try:
            return await _within(anext(opened.inner), deadline)
        except StopAsyncIteration:
            return None
        except _OutOfTimeError:
            assert deadline is not None
            raise deadline.error(opened.candidate.model) from None
        except Exception as raised:
            exc = contained(raised, opened.candidate.provider, opened.candidate.model)
            opened.call.failed(exc, self.config.rate_limit_cooldown)
            await self._learn(opened.candidate, opened.ticket, exc, run)
            if exc is raised:
                raise
            raise exc from raised


@dataclass(slots=True)
class _Best:
    """A cascade's best answer so far (returned when no step passes)."""

    score: float
    response: ChatCompletionResponse
    step: RankedCandidate
    attempt: RouteAttempt


@dataclass(slots=True)
class _OpenStream:
    """A candidate's stream that produced its first chunk (or ended at once: ``first`` None)."""

    candidate: RankedCandidate
    provider: LLMProvider
    ticket: Ticket
    inner: ChatStream
    first: dict[str, Any] | None
    started: float
    call: CallSignals


def _budget_stop(step: RankedCandidate, spent: float, max_cost: float | None) -> str | None:
    """Why a cascade stops before ``step``: what it spent plus the step's estimate exceeds
    ``max_cost`` (select_candidate already dropped steps priced unknown or over it alone)."""
    if max_cost is None:
        return None
    estimate = step.estimated_cost or 0.0
    if spent + estimate <= max_cost:
        return None
    return (
        f"stopped before {step.key}: spent {format_usd(spent)} + est. {format_usd(estimate)}"
        f" > max_cost {format_usd(max_cost)}"
    )


def _record_judge(verdict: QualityVerdict, run: Attempts) -> float:
    """A judge model's call (judge.JudgeScorer) is an attempt too; returns what it cost."""
    if verdict.model is None:
        return 0.0
    run.attempts.append(
        RouteAttempt(
            provider=verdict.provider or "judge",
            model=verdict.model,
            outcome="failed" if verdict.error else "judged",
            cost=None if verdict.error else verdict.cost,
            error=verdict.error,
            detail=verdict.reason,
            duration_ms=verdict.duration_ms,
        )
    )
    return 0.0 if verdict.error else (verdict.cost or 0.0)


# ---------------------------------------------------------------------- results


def routed_metadata(
    meta: RouterMetadata, candidate: RankedCandidate, strategy: str, reason: str, run: Attempts
) -> RouterMetadata:
    """``meta`` (the answering provider's) with the routing fields: who answered, why, every attempt, the total."""
    return meta.model_copy(
        update={
            "selected_provider": candidate.provider,
            "selected_model": candidate.model,
            "routing_reason": reason,
            "routing_strategy": strategy,
            "attempts": list(run.attempts),
            "total_cost": run.total_cost(),
            "deadline_ms": None if run.deadline is None else run.deadline.seconds * 1000,
        }
    )


def priced(meta: RouterMetadata, usage: Usage | None, provider: LLMProvider, model: str) -> RouterMetadata:
    """``meta`` priced from ``usage`` by the provider's ``calculate_cost`` (``cost_source``
    ``catalog``) when the provider did not price the call itself; else ``meta`` unchanged."""
    if meta.estimated_cost is not None or usage is None:
        return meta
    cost = safe_cost(provider, usage.prompt_tokens, usage.completion_tokens, model)
    if cost is None:
        return meta
    return meta.model_copy(update={"estimated_cost": cost, "cost_source": "catalog"})


def _finish(
    response: ChatCompletionResponse, candidate: RankedCandidate, strategy: str, reason: str, run: Attempts
) -> ChatCompletionResponse:
    meta = routed_metadata(response.router_metadata, candidate, strategy, reason, run)
    return response.model_copy(update={"router_metadata": meta})


async def exhausted_error(plan: RoutePlan, run: Attempts, state: RoutingStore) -> ProviderError:
    """The error for a route where no candidate answered. ``retry_after`` is the shortest wait
    until some candidate that could serve the request may be called again, counting those left
    out at planning because they were unavailable; None while some of them is not blocked."""
    could_serve = {t.key: t.provider for t in plan.candidates}
    if plan.decision is not None and plan.kind != "combo":
        # Eligible candidates the plan had no room for (max_attempts, cascade steps) could serve now.
        could_serve.update((a.key, a.provider) for a in plan.decision.top_alternatives(len(could_serve) + 1))
    could_serve.update(plan.waiting)
    wait = await state.shortest_wait(could_serve.items(), None if plan.tenant is None else plan.tenant.tenant)
    summary = "; ".join(_attempt_text(a) for a in run.attempts)
    if run.last_error is None:
        hint = f"; retry in {wait:.1f}s" if wait is not None else ""
        return NoRouteError(
            f"{plan.strategy}: no candidate could be called ({summary}){hint}",
            {f"{a.provider}/{a.model}": a.detail or a.outcome for a in run.attempts},
            retry_after=wait,
        )
    attempts = [a.model_dump(mode="json") for a in run.attempts]
    error = FallbackExhaustedError(f"{plan.strategy}: every candidate failed ({summary})", attempts, run.last_error)
    error.__cause__ = run.last_error
    error.retry_after = wait
    return error


def _attempt_text(attempt: RouteAttempt) -> str:
    """``provider/model: outcome (ErrorClass: message)``: the cause, not only its class."""
    why = ": ".join(x for x in (attempt.error, attempt.detail) if x)
    return f"{attempt.provider}/{attempt.model}: {attempt.outcome}{f' ({why})' if why else ''}"


async def _release_anyway(state: RoutingStore, ticket: Ticket) -> None:
    """Free a trial gate on the way out of a cancelled call; a cancelled or failed release
    (a shared gate then frees itself when its lease ends) must not hide the original exception."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await state.release(ticket)


class _OutOfTimeError(Exception):
    """The routed deadline ran out while waiting for a stream's chunk."""


async def _within(next_chunk: Awaitable[dict[str, Any]], deadline: Deadline | None) -> dict[str, Any]:
    """``next_chunk`` within what is left of the deadline (else raises _OutOfTimeError)."""
    if deadline is None:
        return await next_chunk
    try:
        async with asyncio.timeout(max(0.0, deadline.left())):
            return await next_chunk
    except TimeoutError:
        if deadline.left() > 0:
            raise  # not our deadline
        raise _OutOfTimeError from None


async def _abandon(stream: ChatStream) -> None:
    """Close a stream that already failed; an error while closing it adds nothing."""
    with contextlib.suppress(Exception):
        await stream.aclose()


def _time_left(candidate: RankedCandidate, run: Attempts) -> float | None:
    """Seconds of the routed deadline left for ``candidate``: None without a deadline, 0.0 (and
    recorded as skipped) when too little is left to start it."""
    if run.deadline is None:
        return None
    left = run.left_at_start = max(0.0, run.deadline.left())
    if left >= MIN_ATTEMPT_SECONDS:
        return left
    run.add(candidate, "skipped", detail=f"the routed deadline={run.deadline.seconds:g}s left too little time")
    if run.last_error is None:
        run.last_error = run.deadline.error(candidate.model)
    return 0.0


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


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
    try:
        check_fraction("quality check score", verdict.score)
    except ValueError:
        raise ValueError(f"quality check returned {verdict.score!r}; scores must be within [0, 1]") from None
    return verdict
