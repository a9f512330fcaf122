"""One streamed chat call: open the SSE response, yield chunks, account for usage and cost.

Returns a :class:`~muxer_litellm.ChatStream`. The chunk that carries ``usage`` gets a
``router_metadata`` dict (for hosts that only iterate), and the same values are recorded on
the stream as typed objects before it is yielded, so routing and observability never parse
them back. If the proxy sent no usage, a trailer chunk says what is known.

Time and size are bounded (:mod:`.limits`): the first data event and each next one must come
within ``timeout`` (comments and keep-alive pings do not count), the whole stream within
``stream_timeout`` when set, and no event may be longer than ``max_event_bytes``.
"""

from __future__ import annotations

import contextlib
import time
from asyncio import CancelledError, current_task
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from .._stream import ChatStream, finish_stream, producer_stream, record_results
from ..errors import ProviderError
from ..host import CostSource, RouterMetadata, Usage
from ..observability import Observer
from ..observability.observer import CallObservation
from .cost import call_metadata, parse_cost
from .limits import CallGuard
from .replies import error_from_body
from .sse import SKIP, EventReader, StreamUsage
from .transport import ProxyTransport

__all__ = ["CostFn", "GuardFactory", "StreamLimits", "open_chat_stream"]

#: (model, model_id, proxy_cost, prompt_tokens, completion_tokens) -> (cost, source)
CostFn = Callable[[str, str | None, float | None, int | None, int | None], Awaitable[tuple[float | None, CostSource]]]

_STREAM_HEADERS = {"Accept": "text/event-stream"}


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """``gap``: seconds to the first data event and between data events; ``total``: seconds
    for the whole stream (None: no limit); ``event``: bytes of one event."""

    gap: float | None
    total: float | None
    event: int


class _Unobserved:
    """The observation of a call nobody observes: every hook does nothing."""

    __slots__ = ()

    def current(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()

    def response_headers(self, call_id: str | None, model_id: str | None) -> None:
        pass

    def stream_result(self, metadata: RouterMetadata, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        pass

    def stream_chunk(self, chunk: dict[str, Any]) -> None:
        pass

    def stream_done(self) -> None:
        pass

    def stream_closed(self) -> None:
        pass

    def failed(self, exc: BaseException) -> None:
        pass


_UNOBSERVED = _Unobserved()
Observation = CallObservation | _Unobserved


class GuardFactory(Protocol):
    def __call__(self, *, gap: float | None, total: float | None, model: str | None) -> CallGuard: ...


class _StreamCall:
    """The state of one streamed call, and the steps of reading it."""

    def __init__(
        self,
        transport: ProxyTransport,
        model: str,
        cost: CostFn,
        limits: StreamLimits,
        guards: GuardFactory,
    ) -> None:
        self.transport = transport
        self.model = model
        self.cost = cost
        self.limits = limits
        self.guards = guards
        self.usage = StreamUsage()
        self.started = time.perf_counter()
        self.headers: httpx.Headers = httpx.Headers()
        self.call_id: str | None = None

    async def open(self, body: dict[str, Any], call: Observation, guard: CallGuard) -> httpx.Response:
        transport, model = self.transport, self.model
        request = transport.build("POST", "/v1/chat/completions", json=body, model=model, headers=_STREAM_HEADERS)
        failure: ProviderError | None = None
        guard.task = current_task()
        try:
            with call.current():
                response = await transport.send(request, model=model, guard=guard)
        except ProviderError as exc:  # a limit of ours that fired meanwhile wins
            failure = guard.cancelled() or exc
        except CancelledError:
            failure = guard.cancelled()
            if failure is None:
                raise
        finally:
            guard.task = None
        if failure is not None:  # raised outside the except block: no implicit __context__
            raise failure
        self.headers = response.headers
        self.call_id = response.headers.get("x-litellm-call-id")
        call.response_headers(self.call_id, response.headers.get("x-litellm-model-id"))
        return response

    def reader(self, response: httpx.Response, guard: CallGuard) -> EventReader:
        transport = self.transport
        return EventReader(
            response,
            on_error_frame=self.frame_error,
            on_transport_error=lambda exc: transport.chained(transport.transport_error(exc, self.model), exc),
            model=self.model,
            call_id=self.call_id,
            guard=guard,
            event_limit=self.limits.event,
            secrets=transport.secrets,
        )

    def frame_error(self, frame: dict[str, Any]) -> ProviderError:
        return error_from_body(
            None, frame, "", model=self.model, call_id=self.call_id, secrets=self.transport.secrets, mid_stream=True
        )

    async def finish(self, stream: ChatStream, call: Observation) -> dict[str, Any]:
        """Price the call, record the typed results on ``stream``; the metadata as a dict."""
        usage, headers = self.usage, self.headers
        amount, source = await self.cost(
            self.model,
            headers.get("x-litellm-model-id"),
            parse_cost(usage.proxy_cost),
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        meta = call_metadata(self.model, self.started, headers, amount, source)
        typed = usage.as_dict()
        record_results(stream, None if typed is None else Usage.model_validate(typed), meta)
        call.stream_result(meta, usage.prompt_tokens, usage.completion_tokens)
        return meta.model_dump(mode="json")

    def trailer(self, last: dict[str, Any]) -> dict[str, Any]:
        """The chunk that closes a stream whose last chunk had no usage: what we know."""
        return {
            "id": last.get("id"),
            "object": "chat.completion.chunk",
            "created": last.get("created", int(time.time())),
            "model": last.get("model", self.model),
            "choices": [],
            "usage": self.usage.as_dict(),
        }


def open_chat_stream(
    transport: ProxyTransport,
    payload: Callable[[], dict[str, Any]],
    model: str,
    cost: CostFn,
    observer: Observer | None,
    limits: StreamLimits,
    guards: GuardFactory,
) -> ChatStream:
    """A stream that sends nothing until first read. ``payload`` builds (and validates) the
    request body then, so bad input raises on the first ``anext`` as it always has.
    ``guards`` makes the call's :class:`CallGuard` (the provider's, so ``aclose()`` can stop it)."""
    state = _StreamCall(transport, model, cost, limits, guards)
    return producer_stream(lambda stream: _chunks(state, payload, observer, stream))


async def _chunks(
    state: _StreamCall, payload: Callable[[], dict[str, Any]], observer: Observer | None, stream: ChatStream
) -> AsyncGenerator[dict[str, Any], None]:
    """The chunks as they arrive; the usage chunk gets ``router_metadata``, else a trailer
    carries it. One generator for the whole stream (no generator per chunk)."""
    body = payload()
    call: Observation = _UNOBSERVED if observer is None else observer.start("stream", state.model, body)
    state.started = time.perf_counter()
    guard = state.guards(gap=state.limits.gap, total=state.limits.total, model=state.model)
    response: httpx.Response | None = None
    reader: EventReader | None = None
    try:
        response = await state.open(body, call, guard)
        reader = state.reader(response, guard)
        usage = state.usage
        last: dict[str, Any] = {}
        last_had_metadata = done = False
        while not done and (frames := await reader.read()) is not None:
            for data in frames:
                chunk = reader.chunk(data)
                if chunk is SKIP:
                    continue
                if chunk is None:  # [DONE]
                    done = True
                    break
                last = chunk
                last_had_metadata = "usage" in chunk and usage.observe(chunk)
                if last_had_metadata:
                    chunk["router_metadata"] = await state.finish(stream, call)
                call.stream_chunk(chunk)
                yield chunk
        if not last_had_metadata:
            trailer = state.trailer(last)
            trailer["router_metadata"] = await state.finish(stream, call)
            call.stream_chunk(trailer)
            yield trailer
        call.stream_done()  # inside the try: the span must end even if closing the response fails below
    except GeneratorExit:
        call.stream_closed()
        raise
    except BaseException as exc:
        call.failed(exc)
        raise
    finally:
        guard.stop()
        if reader is not None:
            await reader.aclose()
        if response is not None:
            await response.aclose()
    finish_stream(stream)
