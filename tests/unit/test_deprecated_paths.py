"""The module paths the README documented before the proxy/ split still import, and warn."""

from __future__ import annotations

import importlib
import sys

import pytest

import muxer_litellm
from muxer_litellm.proxy import catalog, cost, errors, process, sse
from muxer_litellm.proxy.provider import LiteLLMProvider


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("muxer_litellm.provider", "LiteLLMProvider", LiteLLMProvider),
        ("muxer_litellm.proxy_errors", "error_from_body", errors.error_from_body),
        ("muxer_litellm.cost", "resolve_cost", cost.resolve_cost),
        ("muxer_litellm.proxy_process", "LiteLLMProxy", process.LiteLLMProxy),
        ("muxer_litellm.streaming", "iter_chunks", sse.iter_chunks),
    ],
)
def test_old_module_paths_import_with_a_deprecation_warning(old: str, name: str, new: object) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match="muxer_litellm"):
        module = importlib.import_module(old)
    assert getattr(module, name) is new


def test_model_catalog_moved_but_still_reachable() -> None:
    import muxer_litellm.catalog as old_catalog

    with pytest.warns(DeprecationWarning, match=r"proxy\.catalog"):
        moved = old_catalog.ModelCatalog
    assert moved is catalog.ModelCatalog is muxer_litellm.ModelCatalog
    with pytest.raises(AttributeError):
        _ = old_catalog.NoSuchThing  # type: ignore[attr-defined]


async def test_close_stream_still_closes_a_chat_stream() -> None:
    sys.modules.pop("muxer_litellm.streaming", None)
    with pytest.warns(DeprecationWarning, match="ChatStream.aclose"):
        streaming = importlib.import_module("muxer_litellm.streaming")
    closed: list[bool] = []

    async def chunks():  # type: ignore[no-untyped-def]
        try:
            yield {"choices": []}
            yield {"choices": []}
        finally:
            closed.append(True)

    stream = muxer_litellm.ChatStream(chunks())
    await anext(stream)
    await streaming.close_stream(stream)
    assert closed == [True]
    assert stream.closed is True
