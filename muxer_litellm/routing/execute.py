"""Execution: call a :class:`RoutePlan`'s targets in order and fall back, per the error policy.

Each target is admitted by the routing state just before it is called (a half-open target
admits one trial at a time; a blocked one is skipped), and every outcome is reported back:
success, a counted failure, a 429's wait, or nothing learned (:mod:`.policy` says which).
``router_metadata`` records the decision and every attempt; an exhausted route says how soon
some target could serve again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._stream import ChatStream
from ..errors import BudgetExceededError, FallbackExhaustedError, NoRouteError, ProviderError
from ..host import ChatCompletionResponse, LLMProvider, MessageInput, RouteAttempt, RouterMetadata
from .classify import PromptProfile
from .config import RoutingConfig, check_fraction
from .measure import CallSignals
from .plan import RoutePlan
from .policy import ErrorAction, error_verdict
from .providers import short
from .quality import QualityScorer, QualityVerdict, default_quality_check
from .select import RankedCandidate
from .state.local import TargetStatus, Ticket
from .state.store import RoutingStore

__all__ = ["Attempts", "Executor", "exhausted_error", "routed_metadata"]

logger = logging.getLogger("muxer_litellm.routing")


@dataclass(slots=True)
class Attempts:
    """Attempts of one routed request, what they cost, and which providers refused it."""

    attempts: list[RouteAttempt] = field(default_factory=list)
    last_error: ProviderError | None = None
    refused: dict[str, str] = field(default_factory=dict)

    def add(self, target: RankedCandidate, outcome: str, **fields: Any) -> RouteAttempt:
        attempt = RouteAttempt(provider=target.provider, model=target.model, outcome=outcome, **fields)
        self.attempts.append(attempt)
        return attempt

    @property
    def failures(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "failed")

    def answered_reason(self, reason: str, target: RankedCandidate) -> str:
        """The plan's reason, plus the fallback when earlier targets failed."""
        if not self.failures:
            return reason
        return f"{reason}; answered by {target.key} after {self.failures} failed attempt(s)"

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

    # ------------------------------------------------------------------ one target

    async def _admit(self, target: RankedCandidate, run: Attempts) -> Ticket | None:
        """A ticket to call ``target``, or None after recording why it is skipped (its provider
        refused this request earlier, it is cooling down, its trial gate is taken...)."""
        if target.provider in run.refused:
            run.add(target, "skipped", detail=run.refused[target.provider])
            return None
        admission = await self.state.admit(target.key, target.provider, forced=target.forced)
        if isinstance(admission, TargetStatus):
            run.add(target, "skipped", detail=admission.reason)
            return None
        return admission

    async def _learn(self, ticket: Ticket, exc: ProviderError) -> ErrorAction:
        """Report a failure to the state; returns what it means for the rest of the route."""
        verdict = error_verdict(exc, rate_limit_cooldown=self.config.rate_limit_cooldown)
        if verdict.effect == "cool_down":
            await self.state.cool_down(ticket.key, verdict.wait or 0.0, "rate limited (429)", ticket=ticket)
        elif verdict.effect == "failure":
            if await self.state.record_failure(ticket):
                logger.warning("routing: breaker opened for %s after repeated failures", ticket.key)
        else:
            await self.state.release(ticket)
        return verdict.action

    async def _failed(
        self, target: RankedCandidate, ticket: Ticket, exc: ProviderError, run: Attempts, started: float
    ) -> None:
        """Record a failed target; re-raises ``exc`` when no other target would do better."""
        action = await self._learn(ticket, exc)
        run.add(target, "failed", error=type(exc).__name__, detail=short(exc), duration_ms=_ms(started))
        run.last_error = exc
        if action == "stop":
            raise exc
        if action == "skip_provider":
            run.refused[target.provider] = f"{target.provider} refused our request earlier ({type(exc).__name__})"

    async def _call(
        self,
        target: RankedCandidate,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
        run: Attempts,
    ) -> ChatCompletionResponse | None:
        """One target: skipped (None), answered, or failed (None, or raises when the error
        means no target will do)."""
        ticket = await self._admit(target, run)
        if ticket is None:
            return None
        started = time.perf_counter()
        call = CallSignals(self.state, target.key)
        try:
            response = await providers[target.provider].chat_completion(list(messages), target.model, **kwargs)
        except ProviderError as exc:
            call.failed(exc, self.config.rate_limit_cooldown)
            await self._failed(target, ticket, exc, run, started)
            return None
        except BaseException:
            call.end(ok=None)
            await _release_anyway(self.state, ticket)  # cancelled, or a bug: says nothing about the target
            raise
        call.answered(response.router_metadata, response.usage)
        await self.state.record_success(ticket)
        run.add(target, "ok", cost=response.router_metadata.estimated_cost, duration_ms=_ms(started))
        return response

    # ------------------------------------------------------------------ strategies

    async def chain(
        self,
        plan: RoutePlan,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
    ) -> ChatCompletionResponse:
        """Targets in order until one answers."""
        run = Attempts(list(plan.attempts))
        for target in plan.targets:
            response = await self._call(target, messages, providers, kwargs, run)
            if response is not None:
                return _finish(response, target, plan.strategy, run.answered_reason(plan.reason, target), run)
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
    ) -> ChatCompletionResponse:
        """Steps in order until an answer passes the quality check (or the budget ends)."""
        run = Attempts(list(plan.attempts))
        # What planning already spent (a semantic classifier's embedding) counts toward max_cost.
        spent = sum(a.cost or 0.0 for a in plan.attempts)
        best: tuple[float, ChatCompletionResponse, RankedCandidate, RouteAttempt] | None = None
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
            response = await self._call(step, messages, providers, kwargs, run)
            if response is None:
                continue
            attempt = run.attempts[-1]
            actual = response.router_metadata.estimated_cost
            spent += actual if actual is not None else (step.estimated_cost or 0.0)
            verdict = await _score(scorer or self.quality_check, messages, response, plan.profile)
            attempt.quality_score = verdict.score
            number = plan.targets.index(step) + 1
            if verdict.model is not None:  # a judge model's call (judge.JudgeScorer) is an attempt too
                spent += 0.0 if verdict.error else (verdict.cost or 0.0)
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
            if verdict.score >= threshold:
                attempt.outcome = "accepted"
                attempt.detail = f"quality {verdict.score:.2f} >= {threshold:.2f}: {verdict.reason}"
                reason = f"{plan.reason}; accepted {step.key} at step {number}"
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
        raise await exhausted_error(plan, run, self.state)

    async def stream(
        self,
        plan: RoutePlan,
        messages: Sequence[MessageInput],
        providers: Mapping[str, LLMProvider],
        kwargs: Mapping[str, Any],
        out: ChatStream,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Stream through the plan, falling back only until the first chunk arrives (after
        that the caller has seen output, so an error is raised, not hidden). Each provider's
        stream is read through :class:`ChatStream` (typed usage and metadata); the chunk that
        carries its metadata gets the routing fields, else a trailer chunk does, and ``out``
        records the typed results."""
        run = Attempts(list(plan.attempts))
        for target in plan.targets:
            ticket = await self._admit(target, run)
            if ticket is None:
                continue
            started = time.perf_counter()
            call = CallSignals(self.state, target.key)
            try:
                # A host provider may raise on the call itself (the contract's method is a plain def).
                opened = providers[target.provider].stream_chat_completion(list(messages), target.model, **kwargs)
            except ProviderError as exc:
                call.failed(exc, self.config.rate_limit_cooldown)
                await self._failed(target, ticket, exc, run, started)
                continue
            except BaseException:
                call.end(ok=None)
                await _release_anyway(self.state, ticket)
                raise
            inner = ChatStream.wrap(opened)
            try:
                first: dict[str, Any] | None = await anext(inner)
            except StopAsyncIteration:
                first = None
            except ProviderError as exc:
                call.failed(exc, self.config.rate_limit_cooldown)
                await _abandon(inner)
                await self._failed(target, ticket, exc, run, started)
                continue
            except BaseException:
                call.end(ok=None)
                await _abandon(inner)
                await _release_anyway(self.state, ticket)
                raise
            call.first_chunk(inner.metadata)
            await self.state.record_success(ticket)  # it answered; a later error is reported on its own
            attempt = run.add(target, "ok", duration_ms=_ms(started))
            reason = run.answered_reason(plan.reason, target)
            meta: RouterMetadata | None = None
            try:
                chunk = first
                while chunk is not None:
                    if meta is None and inner.metadata is not None:
                        attempt.cost = inner.metadata.estimated_cost
                        attempt.duration_ms = _ms(started)
                        meta = routed_metadata(inner.metadata, target, plan.strategy, reason, run)
                        chunk["router_metadata"] = meta.model_dump(mode="json")
                        out.record(inner.usage, meta)
                    yield chunk
                    try:
                        chunk = await anext(inner)
                    except StopAsyncIteration:
                        chunk = None
                    except ProviderError as exc:
                        call.failed(exc, self.config.rate_limit_cooldown)
                        await self._learn(ticket, exc)  # too late to fall back: the caller has output
                        raise
            finally:
                await inner.aclose()
                call.answered(inner.metadata, inner.usage, chat=False)
            if meta is not None:
                out.record(inner.usage, meta)  # usage may come after the metadata
                return
            attempt.duration_ms = _ms(started)
            base = RouterMetadata(
                selected_provider=target.provider,
                selected_model=target.model,
                routing_reason=reason,
                response_time_ms=_ms(started),
                cost_source="unknown",
            )
            meta = routed_metadata(base, target, plan.strategy, reason, run)
            out.record(inner.usage, meta)
            yield {
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": target.model,
                "choices": [],
                "router_metadata": meta.model_dump(mode="json"),
            }
            return
        raise await exhausted_error(plan, run, self.state)


# ---------------------------------------------------------------------- results


def routed_metadata(
    meta: RouterMetadata, target: RankedCandidate, strategy: str, reason: str, run: Attempts
) -> RouterMetadata:
    """``meta`` (the answering provider's) with the routing fields: who answered, why, every attempt, the total."""
    return meta.model_copy(
        update={
            "selected_provider": target.provider,
            "selected_model": target.model,
            "routing_reason": reason,
            "routing_strategy": strategy,
            "attempts": list(run.attempts),
            "total_cost": run.total_cost(),
        }
    )


def _finish(
    response: ChatCompletionResponse, target: RankedCandidate, strategy: str, reason: str, run: Attempts
) -> ChatCompletionResponse:
    meta = routed_metadata(response.router_metadata, target, strategy, reason, run)
    return response.model_copy(update={"router_metadata": meta})


async def exhausted_error(plan: RoutePlan, run: Attempts, state: RoutingStore) -> ProviderError:
    """The error for a route where no target answered. ``retry_after`` is the shortest wait
    until some target that could serve the request may be called again, counting those left
    out at planning because they were unavailable; None while some of them is not blocked."""
    could_serve = {t.key: t.provider for t in plan.targets}
    if plan.decision is not None and plan.kind != "combo":
        # Eligible candidates the plan had no room for (max_attempts, cascade steps) could serve now.
        could_serve.update((a.key, a.provider) for a in plan.decision.top_alternatives(len(could_serve) + 1))
    could_serve.update(plan.waiting)
    wait = await state.shortest_wait(could_serve.items())
    summary = "; ".join(
        f"{a.provider}/{a.model}: {a.outcome}{f' ({a.error})' if a.error else ''}" for a in run.attempts
    )
    if run.last_error is None:
        hint = f"; retry in {wait:.1f}s" if wait is not None else ""
        return NoRouteError(
            f"{plan.strategy}: no target could be called ({summary}){hint}",
            {f"{a.provider}/{a.model}": a.detail or a.outcome for a in run.attempts},
            retry_after=wait,
        )
    attempts = [a.model_dump(mode="json") for a in run.attempts]
    error = FallbackExhaustedError(f"{plan.strategy}: every target failed ({summary})", attempts, run.last_error)
    error.__cause__ = run.last_error
    error.retry_after = wait
    return error


async def _release_anyway(state: RoutingStore, ticket: Ticket) -> None:
    """Free a trial gate on the way out of a cancelled call; a cancelled or failed release
    (a shared gate then frees itself when its lease ends) must not hide the original exception."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await state.release(ticket)


async def _abandon(stream: ChatStream) -> None:
    """Close a stream that already failed; an error while closing it adds nothing."""
    with contextlib.suppress(Exception):
        await stream.aclose()


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
