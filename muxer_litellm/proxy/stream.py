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
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from .._stream import ChatStream, finish_stream, producer_stream, record_results
from ..errors import ProviderError
from ..host import CostSource, RouterMetadata, Usage
from ..observability import Observer
from ..observability.observer import CallObservation
from .aiohttp_transport import close_response
from .cost import call_metadata, parse_cost
from .headers import proxy_headers
from .limits import CallGuard
from .replies import error_from_body
from .sse import SKIP, EventReader, StreamUsage
from .transport import ProxyTransport

if TYPE_CHECKING:
    from .provider import _Call

__all__ = ["CostFn", "GuardFactory", "StreamLimits", "open_chat_stream"]

#: (model, model_id, proxy_cost, prompt_tokens, completion_tokens) -> (cost, source)
CostFn = Callable[[str, str | None, float | None, int | None, int | None], Awaitable[tuple[float | None, CostSource]]]

_STREAM_HEADERS = {"Accept": "text/event-stream"}


def _as_raised(error: ProviderError) -> ProviderError:
    return error


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
        self.headers: dict[str, str] = {}
        self.call_id: str | None = None
        #: Whose call it is (set from the payload): its key, headers and request id.
        self.tenant: _Call | None = None
        self.secrets: tuple[str, ...] = transport.secrets

    async def open(self, body: dict[str, Any], call: Observation, guard: CallGuard) -> httpx.Response:
        transport, model = self.transport, self.model
        auth = None if self.tenant is None else self.tenant.auth
        request = transport.build(
            "POST", "/v1/chat/completions", json=body, model=model, headers=_STREAM_HEADERS, call=auth
        )
        with call.current():
            response = await guard.watch(
                transport.send(request, model=model, guard=guard, call=auth), ProviderError, _as_raised
            )
        self.headers = proxy_headers(response.headers)
        self.call_id = self.headers.get("x-litellm-call-id")
        call.response_headers(self.call_id, self.headers.get("x-litellm-model-id"))
        return response

    def reader(self, response: httpx.Response, guard: CallGuard) -> EventReader:
        transport = self.transport
        auth = None if self.tenant is None else self.tenant.auth
        return EventReader(
            response,
            on_error_frame=self.frame_error,
            on_transport_error=lambda exc: transport.chained(
                transport.transport_error(exc, self.model, auth), exc, auth
            ),
            model=self.model,
            call_id=self.call_id,
            guard=guard,
            event_limit=self.limits.event,
            secrets=self.secrets,
        )

    def frame_error(self, frame: dict[str, Any]) -> ProviderError:
        return error_from_body(
            None, frame, "", model=self.model, call_id=self.call_id, secrets=self.secrets, mid_stream=True
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
        request_id = None if self.tenant is None else self.tenant.request_id
        meta = call_metadata(self.model, self.started, headers, amount, source, request_id)
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
    payload: Callable[[], tuple[dict[str, Any], _Call]],
    model: str,
    cost: CostFn,
    observer: Observer | None,
    limits: StreamLimits,
    guards: GuardFactory,
    enter: Callable[[_Call, str], None],
    leave: Callable[[_Call], None],
) -> ChatStream:
    """A stream that sends nothing until first read. ``payload`` builds (and validates) the
    request body then, so bad input raises on the first ``anext`` as it always has, and says
    whose call it is. ``guards`` makes the call's :class:`CallGuard` (the provider's, so
    ``aclose()`` can stop it). The stream counts in its tenant's calls in flight until it ends."""
    state = _StreamCall(transport, model, cost, limits, guards)
    return producer_stream(lambda stream: _chunks(state, payload, observer, stream, (enter, leave)))


async def _chunks(
    state: _StreamCall,
    payload: Callable[[], tuple[dict[str, Any], _Call]],
    observer: Observer | None,
    stream: ChatStream,
    tenancy: tuple[Callable[[_Call, str], None], Callable[[_Call], None]],
) -> AsyncGenerator[dict[str, Any], None]:
    """The chunks as they arrive; the usage chunk gets ``router_metadata``, else a trailer
    carries it. One generator for the whole stream (no generator per chunk)."""
    body, tenant = payload()
    state.tenant = tenant
    state.secrets = state.transport.secrets_for(tenant.auth)
    call: Observation = _UNOBSERVED if observer is None else observer.start("stream", state.model, body, tenant.label)
    entered = False
    state.started = time.perf_counter()
    guard = state.guards(gap=state.limits.gap, total=state.limits.total, model=state.model)
    response: httpx.Response | None = None
    reader: EventReader | None = None
    try:
        tenancy[0](tenant, state.model)
        entered = True
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
            await close_response(response)
        if entered:
            tenancy[1](tenant)
    finish_stream(stream)
