"""``Candidate``: routing's one name for a routable model, ``(provider, model)`` and what is known about it.

Built only from the host contract (``get_supported_models``, ``calculate_cost``) plus, where a
provider is a :class:`~muxer_litellm.host.CatalogProvider`, its :class:`ModelCard`, so native
providers and the LiteLLM proxy are compared on the same terms. A candidate keeps its card and
uses the card's own field names and the one price formula (``pricing.usd_for_tokens``): nothing
is renamed or re-derived between the catalog and routing.
"""

from __future__ import annotations

import difflib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from .._utils import usd_for_tokens
from ..host import CatalogProvider, LLMProvider, ModelCard

__all__ = [
    "CAPABILITIES",
    "Candidate",
    "CandidateCache",
    "Capability",
    "CapabilityNeed",
    "TierSource",
    "build_candidates",
    "infer_tier",
    "missing_reason",
    "safe_cost",
]

logger = logging.getLogger("muxer_litellm.routing")

TierSource = Literal["config", "catalog", "price", "unknown"]
#: What a prompt may need, as :class:`Capability` names it (``select.needed_capabilities`` reads it).
CapabilityNeed = Literal["vision", "tools", "json_schema", "reasoning"]


@dataclass(frozen=True, slots=True)
class Capability:
    """A capability a prompt may need: ``need`` names it (``select.needed_capabilities`` maps it
    to the prompt profile's flag), ``field`` is the :class:`ModelCard` flag that states it."""

    need: CapabilityNeed
    field: str
    label: str


#: Every capability routing checks, in the order exclusion reasons name them. The one list:
#: filters, reasons and displays iterate it instead of spelling the four flags out.
CAPABILITIES: tuple[Capability, ...] = (
    Capability("vision", "supports_vision", "vision"),
    Capability("tools", "supports_function_calling", "function calling"),
    Capability("json_schema", "supports_response_schema", "JSON schema output"),
    Capability("reasoning", "supports_reasoning", "reasoning"),
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One routable model. ``card`` is its catalog card (None for a provider without a catalog);
    the fields below repeat the card's under the card's names, for the decision's hot loop.
    Capabilities and window are None when nobody said (unknown is not "no"); prices are USD
    per 1K tokens, None when unknown (never 0)."""

    provider: str
    model: str
    card: ModelCard | None
    input_cost_per_1k: float | None
    output_cost_per_1k: float | None
    #: The card's ``pricing_source``; ``provider`` when priced by its ``calculate_cost``.
    pricing_source: str
    tier: int | None
    tier_source: TierSource
    #: ``ModelCard`` capability flag (``supports_vision``...) -> True / False / None (unknown).
    capabilities: Mapping[str, bool | None]
    context_window: int | None = None
    max_output_tokens: int | None = None
    task_types: frozenset[str] = frozenset()
    healthy: bool | None = None
    health_error: str | None = None
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.provider}/{self.model}")  # read on every decision

    @property
    def price_known(self) -> bool:
        return self.input_cost_per_1k is not None and self.output_cost_per_1k is not None

    @property
    def catalog_priced(self) -> bool:
        """Priced from its card (linear in tokens), so routing prices it without calling the provider."""
        return self.card is not None

    def supports(self, capability: Capability | str) -> bool | None:
        """True / False / None (not stated) for a :data:`CAPABILITIES` entry or its card field name."""
        name = capability.field if isinstance(capability, Capability) else capability
        return self.capabilities.get(name)

    def estimate(self, provider: LLMProvider | None, input_tokens: int, output_tokens: int) -> float | None:
        """USD for the tokens, None when unknown: priced like its card (:func:`usd_for_tokens`
        over the card's prices) when the candidate has one, else by the provider's ``calculate_cost``."""
        if self.card is not None:
            return usd_for_tokens(input_tokens, output_tokens, self.input_cost_per_1k, self.output_cost_per_1k)
        if provider is None:
            return None
        return safe_cost(provider, input_tokens, output_tokens, self.model)


_NO_CAPABILITIES: Mapping[str, bool | None] = {c.field: None for c in CAPABILITIES}


def safe_cost(provider: LLMProvider, input_tokens: int, output_tokens: int, model: str) -> float | None:
    """``calculate_cost``, with anything that is not a finite, non-negative number (``inf``
    is how our provider says "unknown"; a host provider may raise) read as unknown."""
    try:
        cost = provider.calculate_cost(input_tokens, output_tokens, model)
    except Exception as exc:  # a host provider's bug must not break routing for everyone
        logger.debug("calculate_cost failed for %s: %r", model, exc)
        return None
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost < 0:
        return None
    return float(cost)


def infer_tier(input_per_1k: float | None, output_per_1k: float | None, thresholds: Sequence[float]) -> int | None:
    """Tier from price, the usual proxy for strength: the mean of the input and output
    per-1K prices, below ``thresholds[0]`` is tier 1, below ``thresholds[1]`` tier 2, ..."""
    if input_per_1k is None or output_per_1k is None:
        return None
    mean = (input_per_1k + output_per_1k) / 2
    for tier, limit in enumerate(thresholds, start=1):
        if mean < limit:
            return tier
    return len(thresholds) + 1


def _cards(provider: LLMProvider, has_catalog: bool) -> dict[str, ModelCard]:
    if not has_catalog:
        return {}
    try:
        cards = cast(CatalogProvider, provider).model_cards()  # checked once per provider object
    except Exception as exc:
        logger.debug("model_cards() failed: %r", exc)
        return {}
    if not isinstance(cards, list):
        return {}
    return {c.name: c for c in cards if isinstance(c, ModelCard)}


def _tier(
    key: str,
    card: ModelCard | None,
    inp: float | None,
    out: float | None,
    tiers: Mapping[str, int],
    thr: Sequence[float],
) -> tuple[int | None, TierSource]:
    if key in tiers:
        return tiers[key], "config"
    if card is not None and card.tier is not None:
        return card.tier, "catalog"
    inferred = infer_tier(inp, out, thr)
    return (inferred, "price") if inferred is not None else (None, "unknown")


def _candidate(
    name: str,
    provider: LLMProvider,
    model: str,
    card: ModelCard | None,
    tiers: Mapping[str, int],
    thresholds: Sequence[float],
) -> Candidate:
    if card is None:
        inp, out = safe_cost(provider, 1000, 0, model), safe_cost(provider, 0, 1000, model)
        if inp is None or out is None:
            inp = out = None
        tier, tier_source = _tier(f"{name}/{model}", None, inp, out, tiers, thresholds)
        return Candidate(
            provider=name,
            model=model,
            card=None,
            input_cost_per_1k=inp,
            output_cost_per_1k=out,
            pricing_source="provider" if inp is not None else "unknown",
            tier=tier,
            tier_source=tier_source,
            capabilities=_NO_CAPABILITIES,
        )
    inp, out = card.input_cost_per_1k, card.output_cost_per_1k
    tier, tier_source = _tier(f"{name}/{model}", card, inp, out, tiers, thresholds)
    return Candidate(
        provider=name,
        model=model,
        card=card,
        input_cost_per_1k=inp,
        output_cost_per_1k=out,
        pricing_source=card.pricing_source,
        tier=tier,
        tier_source=tier_source,
        capabilities={c.field: getattr(card, c.field) for c in CAPABILITIES},
        context_window=card.context_window,
        max_output_tokens=card.max_output_tokens,
        task_types=frozenset(card.task_types),
        healthy=card.healthy,
        health_error=card.health_error,
    )


def missing_reason(
    provider_name: str, provider: LLMProvider | None, model: str, candidates: Sequence[Candidate]
) -> str | None:
    """Why ``provider_name/model`` is not a candidate (None when it is one): the provider is not
    registered, offers no chat model right now, serves the model for another mode (embeddings), or
    does not offer it, in which case the reason lists what it does offer."""
    if provider is None:
        return f"provider {provider_name!r} is not registered"
    offered = [c.model for c in candidates if c.provider == provider_name]
    if model in offered:
        return None
    if not offered:
        return f"{provider_name} offers no chat model right now (its catalog is empty or was not loaded)"
    card = _cards(provider, isinstance(provider, CatalogProvider)).get(model)
    if card is not None and card.mode not in (None, "chat"):
        return f"{provider_name}'s {model!r} is not a chat model (mode {card.mode!r} in its catalog)"
    listing = ", ".join(offered[:_OFFER_LIMIT])
    if len(offered) > _OFFER_LIMIT:
        listing += f" and {len(offered) - _OFFER_LIMIT} more"
    close = difflib.get_close_matches(model, offered, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{provider_name} does not offer {model!r} (it offers {listing}){hint}"


_OFFER_LIMIT = 8  # how many offered models a reason lists


@dataclass(slots=True)
class _CacheEntry:
    provider: LLMProvider
    has_catalog: bool
    signature: tuple[object, ...]
    cards: tuple[ModelCard, ...]
    candidates: list[Candidate]
    built_at: float


class CandidateCache:
    """Reuses a provider's candidates while its model list and catalog cards are the same
    objects (a catalog refresh replaces them), so a decision does not rebuild hundreds of
    candidates. Entries older than ``max_age`` seconds are rebuilt anyway, to pick up
    price changes of providers without a catalog. Whether a provider has a catalog is
    checked once per provider object, not on every decision."""

    def __init__(self, max_age: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._entries: dict[str, _CacheEntry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def build(
        self,
        providers: Mapping[str, LLMProvider],
        *,
        tiers: Mapping[str, int] | None = None,
        tier_price_thresholds: Sequence[float] = (0.002, 0.005),
    ) -> list[Candidate]:
        out: list[Candidate] = []
        now = self._clock()
        for name, provider in providers.items():
            try:
                models = provider.get_supported_models()
            except Exception as exc:
                logger.warning("provider %r: get_supported_models() failed: %r", name, exc)
                continue
            cached = self._entries.get(name)
            if cached is not None and cached.provider is provider:
                has_catalog = cached.has_catalog
            else:
                cached = None
                has_catalog = isinstance(provider, CatalogProvider)
            cards = _cards(provider, has_catalog)
            signature = (tuple(models), tuple(sorted((tiers or {}).items())), tuple(tier_price_thresholds))
            card_objects = tuple(cards.values())
            if (
                cached is not None
                and cached.signature == signature
                and len(cached.cards) == len(card_objects)
                # Identity, not equality: a refreshed catalog has new card objects. The entry holds
                # the old ones, so their ids cannot be reused by the new cards.
                and all(a is b for a, b in zip(cached.cards, card_objects, strict=True))
                and now - cached.built_at < self.max_age
            ):
                out.extend(cached.candidates)
                continue
            built = _provider_candidates(name, provider, models, cards, tiers or {}, tier_price_thresholds)
            self._entries[name] = _CacheEntry(provider, has_catalog, signature, card_objects, built, now)
            out.extend(built)
        return out


def _provider_candidates(
    name: str,
    provider: LLMProvider,
    models: Sequence[str],
    cards: Mapping[str, ModelCard],
    tiers: Mapping[str, int],
    thresholds: Sequence[float],
) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    for model in models:
        if not isinstance(model, str) or not model or model in seen:
            continue
        seen.add(model)
        out.append(_candidate(name, provider, model, cards.get(model), tiers, thresholds))
    return out


def build_candidates(
    providers: Mapping[str, LLMProvider],
    *,
    tiers: Mapping[str, int] | None = None,
    tier_price_thresholds: Sequence[float] = (0.002, 0.005),
) -> list[Candidate]:
    """Expand registered providers into candidates, in registration order (the host's own
    preference, used to break ties). A provider whose ``get_supported_models()`` raises
    contributes nothing (and is logged)."""
    return CandidateCache(max_age=0.0).build(providers, tiers=tiers, tier_price_thresholds=tier_price_thresholds)
