"""Reading the proxy's ``/model/info`` into model cards, plus the operator's custom models.

Prices the proxy cannot know stay *unknown* (None), never 0: a cost-aware router that read
an unpriced model as free would send all traffic to it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .._utils import PER_1K
from ..host import CAPABILITY_FIELDS, CustomModel, ModelCard

__all__ = ["ModelCatalog", "cards_from_model_info"]


def _num(value: Any) -> float | None:
    if isinstance(value, str) and len(value) <= 32:
        # Older proxies (1.74) pass model_info values through as YAML read them: `3e-06` is a string.
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)  # an int too large for a float is no usable number
    except OverflowError:
        return None
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return number


def _int(value: Any) -> int | None:
    number = _num(value)
    return int(number) if number is not None and number > 0 else None


def _per_1k(per_token: float) -> float:
    """Per-token price as per-1K, without float noise (1e-7 * 1000 != 1e-4 in binary)."""
    return float(f"{per_token * PER_1K:.12g}")


def _prices(info: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """Per-1K prices from a model_info dict; (None, None) when the proxy does not know them.

    LiteLLM reports a model missing from its cost map with null or 0 prices, so 0/0 counts
    as known only when the operator set it (``pricing_overrides``). A price that is missing
    or not a valid number makes the whole price unknown: half a price would bill the other
    half as free. An embedding's missing output price is 0 (it produces no output tokens).
    """
    inp, out = _num(info.get("input_cost_per_token")), _num(info.get("output_cost_per_token"))
    if out is None and info.get("mode") == "embedding" and info.get("output_cost_per_token") is None:
        out = 0.0
    if inp is None or out is None:
        return None, None
    overrides = info.get("pricing_overrides")
    explicit = {o for o in overrides if isinstance(o, str)} if isinstance(overrides, list) else set()
    if inp > 0 or out > 0 or "input_cost_per_token" in explicit:
        return _per_1k(inp), _per_1k(out)
    return None, None


def _task_types(info: Mapping[str, Any], card: ModelCard) -> tuple[str, ...]:
    declared = info.get("task_types")
    if isinstance(declared, list) and all(isinstance(t, str) for t in declared):
        return tuple(declared)
    mode = card.mode or "chat"
    if mode != "chat":
        return (mode,)
    kinds = ["general"]
    if card.supports_function_calling:
        kinds.append("tools")
    if card.supports_vision:
        kinds.append("vision")
    if card.supports_reasoning:
        kinds.append("reasoning")
    return tuple(kinds)


def _flag(value: Any) -> bool | None:
    """LiteLLM sends null for capabilities it does not know; unknown is not "no"."""
    return value if isinstance(value, bool) else None


def _all_flags(values: Iterable[bool | None]) -> bool | None:
    """A load-balanced name has a capability only if every deployment has it."""
    seen = list(values)
    if any(v is False for v in seen):
        return False
    return True if all(v is True for v in seen) else None


def _tier(value: Any) -> int | None:
    """An operator's ``model_info.routing_tier`` (1-10); anything else is ignored, not guessed.

    Not ``tier``: LiteLLM 1.106 reserves that key for "free"/"paid" and silently drops a model
    whose ``tier`` is a number, so the proxy config must use ``routing_tier``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        return None
    return value


def _rate_limits(params: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, int] | None:
    limits: dict[str, int] = {}
    for key, name in (("rpm", "requests_per_minute"), ("tpm", "tokens_per_minute")):
        value = _int(params.get(key)) or _int(info.get(key))
        if value is not None:
            limits[name] = value
    return limits or None


def _deployment_card(entry: Mapping[str, Any]) -> ModelCard | None:
    name = entry.get("model_name")
    if not isinstance(name, str) or not name or "*" in name:
        return None  # wildcard routes ("openai/*") are not a model a router can pick
    raw_params, raw_info = entry.get("litellm_params"), entry.get("model_info")
    params: Mapping[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    info: Mapping[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    in_price, out_price = _prices(info)
    model_id = info.get("id")
    card = ModelCard(
        name=name,
        upstream_model=params.get("model") if isinstance(params.get("model"), str) else None,
        model_id=model_id if isinstance(model_id, str) else None,
        deployment_ids=(model_id,) if isinstance(model_id, str) else (),
        provider=info.get("litellm_provider") if isinstance(info.get("litellm_provider"), str) else None,
        mode=info.get("mode") if isinstance(info.get("mode"), str) else None,
        input_cost_per_1k=in_price,
        output_cost_per_1k=out_price,
        pricing_source="proxy" if in_price is not None else "unknown",
        context_window=_int(info.get("max_input_tokens")) or _int(info.get("max_tokens")),
        max_output_tokens=_int(info.get("max_output_tokens")),
        tier=_tier(info.get("routing_tier")),
        rate_limits=_rate_limits(params, info),
        **{field: _flag(info.get(field)) for field in CAPABILITY_FIELDS},
    )
    return card.model_copy(update={"task_types": _task_types(info, card)})


def _min_known(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _merge(name: str, deployments: list[ModelCard]) -> ModelCard:
    """One card for a load-balanced name: the dearest price (any deployment may serve the
    call, so budgets must hold for all), the smallest limits, capabilities all share."""
    if len(deployments) == 1:
        return deployments[0]
    priced = all(d.price_known for d in deployments)
    ids = tuple(i for d in deployments for i in d.deployment_ids)
    first = deployments[0]
    return first.model_copy(
        update={
            "model_id": None,
            "deployment_ids": ids,
            "upstream_model": first.upstream_model
            if all(d.upstream_model == first.upstream_model for d in deployments)
            else None,
            "input_cost_per_1k": max(d.input_cost_per_1k or 0.0 for d in deployments) if priced else None,
            "output_cost_per_1k": max(d.output_cost_per_1k or 0.0 for d in deployments) if priced else None,
            "pricing_source": "proxy" if priced else "unknown",
            "context_window": _min_known(d.context_window for d in deployments),
            "max_output_tokens": _min_known(d.max_output_tokens for d in deployments),
            **{field: _all_flags(getattr(d, field) for d in deployments) for field in CAPABILITY_FIELDS},
            "tier": None if any(d.tier is None for d in deployments) else min(d.tier or 0 for d in deployments),
            "task_types": tuple(t for t in first.task_types if all(t in d.task_types for d in deployments)),
            "rate_limits": None,
        }
    )


def cards_from_model_info(payload: Any) -> tuple[dict[str, ModelCard], dict[str, ModelCard]]:
    """Parse a ``/model/info`` reply into (cards by name, deployment cards by model id).

    Raises ValueError when the payload is not the documented ``{"data": [...]}`` shape.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError("/model/info did not return an object with a 'data' list")
    grouped: dict[str, list[ModelCard]] = {}
    by_id: dict[str, ModelCard] = {}
    for entry in payload["data"]:
        if not isinstance(entry, dict):
            continue
        card = _deployment_card(entry)
        if card is None:
            continue
        grouped.setdefault(card.name, []).append(card)
        if card.model_id is not None:
            by_id[card.model_id] = card
    return {name: _merge(name, cards) for name, cards in grouped.items()}, by_id


def _apply_custom(name: str, base: ModelCard | None, custom: CustomModel) -> ModelCard:
    meta = custom.metadata
    update: dict[str, Any] = {
        "input_cost_per_1k": custom.pricing.input,
        "output_cost_per_1k": custom.pricing.output,
        "pricing_source": "custom",
    }
    for field in (
        "provider",
        "upstream_model",
        "mode",
        "context_window",
        "max_output_tokens",
        "tier",
        *CAPABILITY_FIELDS,
    ):
        value = getattr(meta, field)
        if value is not None:
            update[field] = value
    if meta.task_types is not None:
        update["task_types"] = tuple(meta.task_types)
    if custom.rate_limits is not None:
        update["rate_limits"] = dict(custom.rate_limits)
    card = (base or ModelCard(name=name)).model_copy(update=update)
    if meta.task_types is None and base is None:
        card = card.model_copy(update={"task_types": _task_types({}, card)})
    return card


class ModelCatalog:
    """Cards by name, rebuilt from the last ``/model/info`` snapshot plus custom models.

    Plain synchronous state: fetching (and sharing one fetch between callers) is the
    provider's job, so routing can read the catalog without awaiting anything.
    """

    def __init__(self, custom: Mapping[str, CustomModel] | None = None) -> None:
        self._custom: dict[str, CustomModel] = dict(custom or {})
        self._proxy: dict[str, ModelCard] = {}
        self._proxy_by_id: dict[str, ModelCard] = {}
        self._health: dict[str, tuple[bool, str | None]] = {}
        self._cards: dict[str, ModelCard] = {}
        self.fetched_at: float | None = None
        self._rebuild()

    def _rebuild(self) -> None:
        cards = dict(self._proxy)
        for name, custom in self._custom.items():
            cards[name] = _apply_custom(name, cards.get(name), custom)
        for name, (healthy, error) in self._health.items():
            if name in cards:
                cards[name] = cards[name].model_copy(update={"healthy": healthy, "health_error": error})
        self._cards = dict(sorted(cards.items()))

    def load(self, payload: Any, *, now: float | None = None) -> None:
        """Replace the proxy snapshot; on a bad payload nothing changes."""
        by_name, by_id = cards_from_model_info(payload)
        self._proxy, self._proxy_by_id = by_name, by_id
        self._health = {k: v for k, v in self._health.items() if k in by_name or k in self._custom}
        self.fetched_at = time.monotonic() if now is None else now
        self._rebuild()

    def add_custom(self, name: str, custom: CustomModel) -> ModelCard:
        self._custom[name] = custom
        self._rebuild()
        return self._cards[name]

    def set_health(self, results: Mapping[str, tuple[bool, str | None]]) -> None:
        self._health.update(results)
        self._rebuild()

    def is_fresh(self, ttl: float, *, now: float | None = None) -> bool:
        if self.fetched_at is None:
            return False
        return ((time.monotonic() if now is None else now) - self.fetched_at) < ttl

    @property
    def loaded(self) -> bool:
        return self.fetched_at is not None

    def get(self, name: str) -> ModelCard | None:
        return self._cards.get(name)

    def for_call(self, name: str, model_id: str | None) -> ModelCard | None:
        """The card to price one call with: the exact deployment when the proxy named it,
        unless the operator priced the name themselves."""
        if name in self._custom:
            return self._cards.get(name)
        if model_id is not None and model_id in self._proxy_by_id:
            return self._proxy_by_id[model_id]
        return self._cards.get(name)

    def name_for_deployment(self, model_id: str) -> str | None:
        card = self._proxy_by_id.get(model_id)
        return card.name if card is not None else None

    def cards(self) -> list[ModelCard]:
        return list(self._cards.values())

    def names(self) -> list[str]:
        return list(self._cards)
