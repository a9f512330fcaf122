"""One streamed chat call: open the SSE response, yield chunks, account for usage and cost.

Returns a :class:`~muxer_litellm.ChatStream`. The chunk that carries ``usage`` gets a
``router_metadata`` dict (for hosts that only iterate), and the same values are recorded on
the stream as typed objects before it is yielded, so routing and observability never parse
them back. If the proxy sent no usage, a trailer chunk says what is known.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx

from .._stream import ChatStream
from ..errors import ProviderError
from ..host import CostSource, Usage
from ..observability import Observer
from .cost import call_metadata, parse_cost
from .headers import proxy_headers
from .replies import error_from_body
from .sse import SKIP, FrameReader, SSEDecoder, StreamUsage, response_bytes
from .transport import ProxyTransport

if TYPE_CHECKING:
    from .provider import _Call

__all__ = ["CostFn", "open_chat_stream"]

#: (model, model_id, proxy_cost, prompt_tokens, completion_tokens) -> (cost, source)
CostFn = Callable[[str, str | None, float | None, int | None, int | None], Awaitable[tuple[float | None, CostSource]]]

_STREAM_HEADERS = {"Accept": "text/event-stream"}


def open_chat_stream(
    transport: ProxyTransport,
    payload: Callable[[], tuple[dict[str, Any], _Call]],
    model: str,
    cost: CostFn,
    observer: Observer | None,
    enter: Callable[[_Call, str], None],
    leave: Callable[[_Call], None],
) -> ChatStream:
    """A stream that sends nothing until first read. ``payload`` builds (and validates) the
    request body then, so bad input raises on the first ``anext`` as it always has. The stream
    counts in its tenant's calls in flight (``enter``) until it ends (``leave``)."""

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        body, tenant = payload()
        # Observed inline (not by wrapping) so an unobserved stream costs nothing per chunk.
        call = None if observer is None else observer.start("stream", model, body, tenant.label)
        try:
            enter(tenant, model)
        except BaseException as exc:
            if call is not None:
                call.failed(exc)
            raise
        try:
            started = time.perf_counter()
            auth = tenant.auth
            secrets = transport.secrets_for(auth)
            try:
                request = transport.build(
                    "POST", "/v1/chat/completions", json=body, model=model, headers=_STREAM_HEADERS, call=auth
                )
                if call is None:
                    response = await transport.send(request, model=model, stream=True, call=auth)
                else:
                    with call.current():
                        response = await transport.send(request, model=model, stream=True, call=auth)
            except BaseException as exc:
                if call is not None:
                    call.failed(exc)
                raise
            headers = proxy_headers(response.headers)
            call_id = headers.get("x-litellm-call-id")
            if call is not None:
                call.response_headers(call_id, headers.get("x-litellm-model-id"))
            usage = StreamUsage()
            last: dict[str, Any] = {}
            last_had_metadata = False

            def frame_error(frame: dict[str, Any]) -> ProviderError:
                return error_from_body(None, frame, "", model=model, call_id=call_id, secrets=secrets, mid_stream=True)

            async def finish() -> dict[str, Any]:
                amount, source = await cost(
                    model,
                    headers.get("x-litellm-model-id"),
                    parse_cost(usage.proxy_cost),
                    usage.prompt_tokens,
                    usage.completion_tokens,
                )
                meta = call_metadata(model, started, headers, amount, source, tenant.request_id)
                typed = usage.as_dict()
                stream.record(None if typed is None else Usage.model_validate(typed), meta)
                if call is not None:
                    call.stream_result(meta, usage.prompt_tokens, usage.completion_tokens)
                return meta.model_dump(mode="json")

            pieces = None
            try:
                # The SSE loop of sse.iter_chunks, inlined: one generator per chunk fewer.
                reader = FrameReader(
                    response, on_error_frame=frame_error, model=model, call_id=call_id, secrets=secrets
                )
                decoder = SSEDecoder()
                pieces = response_bytes(response)
                reading = True
                while reading:
                    broken: httpx.HTTPError | None = None
                    frames: list[bytes] = []
                    try:
                        frames = decoder.feed(await anext(pieces))
                    except StopAsyncIteration:
                        frames = decoder.flush()
                        reading = False
                    except httpx.HTTPError as exc:
                        broken = exc
                    if broken is not None:  # raised outside the except block: no implicit __context__
                        raise transport.chained(transport.transport_error(broken, model, auth), broken, auth)
                    for data in frames:
                        chunk = reader.chunk(data)
                        if chunk is None:  # [DONE]
                            reading = False
                            break
                        if chunk is SKIP:
                            continue
                        last = chunk
                        last_had_metadata = "usage" in chunk and usage.observe(chunk)
                        if last_had_metadata:
                            chunk["router_metadata"] = await finish()
                        if call is not None:
                            call.stream_chunk(chunk)
                        yield chunk
                if not last_had_metadata:
                    # The proxy sent no usage on its last chunk: close with one that says what we know.
                    trailer = {
                        "id": last.get("id"),
                        "object": "chat.completion.chunk",
                        "created": last.get("created", int(time.time())),
                        "model": last.get("model", model),
                        "choices": [],
                        "usage": usage.as_dict(),
                        "router_metadata": await finish(),
                    }
                    if call is not None:
                        call.stream_chunk(trailer)
                    yield trailer
                if call is not None:
                    # Inside the try: the span must end even if closing the response fails below.
                    call.stream_done()
            except GeneratorExit:
                if call is not None:
                    call.stream_closed()
                raise
            except BaseException as exc:
                if call is not None:
                    call.failed(exc)
                raise
            finally:
                if pieces is not None:
                    await pieces.aclose()
                await response.aclose()
            stream.mark_ended()
        finally:
            leave(tenant)

    stream = ChatStream(chunks(), parse=False, marks_end=True)
    return stream
