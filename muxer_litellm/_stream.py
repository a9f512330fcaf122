"""``ChatStream``: what ``stream_chat_completion`` returns.

An async iterator of OpenAI chunk dicts (so the host contract's ``async for`` keeps
working, and the last chunk keeps its ``router_metadata`` for hosts that only iterate), that
is also an async context manager with ``aclose()``, and that exposes the typed ``usage``,
``metadata`` and ``cost`` once the stream has ended, like openai-python's ``AsyncStream``.
Routing and observability read those typed values, never the chunk dicts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from .host import RouterMetadata, Usage

__all__ = ["ChatStream"]


class ChatStream(AsyncIterator[dict[str, Any]]):
    """Chunks as they arrive; typed results once known.

    A producer that knows its results (the LiteLLM proxy client) records them with
    :meth:`record` just before it yields the chunk that carries them, so nothing is parsed
    twice. A foreign stream (a host's own async generator) is wrapped with :meth:`wrap`,
    and its ``usage`` / ``router_metadata`` chunk fields are parsed as they pass.

    ``marks_end=True`` (with ``parse=False``) is for an async-generator producer that also
    calls :meth:`mark_ended` when it finishes: iteration then hands out the generator's own
    awaitable, one coroutine per chunk fewer (a closed generator stops by itself).
    """

    __slots__ = ("_chunks", "_closed", "_direct", "_ended", "_metadata", "_parse", "_usage")

    def __init__(self, chunks: AsyncIterator[dict[str, Any]], *, parse: bool = True, marks_end: bool = False) -> None:
        self._chunks = chunks
        self._parse = parse
        self._direct = marks_end and not parse and callable(getattr(chunks, "aclose", None))
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

    def mark_ended(self) -> None:
        """The producer finished (for producers made with ``marks_end=True``)."""
        self._ended = True

    def record(self, usage: Usage | None, metadata: RouterMetadata) -> None:
        """Set the typed results (for producers; call before yielding the chunk carrying them)."""
        self._usage = usage
        self._metadata = metadata

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
        """Stop the stream and free its connection at once. Safe to call twice."""
        if self._closed:
            return
        aclose = getattr(self._chunks, "aclose", None)  # a host's plain iterator may have none
        if callable(aclose):
            try:
                await aclose()
            except RuntimeError as exc:
                if "already running" not in str(exc):
                    raise
                # An async generator cannot be closed while another task is inside __anext__.
                raise RuntimeError(
                    "this ChatStream is being read by another task: cancel that task to stop the stream"
                ) from None
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
