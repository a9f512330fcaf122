"""ModelMuxer's price table and routing rules, written from the proxy's catalog.

ModelMuxer's ``HeuristicRouter`` never asks a provider what a call costs: it prices every
candidate from its own price table (``PRICE_TABLE_PATH``, rows ``"provider:model"`` ->
``input_per_1k_usd`` / ``output_per_1k_usd``) and refuses an unlisted model as over budget.
Its preferences per intent come from routing-rule JSON (``ROUTING_RULES_PATH``). So a proxy
model ModelMuxer should pick needs a row in one and a place in the other; these functions
write both from what the catalog knows. A model whose price is unknown gets no row (a
made-up price would be billed as if true) and is reported instead.

Needs no ModelMuxer: the CLI runs this on any machine that reaches the proxy.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muxer_litellm import LiteLLMProvider, ModelCard, ProviderError
from muxer_litellm.routing import RoutingConfig, infer_tier

__all__ = [
    "DEFAULT_NAME",
    "INTENT_NEEDS",
    "TASK_TYPE_INTENTS",
    "IntentNeed",
    "SyncResult",
    "price_table",
    "routing_rules",
    "unpriced_models",
    "write_price_table",
    "write_routing_rules",
]

#: The key ModelMuxer's registry, price table and rules know the proxy by.
DEFAULT_NAME = "litellm"


@dataclass(frozen=True)
class IntentNeed:
    """What a model must offer to serve an intent: a minimum tier (looked up by
    ``tier_class`` in ``RoutingConfig.min_tier``) and a capability that must not be False."""

    tier_class: str | None = None
    capability: str | None = None


#: Every intent ModelMuxer's classifier emits (its ``app.core.intent.INTENT_LABELS``; the
#: ModelMuxer tests check this list against it) and what each needs. ``safety_risk`` gets
#: ordinary chat models: blocking is ModelMuxer's policy layer's job, not routing's.
INTENT_NEEDS: Mapping[str, IntentNeed] = {
    "chat_lite": IntentNeed(),
    "code_gen": IntentNeed(tier_class="code"),
    "deep_reason": IntentNeed(tier_class="reasoning"),
    "json_extract": IntentNeed(capability="supports_response_schema"),
    "translation": IntentNeed(),
    "vision": IntentNeed(capability="supports_vision"),
    "safety_risk": IntentNeed(),
}

#: ModelMuxer's prompt task types (``HeuristicRouter.analyze_prompt``) and the intent whose
#: models serve them: with its intent classifier off every label is "unknown", and these
#: rules are what still keeps code off the cheapest models.
TASK_TYPE_INTENTS: Mapping[str, str] = {
    "code": "code_gen",
    "complex": "deep_reason",
    "simple": "chat_lite",
    "general": "chat_lite",
}

_UNKNOWN_PRICE = (
    "price unknown: give it input_cost_per_token/output_cost_per_token in the proxy's model_info "
    "(or custom_models), or price it in ModelMuxer's table yourself"
)


@dataclass(frozen=True)
class SyncResult:
    """What a ``write_*`` call wrote and what the operator should know about it."""

    path: Path
    data: dict[str, Any]
    #: Our price-table keys or rule names now in the file.
    written: list[str]
    #: Proxy models that got no row (or no place in any rule), with the reason.
    left_out: dict[str, str] = field(default_factory=dict)
    #: The operator's own rows for our provider kept from ``merge`` (models we cannot price).
    kept: list[str] = field(default_factory=list)
    #: Our rows or rules from ``merge`` dropped as stale (the model is gone, or regenerated).
    removed: list[str] = field(default_factory=list)
    #: Anything else worth a look (an intent with no adequate model, a shadowing rule, ...).
    notes: list[str] = field(default_factory=list)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or any(ch in name for ch in ":/ "):
        raise ValueError(f"name must be a ModelMuxer provider key without ':', '/' or spaces, got {name!r}")
    return name


def _split(provider: LiteLLMProvider) -> tuple[list[ModelCard], dict[str, str]]:
    """Priced chat cards, and every other card with why it is left out."""
    cards = provider.model_cards()
    if not cards:
        raise ProviderError(
            "the LiteLLM catalog is empty: await provider.refresh_models() first (or the proxy serves no models)",
            provider=DEFAULT_NAME,
        )
    chat = set(provider.get_supported_models())
    priced: list[ModelCard] = []
    left_out: dict[str, str] = {}
    for card in sorted(cards, key=lambda c: c.name):
        if card.name not in chat:
            left_out[card.name] = f"not a chat model (mode {card.mode}): ModelMuxer routes chat only"
        elif not card.price_known:
            left_out[card.name] = _UNKNOWN_PRICE
        else:
            priced.append(card)
    return priced, left_out


def _row(card: ModelCard) -> dict[str, float]:
    inp, out = card.input_cost_per_1k, card.output_cost_per_1k
    if inp is None or out is None:  # _split keeps priced cards only
        raise ValueError(f"{card.name} has no known price")
    return {"input_per_1k_usd": inp, "output_per_1k_usd": out}


def price_table(provider: LiteLLMProvider, *, name: str = DEFAULT_NAME) -> dict[str, dict[str, float]]:
    """ModelMuxer price-table rows (``"litellm:<model>"``) for every chat model whose price
    the catalog knows, USD per 1K tokens. Models without one get no row: see
    :func:`unpriced_models` (``write_price_table`` reports them too)."""
    prefix = _check_name(name) + ":"
    priced, _ = _split(provider)
    return {prefix + card.name: _row(card) for card in priced}


def unpriced_models(provider: LiteLLMProvider) -> dict[str, str]:
    """The catalog's models that get no price row, each with the reason."""
    return _split(provider)[1]


def _read_json(source: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any], what: str) -> Any:
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, Sequence) and not isinstance(source, str):
        return list(source)
    path = Path(source)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{what} to merge, {path}, does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{what} to merge, {path}, is not readable JSON: {exc}") from None


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_json(path: Path, data: Any) -> None:
    """Replace the file in one step: ModelMuxer rereads it on every routed request."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            # mkstemp makes the file owner-only; ModelMuxer may run as another user. Keep the
            # replaced file's mode, else what a plain open() would give (0o666 less the umask).
            os.fchmod(handle.fileno(), _mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_price_table(
    provider: LiteLLMProvider,
    path: str | os.PathLike[str],
    merge: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    name: str = DEFAULT_NAME,
) -> SyncResult:
    """Write :func:`price_table` as ModelMuxer's price-table JSON at ``path``.

    With ``merge`` (a path, possibly ``path`` itself, or a loaded dict) every row of other
    providers is kept; our rows are regenerated, except an operator's row for a model the
    catalog cannot price (kept, listed in ``kept``); rows for models the proxy no longer
    serves are dropped (``removed``). Raises ProviderError when no chat model has a price.
    """
    prefix = _check_name(name) + ":"
    priced, left_out = _split(provider)
    if not priced:
        raise ProviderError(
            "no chat model of the proxy has a known price, so ModelMuxer could never pick one: "
            + "; ".join(f"{model}: {why}" for model, why in left_out.items()),
            provider=DEFAULT_NAME,
        )
    rows = {prefix + card.name: _row(card) for card in priced}
    existing = {} if merge is None else _read_json(merge, "price table")
    if not isinstance(existing, dict):
        raise ValueError(f"the price table to merge must be a JSON object, got {type(existing).__name__}")
    served = {card.name for card in provider.model_cards()}
    others: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    removed: list[str] = []
    for key, value in existing.items():
        if not key.startswith(prefix):
            others[key] = value
        elif key in rows:
            continue
        elif key[len(prefix) :] in served:
            kept[key] = value
        else:
            removed.append(key)
    data = {**others, **kept, **rows}
    target = Path(path)
    _write_json(target, data)
    return SyncResult(
        target,
        data,
        written=list(rows),
        left_out={m: why for m, why in left_out.items() if prefix + m not in kept},
        kept=list(kept),
        removed=removed,
    )


def _tier(card: ModelCard, name: str, config: RoutingConfig) -> int:
    """As routing sees it: the config's tier, else the catalog's, else inferred from price."""
    configured = config.tiers.get(f"{name}/{card.name}")
    if configured is not None:
        return configured
    if card.tier is not None:
        return card.tier
    return infer_tier(card.input_cost_per_1k, card.output_cost_per_1k, config.tier_price_thresholds) or 1


def _pool(
    intent: str, need: IntentNeed, cards: list[ModelCard], name: str, config: RoutingConfig
) -> tuple[list[ModelCard], str | None]:
    """The models adequate for an intent, cheapest first, and a note when none quite was."""
    pool = cards
    note = None
    if need.capability is not None:
        capability = need.capability
        known = [c for c in pool if getattr(c, capability) is True]
        # Unknown is "maybe", used only when no model is known to have it; False never is.
        pool = known or [c for c in pool if getattr(c, capability) is None]
        if not pool:
            return [], f"{intent}: every priced model lacks {capability}; no rule (ModelMuxer's task-type rules apply)"
    if need.tier_class is not None:
        floor = config.min_tier.get(need.tier_class, 1)
        strong = [c for c in pool if _tier(c, name, config) >= floor]
        if not strong:
            top = max(_tier(c, name, config) for c in pool)
            strong = [c for c in pool if _tier(c, name, config) == top]
            note = f"{intent}: no priced model reaches tier {floor}; using the strongest (tier {top})"
        pool = strong

    def price(card: ModelCard) -> tuple[float, str]:
        return (card.input_cost_per_1k or 0.0) + (card.output_cost_per_1k or 0.0), card.name

    return sorted(pool, key=price), note


def _generate(
    provider: LiteLLMProvider, name: str, config: RoutingConfig | None
) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    prefix = _check_name(name) + ":"
    cfg = config or RoutingConfig()
    priced, left_out = _split(provider)
    if not priced:
        raise ProviderError(
            "no chat model of the proxy has a known price: ModelMuxer skips unpriced models, so no rule "
            "could send it anything",
            provider=DEFAULT_NAME,
        )
    pools: dict[str, list[ModelCard]] = {}
    notes: list[str] = []
    for intent, need in INTENT_NEEDS.items():
        pool, note = _pool(intent, need, priced, name, cfg)
        pools[intent] = pool
        if note:
            notes.append(note)
    rules: list[dict[str, Any]] = [
        {"name": f"{prefix}{intent}", "intent": intent, "prefer": [prefix + c.name for c in pool]}
        for intent, pool in pools.items()
        if pool
    ]
    rules += [
        {"name": f"{prefix}task:{task}", "task_type": task, "prefer": [prefix + c.name for c in pools[intent]]}
        for task, intent in TASK_TYPE_INTENTS.items()
        if pools[intent]
    ]
    used = {c.name for pool in pools.values() for c in pool}
    for card in priced:
        if card.name not in used:
            left_out[card.name] = "priced, but adequate for no intent"
    return rules, left_out, notes


def routing_rules(
    provider: LiteLLMProvider, *, name: str = DEFAULT_NAME, config: RoutingConfig | None = None
) -> dict[str, Any]:
    """ModelMuxer routing rules (``{"rules": [...]}``) sending each intent it knows, and each
    prompt task type, to the proxy models adequate for it, cheapest first.

    Adequate means: priced (ModelMuxer skips unpriced models), at least the tier ``config``
    asks for the intent (``min_tier``: code and reasoning need 2 by default; tiers come from
    ``config.tiers``, the catalog, or the price), and not known to lack the capability the
    intent needs (response schema for ``json_extract``, vision for ``vision``). ModelMuxer
    takes the cheapest preference within budget, so the dearer adequate models are the
    fallbacks when a budget excludes the cheaper ones; weaker models are never listed for
    an intent that needs more, since ModelMuxer would pick them for being cheaper.
    """
    return {"rules": _generate(provider, name, config)[0]}


def _catch_all(rule: Any) -> bool:
    return isinstance(rule, dict) and not any(
        rule.get(k) is not None for k in ("intent", "task_type", "task", "model_prefix", "max_cost")
    )


def write_routing_rules(
    provider: LiteLLMProvider,
    path: str | os.PathLike[str],
    merge: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    name: str = DEFAULT_NAME,
    config: RoutingConfig | None = None,
) -> SyncResult:
    """Write :func:`routing_rules` as ModelMuxer's routing-rule JSON at ``path``.

    With ``merge`` (a path or loaded JSON), the operator's own rules come first, in their
    order, so they win (ModelMuxer applies the first rule that matches); the previously
    generated ones (named ``"litellm:<intent>"`` and ``"litellm:task:<type>"``) are replaced by the
    new ones after them.
    """
    prefix = _check_name(name) + ":"
    rules, left_out, notes = _generate(provider, name, config)
    existing: Any = {} if merge is None else _read_json(merge, "routing rules")
    if isinstance(existing, list):
        existing = {"rules": existing}
    if not isinstance(existing, dict):
        raise ValueError(f"the routing rules to merge must be a JSON object or list, got {type(existing).__name__}")
    old = existing.get("rules") or existing.get("routing_rules") or []
    if not isinstance(old, list):
        raise ValueError("the routing rules to merge have a 'rules' entry that is not a list")
    # Only the names this function generates are ours to replace; an operator's own rule stays,
    # whatever its name (say "litellm:premium").
    generated = {f"{prefix}{intent}" for intent in INTENT_NEEDS} | {f"{prefix}task:{t}" for t in TASK_TYPE_INTENTS}
    ours = [r for r in old if isinstance(r, dict) and r.get("name") in generated]
    theirs = [r for r in old if r not in ours]
    priced_keys = set(price_table(provider, name=name))
    for rule in theirs:
        if not isinstance(rule, dict):
            continue
        if _catch_all(rule):
            notes.append(
                f"your rule {rule.get('name')!r} matches every request and comes first: the generated rules never apply"
            )
        prefer = rule.get("prefer")
        for entry in prefer if isinstance(prefer, list) else []:
            key = str(entry) if ":" in str(entry) else str(entry).replace("/", ":", 1)
            if key.startswith(prefix) and key not in priced_keys:
                notes.append(f"your rule {rule.get('name')!r} prefers {entry}, which has no generated price row")
    data = {k: v for k, v in existing.items() if k not in ("rules", "routing_rules")}
    data["rules"] = theirs + rules
    target = Path(path)
    _write_json(target, data)
    return SyncResult(
        target,
        data,
        written=[r["name"] for r in rules],
        left_out=left_out,
        removed=[str(r.get("name")) for r in ours],
        notes=notes,
    )
