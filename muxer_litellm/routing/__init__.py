"""Host-side routing over registered providers: heuristic, cost-aware, combos, cascades.

Uses only the ``muxer_litellm.host`` contract (plus a provider's catalog where it has
one), so a ModelMuxer-style host can route across native providers and the LiteLLM proxy
alike. See :class:`HeuristicRouter` and the README's "Routing" section.
"""

from __future__ import annotations

from .candidates import Candidate, build_candidates, infer_tier
from .classify import PromptProfile, classify_prompt, estimate_prompt_tokens
from .config import (
    BUILTIN_STRATEGIES,
    CascadeConfig,
    ComboConfig,
    RoutingConfig,
    RoutingSettings,
    Target,
    load_routing_config,
)
from .judge import JudgeScorer
from .quality import QualityScorer, QualityVerdict, default_quality_check
from .router import HeuristicRouter, RoutePlan, error_action
from .select import Alternative, RoutingDecision
from .semantic import SemanticClassifier

__all__ = [
    "BUILTIN_STRATEGIES",
    "Alternative",
    "Candidate",
    "CascadeConfig",
    "ComboConfig",
    "HeuristicRouter",
    "JudgeScorer",
    "PromptProfile",
    "QualityScorer",
    "QualityVerdict",
    "RoutePlan",
    "RoutingConfig",
    "RoutingDecision",
    "RoutingSettings",
    "SemanticClassifier",
    "Target",
    "build_candidates",
    "classify_prompt",
    "default_quality_check",
    "error_action",
    "estimate_prompt_tokens",
    "infer_tier",
    "load_routing_config",
]
