"""``ChatStream``: what ``stream_chat_completion`` returns.

An async iterator of OpenAI chunk dicts (so the host contract's ``async for`` keeps
working, and the last chunk keeps its ``router_metadata`` for hosts that only iterate), that
is also an async context manager with ``aclose()``, and that exposes the typed ``usage``,
``metadata`` and ``cost`` once the stream has ended, like openai-python's ``AsyncStream``.
Routing and observability read those typed values, never the chunk dicts.

A consumer sees only that surface. The functions below it are for producers inside this
package: :func:`producer_stream` makes a stream from an async generator that knows its
results and records them with :func:`record_results` (nothing is parsed twice), and
:func:`finish_stream` marks it ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from .host import RouterMetadata, Usage

__all__ = ["ChatStream", "finish_stream", "producer_stream", "record_results"]


class ChatStream(AsyncIterator[dict[str, Any]]):
    """Chunks as they arrive (``async for``); typed ``usage``, ``metadata`` and ``cost`` once
    known; ``aclose()`` or ``async with`` frees the connection.

    ``ChatStream(chunks)`` wraps any async iterator of chunk dicts (a host's own stream):
    its ``usage`` / ``router_metadata`` chunk fields are parsed as they pass.
    """

    __slots__ = ("_chunks", "_closed", "_direct", "_ended", "_metadata", "_parse", "_usage")

    def __init__(self, chunks: AsyncIterator[dict[str, Any]]) -> None:
        self._chunks = chunks
        self._parse = True
        self._direct = False
        self._usage: Usage | None = None
        self._metadata: RouterMetadata | None = None
        self._ended = False
        self._closed = False

    @classmethod
    def wrap(cls, stream: AsyncIterator[dict[str, Any]]) -> ChatStream:
        """``stream`` itself when it already is a ChatStream, else a parsing wrapper."""
        return stream if isinstance(stream, ChatStream) else cls(stream)

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Awaitable[dict[str, Any]]:
        if self._direct:
            return self._chunks.__anext__()
        return self._next()

    async def _next(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._ended = True
            raise
        if self._parse:
            self._observe(chunk)
        return chunk

    def _observe(self, chunk: dict[str, Any]) -> None:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            with contextlib.suppress(ValidationError):
                self._usage = Usage.model_validate(usage)
        meta = chunk.get("router_metadata")
        if isinstance(meta, dict):
            with contextlib.suppress(ValidationError):
                self._metadata = RouterMetadata.model_validate(meta)

    # ------------------------------------------------------------------ results

    @property
    def usage(self) -> Usage | None:
        """Token counts from the stream's usage chunk; None until it arrived (or if none did)."""
        return self._usage

    @property
    def metadata(self) -> RouterMetadata | None:
        """Cost, call id and routing fields; None until the chunk carrying them arrived."""
        return self._metadata

    @property
    def cost(self) -> float | None:
        """USD for this stream when known (None: not ended yet, or unknown, never 0)."""
        return None if self._metadata is None else self._metadata.estimated_cost

    @property
    def ended(self) -> bool:
        """True once the producer finished (not merely closed early)."""
        return self._ended

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ closing

    async def aclose(self) -> None:
        """Stop the stream and free its connection at once. Safe to call twice.

        Raises RuntimeError while another task is reading the stream (an async generator
        cannot be closed then): cancel that task instead."""
        if self._closed:
            return
        if getattr(self._chunks, "ag_running", False):
            raise RuntimeError("this ChatStream is being read by another task: cancel that task to stop the stream")
        aclose = getattr(self._chunks, "aclose", None)  # a host's plain iterator may have none
        if callable(aclose):
            await aclose()
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# ---------------------------------------------------------------------- for producers


def producer_stream(
    make: Callable[[ChatStream], AsyncGenerator[dict[str, Any], None]], *, marks_end: bool = True
) -> ChatStream:
    """A stream over the generator ``make(stream)`` returns, which records the typed results
    itself (:func:`record_results`), so chunks are not parsed. With ``marks_end`` the generator
    also calls :func:`finish_stream` when it finishes, and iteration hands out the generator's
    own awaitable: one coroutine per chunk fewer (a closed generator stops by itself)."""
    stream = ChatStream.__new__(ChatStream)
    stream._usage = None
    stream._metadata = None
    stream._ended = False
    stream._closed = False
    stream._parse = False
    stream._direct = marks_end
    stream._chunks = make(stream)
    return stream


def record_results(stream: ChatStream, usage: Usage | None, metadata: RouterMetadata) -> None:
    """Set a stream's typed results (call before yielding the chunk that carries them)."""
    stream._usage = usage
    stream._metadata = metadata


def finish_stream(stream: ChatStream) -> None:
    """The producer finished (for streams made with ``marks_end=True``)."""
    stream._ended = True
