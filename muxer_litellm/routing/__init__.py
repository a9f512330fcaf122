"""Host-side routing over registered providers: heuristic, cost-aware, combos, cascades.

Uses only the ``muxer_litellm.host`` contract plus the seams a provider declares
(``CatalogProvider``, ``TokenCounter``, ``HealthReporter``), so a ModelMuxer-style host can
route across native providers and the LiteLLM proxy alike. See :class:`HeuristicRouter` and
the Routing page of the docs (``docs/routing.md``).

Layout: ``router.py`` (the :class:`HeuristicRouter` facade), ``candidates.py``
(:class:`Candidate`, the one name for a routable model), ``select.py`` (filters and ranking),
``plan.py`` (strategies into a :class:`RoutePlan`), ``execute.py`` (calling a plan, falling
back), ``policy.py`` (what each error means), ``config.py`` (``routing.yaml``),
``providers.py`` (catalog refresh, health probes, token counts), ``quality.py`` and
``judge.py`` (checking a cascade step's answer), ``classify/`` (what a prompt needs),
``adaptive.py`` and ``measure.py`` (decisions on live signals, and measuring calls for them), and
``state/`` (cooldowns, breakers, turns and live signals, in one process or shared on Redis).
"""

from __future__ import annotations

from .candidates import CAPABILITIES, Candidate, Capability, build_candidates, infer_tier
from .classify import PromptProfile, SemanticClassifier, classify_prompt, estimate_prompt_tokens
from .config import (
    BUILTIN_STRATEGIES,
    AdaptiveConfig,
    CandidateRef,
    CascadeConfig,
    ComboConfig,
    RoutingConfig,
    RoutingSettings,
    load_routing_config,
)
from .execute import Executor
from .judge import JudgeScorer
from .plan import Planner, RoutePlan
from .policy import ErrorAction, ErrorVerdict, error_action, error_verdict
from .quality import QualityScorer, QualityVerdict, default_quality_check
from .router import HeuristicRouter
from .select import RankedCandidate, RoutingDecision
from .state import (
    TRIAL_WAIT,
    Block,
    LocalStore,
    PrometheusSignalMetrics,
    PrometheusStoreMetrics,
    RedisStore,
    RoutingState,
    RoutingStore,
    SignalBook,
    SignalView,
    StateSnapshot,
    StoreEvent,
    StoreMetricsHook,
    StoreStats,
    TargetStatus,
    Ticket,
)

__all__ = [
    "BUILTIN_STRATEGIES",
    "CAPABILITIES",
    "TRIAL_WAIT",
    "AdaptiveConfig",
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
    "PrometheusSignalMetrics",
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
    "SignalBook",
    "SignalView",
    "StateSnapshot",
    "StoreEvent",
    "StoreMetricsHook",
    "StoreStats",
    "TargetStatus",
    "Ticket",
    "build_candidates",
    "classify_prompt",
    "default_quality_check",
    "error_action",
    "estimate_prompt_tokens",
    "infer_tier",
    "error_verdict",
    "load_routing_config",
]
