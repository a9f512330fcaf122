"""Host-side routing over registered providers: heuristic, cost-aware, combos, cascades.

Uses only the ``muxer_litellm.host`` contract plus the seams a provider declares
(``CatalogProvider``, ``TokenCounter``, ``HealthReporter``), so a ModelMuxer-style host can
route across native providers and the LiteLLM proxy alike. See :class:`HeuristicRouter` and
the README's "Routing" section.

Layout: ``candidates.py`` (:class:`Candidate`, the one name for a routable model),
``select.py`` (filters and ranking), ``plan.py`` (strategies into a :class:`RoutePlan`),
``execute.py`` (calling a plan, falling back), ``policy.py`` (what each error means),
``state.py`` (cooldowns, breakers, trial gates, health, turns), ``store.py`` (the store
interface routing uses, over that state by default), ``store_redis.py`` (the same state in
Redis, shared by gateway replicas; ``store_redis_lua.py`` its scripts, ``store_metrics.py`` its
Prometheus series), ``providers.py`` (catalog
refresh, health probes, token counts), ``classify.py``, ``quality.py``, ``config.py``, and
``router.py`` (the :class:`HeuristicRouter` facade).
"""

from __future__ import annotations

from .candidates import CAPABILITIES, Candidate, Capability, build_candidates, infer_tier
from .classify import PromptProfile, SemanticClassifier, classify_prompt, estimate_prompt_tokens
from .config import (
    BUILTIN_STRATEGIES,
    CandidateRef,
    CascadeConfig,
    ComboConfig,
    RoutingConfig,
    RoutingSettings,
    Target,
    load_routing_config,
)
from .execute import Executor
from .judge import JudgeScorer
from .plan import Planner, RoutePlan
from .policy import ErrorAction, ErrorVerdict, error_action, judge
from .quality import QualityScorer, QualityVerdict, default_quality_check
from .router import HeuristicRouter
from .select import Alternative, RankedCandidate, RoutingDecision
from .state import TRIAL_WAIT, Block, RoutingState, StateSnapshot, TargetState, TargetStatus, Ticket
from .store import LocalStore, RoutingStore
from .store_metrics import PrometheusStoreMetrics
from .store_redis import RedisStore, StoreEvent, StoreMetricsHook, StoreStats

__all__ = [
    "BUILTIN_STRATEGIES",
    "CAPABILITIES",
    "TRIAL_WAIT",
    "Alternative",
    "Block",
    "Candidate",
    "CandidateRef",
    "Capability",
    "CascadeConfig",
    "ComboConfig",
    "ErrorAction",
    "ErrorVerdict",
    "Executor",
    "HeuristicRouter",
    "JudgeScorer",
    "LocalStore",
    "Planner",
    "PrometheusStoreMetrics",
    "PromptProfile",
    "QualityScorer",
    "QualityVerdict",
    "RankedCandidate",
    "RedisStore",
    "RoutePlan",
    "RoutingConfig",
    "RoutingDecision",
    "RoutingSettings",
    "RoutingState",
    "RoutingStore",
    "SemanticClassifier",
    "StateSnapshot",
    "StoreEvent",
    "StoreMetricsHook",
    "StoreStats",
    "Target",
    "TargetState",
    "TargetStatus",
    "Ticket",
    "build_candidates",
    "classify_prompt",
    "default_quality_check",
    "error_action",
    "estimate_prompt_tokens",
    "infer_tier",
    "judge",
    "load_routing_config",
]
