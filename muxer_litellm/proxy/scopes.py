"""Whom a proxy error concerns: the one table of the proxy's wording (litellm 1.106-1.108).

The proxy says who was limited only in its message text and a few headers; this is wording,
not a contract, so every rule is here, in order, and tests/unit/proxy/test_scopes.py checks
each against the replies the proxy sends. The first rule whose pattern matches wins.

=====================  =======================================================  ==============
kind                   what the proxy sends                                     scope
=====================  =======================================================  ==============
rate limit (v3)        "Rate limit exceeded for {descriptor}: ..." and          tenant, or
                       ``rate_limit_type``/``reset_at`` headers                 tenant_model
rate limit (older)     "LiteLLM Rate Limit Handler for rate limit type =        tenant, or
                       {key|user|team|customer|model_per_key}"                  tenant_model
upstream 429           "litellm.RateLimitError: ..." (``llm_provider-*``        deployment
                       headers)
deployment rpm         "Deployment over defined rpm limit" /                    deployment
                       "No deployments available"
budget                 "Budget has been exceeded! {Entity}=..." /               tenant (proxy
                       "ExceededBudget: {Entity}..." (422 budget_exceeded)       with no entity)
=====================  =======================================================  ==============

Descriptors of a per-model limit (``model_per_key``, ``model_per_team``...) are ``tenant_model``;
any other proxy-side limiter descriptor (key, team, user, end user, tag, project...) covers
every model, so ``tenant``. A v3 limiter reply whose text matches nothing but that carries its
``rate_limit_type`` and ``reset_at`` headers is a tenant limit of unknown kind (``tenant``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..errors import ErrorScope

__all__ = ["RULES", "Scoped", "ScopeRule", "scope_of"]

RuleKind = Literal["rate_limit", "budget"]


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """``pattern`` (searched in the message) with an optional ``entity`` group; ``scope`` is
    the scope when there is no entity, else the entity decides (:func:`_entity_scope`)."""

    name: str
    kind: RuleKind
    pattern: re.Pattern[str]
    scope: ErrorScope


@dataclass(frozen=True, slots=True)
class Scoped:
    scope: ErrorScope
    entity: str | None
    rule: str


_I = re.IGNORECASE
RULES: tuple[ScopeRule, ...] = (
    ScopeRule("v3 limiter", "rate_limit", re.compile(r"Rate limit exceeded for (?P<entity>[A-Za-z_]+):", _I), "tenant"),
    ScopeRule(
        "older limiter",
        "rate_limit",
        re.compile(r"LiteLLM Rate Limit Handler for rate limit type = (?P<entity>[A-Za-z_]+)", _I),
        "tenant",
    ),
    ScopeRule(
        "deployment rpm",
        "rate_limit",
        re.compile(r"Deployment over defined (?:rpm|tpm) limit|No deployments available", _I),
        "deployment",
    ),
    ScopeRule("upstream 429", "rate_limit", re.compile(r"litellm\.RateLimitError", _I), "deployment"),
    ScopeRule(
        "budget",
        "budget",
        re.compile(
            r"(?:Budget has been exceeded!?|ExceededBudget:)\s*"
            r"(?:User=\S+ in )?(?P<entity>End User|TeamMember|Team|User|Key|Project|Organization|Tag|"
            r"Model access group)\b",
            _I,
        ),
        "tenant",
    ),
    ScopeRule("proxy budget", "budget", re.compile(r"Budget has been exceeded|ExceededBudget", _I), "proxy"),
)

#: Limits of one tenant on one model (a per-model limit of its key, team, organization or project).
_PER_MODEL = re.compile(r"^model_per_", _I)
#: Budgets that are not one tenant's (a group of models shared by everyone).
_SHARED_BUDGETS = frozenset(("model access group",))


def _entity_scope(rule: ScopeRule, entity: str | None) -> ErrorScope:
    if entity is None:
        return rule.scope
    if _PER_MODEL.match(entity):
        return "tenant_model"
    if rule.kind == "budget" and entity.lower() in _SHARED_BUDGETS:
        return "proxy"
    return rule.scope


def scope_of(kind: RuleKind, message: str, headers: Mapping[str, str] | None = None) -> Scoped | None:
    """The scope of a rate-limit or budget error from its message (and headers); None when
    nothing says (then routing treats it as before: a 429 cools the target)."""
    for rule in RULES:
        if rule.kind != kind:
            continue
        found = rule.pattern.search(message)
        if found is None:
            continue
        entity = found.groupdict().get("entity")
        return Scoped(_entity_scope(rule, entity), entity.lower() if entity else None, rule.name)
    if kind == "rate_limit" and headers:
        lowered = {k.lower() for k in headers}
        if (
            "rate_limit_type" in lowered
            and "reset_at" in lowered
            and not any(k.startswith("llm_provider-") for k in lowered)
        ):
            return Scoped("tenant", None, "v3 limiter headers")
    return None
