"""Deprecated: streams are :class:`muxer_litellm.ChatStream` objects (``await stream.aclose()``,
``async with``); SSE reading lives in :mod:`muxer_litellm.proxy.sse`."""

from __future__ import annotations

import contextlib
import warnings

from .proxy.sse import StreamUsage, iter_chunks

__all__ = ["StreamUsage", "close_stream", "iter_chunks"]

warnings.warn(
    "muxer_litellm.streaming is deprecated: use ChatStream.aclose() and muxer_litellm.proxy.sse",
    DeprecationWarning,
    stacklevel=2,
)


async def close_stream(stream: object, *, quiet: bool = False) -> None:
    """Close a chunk stream at once (``quiet``: swallow an error while closing). Prefer
    ``ChatStream.wrap(stream).aclose()``."""
    aclose = getattr(stream, "aclose", None)
    if not callable(aclose):
        return
    if quiet:
        with contextlib.suppress(Exception):
            await aclose()
    else:
        await aclose()
