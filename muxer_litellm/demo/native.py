"""The demo's stand-in for a host's own ("native") provider: a :class:`BareFakeProvider` configuration.

The demo registers it beside :class:`~muxer_litellm.LiteLLMProvider` to show that routing
compares both on the same terms. Like a bare host provider it knows only its model names and
a per-1K price table (no catalog: no context windows, no capabilities), bills from that table,
and reports usage. It needs no network: each model answers with its canned reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..testing import BareFakeProvider

__all__ = ["DEMO_NATIVE_MODELS", "LocalModel", "LocalProvider"]


@dataclass(frozen=True, slots=True)
class LocalModel:
    """One model of the stand-in: what it stands for, its list price, its canned reply."""

    upstream: str
    input_per_1k: float
    output_per_1k: float
    reply: str


#: Llama 3.1 8B at a hosted list price ($0.05 / $0.08 per 1M tokens): the cheapest model
#: in the demo, so simple prompts go to it.
DEMO_NATIVE_MODELS: dict[str, LocalModel] = {
    "llama-3.1-8b": LocalModel(
        upstream="meta-llama/Llama-3.1-8B-Instruct",
        input_per_1k=0.00005,
        output_per_1k=0.00008,
        reply="The capital of France is Paris.",
    ),
}


class LocalProvider(BareFakeProvider):
    """The demo's native provider: ``models`` (default :data:`DEMO_NATIVE_MODELS`) as a
    :class:`BareFakeProvider` named ``native``."""

    def __init__(self, models: Mapping[str, LocalModel] | None = None) -> None:
        self.models = dict(DEMO_NATIVE_MODELS if models is None else models)
        for name, spec in self.models.items():
            if min(spec.input_per_1k, spec.output_per_1k) < 0 or not spec.reply:
                raise ValueError(f"local model {name!r} needs prices >= 0 and a non-empty reply")
        super().__init__(
            "native",
            {name: (spec.input_per_1k, spec.output_per_1k) for name, spec in self.models.items()},
            replies={name: spec.reply for name, spec in self.models.items()},
        )
