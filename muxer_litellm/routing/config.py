"""Routing configuration: strategies, combos and cascades, from YAML and the environment.

Validated with pydantic; every error is a :class:`RoutingConfigError` naming the file and
the dotted path of the bad field, so an operator can fix a typo without reading code.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from .._utils import validation_problems
from ..errors import RoutingConfigError
from .classify import PROMPT_CLASSES

__all__ = [
    "BUILTIN_STRATEGIES",
    "AdaptiveConfig",
    "USD",
    "CandidateRef",
    "CascadeConfig",
    "ComboConfig",
    "ComboStrategy",
    "Fraction",
    "PositiveInt",
    "RoutingConfig",
    "RoutingSettings",
    "Seconds",
    "StateBackend",
    "check_budget",
    "check_fraction",
    "load_routing_config",
]

#: Strategies every router knows; combos and cascades add their own names.
BUILTIN_STRATEGIES = ("heuristic", "cost_optimized", "cascade", "hybrid", "fastest")
ComboStrategy = Literal["priority", "weighted", "round_robin", "cost"]
#: Where routing state lives: this process (``local``) or Redis, shared by gateway replicas.
StateBackend = Literal["local", "redis"]
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

# Numbers are strict: a YAML ``true`` is not 1 and ``"5"`` is not 5; infinities and NaN are refused.
#: A whole number >= 1 (counts, tiers, token amounts).
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
#: A finite duration > 0, in seconds.
Seconds = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
#: A finite number within [0, 1] (thresholds, shares).
Fraction = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]
#: A finite amount of US dollars >= 0.
USD = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
_NonNegativeSeconds = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
_Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]

_BUDGET: TypeAdapter[float | None] = TypeAdapter(USD | None)
_FRACTION: TypeAdapter[float | None] = TypeAdapter(Fraction | None)


def check_budget(max_cost: object) -> float | None:
    """``max_cost`` as a USD amount (None: no budget); ValueError naming it otherwise."""
    try:
        return _BUDGET.validate_python(max_cost)
    except ValidationError:
        raise ValueError(f"max_cost must be a finite number of USD >= 0, got {max_cost!r}") from None


def check_fraction(name: str, value: object) -> float | None:
    """``value`` as a number within [0, 1] (None passes); RoutingConfigError naming ``name`` otherwise."""
    try:
        return _FRACTION.validate_python(value)
    except ValidationError:
        raise RoutingConfigError(f"{name} must be within [0, 1], got {value!r}") from None


class CandidateRef(BaseModel):
    """One ``provider/model`` a combo or cascade names (the :class:`Candidate` it refers to), with
    its combo weight. Written in YAML as the string ``"litellm/cheap-chat"`` (split at the first
    ``/``, so ``litellm/openai/gpt-4o`` works) or as a mapping ``{target: litellm/cheap-chat, weight: 3}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0, allow_inf_nan=False, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "target" in value:
            rest = {k: v for k, v in value.items() if k != "target"}
            return {**cls._split(value["target"]), **rest}
        if isinstance(value, str):
            return cls._split(value)
        return value

    @staticmethod
    def _split(value: Any) -> dict[str, str]:
        if not isinstance(value, str) or value.count("/") < 1 or "" in value.split("/", 1):
            raise ValueError(f"a target is 'provider/model' (e.g. 'litellm/cheap-chat'), got {value!r}")
        provider, model = value.split("/", 1)
        return {"provider": provider.strip(), "model": model.strip()}

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


class ComboConfig(BaseModel):
    """A named, ordered set of targets across providers (OmniRoute's combos)."""

    model_config = ConfigDict(extra="forbid")

    targets: list[CandidateRef] = Field(min_length=1)
    strategy: ComboStrategy = "priority"

    @model_validator(mode="after")
    def _unique(self) -> Self:
        keys = [t.key for t in self.targets]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"targets are listed twice: {', '.join(dupes)}")
        return self


class CascadeConfig(BaseModel):
    """Steps from cheap to strong; each answer must pass the quality check or we escalate."""

    model_config = ConfigDict(extra="forbid")

    steps: list[CandidateRef] = Field(min_length=1)
    quality_threshold: Fraction | None = Field(None, description="None: RoutingConfig's.")


class AdaptiveConfig(BaseModel):
    """Routing on live signals (latency, load, errors, rate-limit headroom): docs/adaptive-routing.md."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Off: signals are still measured, decisions ignore them.")
    latency_metric: Literal["auto", "ttft", "total", "per_token"] = Field(
        "auto", description="What compares targets; auto: time to first chunk for streams, total for chat."
    )
    alpha: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] = Field(
        0.2, description="Weight of each new sample in the decaying latency histogram, mean and error rate."
    )
    baseline_alpha: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] = Field(
        0.02, description="Weight of each sample in the slow baseline a slowdown is measured against."
    )
    min_samples: PositiveInt = Field(3, description="Samples before a latency or error rate counts.")
    stale_after: Seconds = Field(60.0, description="A target unmeasured this long counts as untried again.")
    cost_tolerance: Fraction = Field(0.05, description="Estimated costs within this share of the cheapest tie.")
    latency_tolerance: Fraction = Field(0.1, description="Latencies within this share of the fastest tie.")
    max_latency_ms: Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)] | None = Field(
        None, description="Latency objective: exclude targets measured slower (at latency_percentile)."
    )
    latency_percentile: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] = 0.9
    probe_interval: Seconds = Field(
        0.2, description="Per replica and untried target: at most one probe this often, and one at a time."
    )
    max_error_rate: Fraction = Field(0.5, description="Tied targets failing more often than this go last.")
    slow_factor: Annotated[float, Field(strict=True, ge=1, allow_inf_nan=False)] = Field(
        1.5, description="A target whose recent mean latency exceeds its baseline by this factor is slowing."
    )
    slow_share: Fraction = Field(0.5, description="Share of tied in-flight calls a slowing target may hold.")
    headroom_reserve: Annotated[int, Field(strict=True, ge=0)] = Field(
        0, description="Skip a target when at most this many requests are left before its reset."
    )
    headroom_ttl: Seconds = Field(1.0, description="How long a headroom reading without a reset time holds.")
    publish_interval: Seconds = Field(
        0.1, description="Shared store: a replica publishes its signals at most this often."
    )
    shared_ttl: Seconds = Field(
        10.0, description="Shared store: another replica's signals older than this are ignored."
    )
    publish_below: Annotated[int, Field(strict=True, ge=0)] = Field(
        20, description="Shared store: calls on a target with at most this many requests left publish at once."
    )


class RoutingConfig(BaseModel):
    """Everything a :class:`~muxer_litellm.routing.HeuristicRouter` can be told. Defaults are
    what docs/routing.md documents; every number is in the unit its name says."""

    model_config = ConfigDict(extra="forbid")

    default_strategy: str = "heuristic"
    cascade_enabled: bool = True
    combos: dict[str, ComboConfig] = Field(default_factory=dict)
    cascades: dict[str, CascadeConfig] = Field(default_factory=dict)

    # Classification and tiers
    long_context_tokens: PositiveInt = 8000
    min_tier: dict[str, PositiveInt] = Field(default_factory=lambda: {"code": 2, "reasoning": 2, "long_context": 2})
    tier_price_thresholds: list[_Finite] = Field(
        default_factory=lambda: [0.002, 0.005],
        description="USD per 1K tokens, mean of input and output: below the first is tier 1, and so on.",
    )
    tiers: dict[str, PositiveInt] = Field(
        default_factory=dict, description="'provider/model' -> tier, beats inference."
    )
    expected_output_tokens: dict[str, PositiveInt] = Field(
        default_factory=lambda: {"simple": 256, "code": 1024, "reasoning": 1024, "long_context": 512, "vision": 512}
    )
    assumed_context_window: PositiveInt = Field(4096, description="Window assumed when a provider does not say.")
    unsure_confidence: Fraction = Field(
        0.5,
        description="A cheap-looking prompt classed below this confidence, whose runner-up class needs a higher "
        "tier, is unsure (0 turns it off).",
    )
    unsure_action: Literal["cascade", "escalate"] = Field(
        "cascade",
        description="Unsure prompts: 'cascade' starts cheap and escalates to the runner-up's tier when the answer "
        "fails the quality check (heuristic strategy, cascades enabled, not streams); 'escalate' requires that "
        "tier up front.",
    )

    # Fallback, cooldowns, breaker, health
    max_attempts: PositiveInt = Field(3, description="Targets tried per request by heuristic/cost routing.")
    rate_limit_cooldown: _NonNegativeSeconds = Field(5.0, description="Cooldown after a 429 that gave no Retry-After.")
    max_cooldown: Seconds = Field(300.0, description="Cap on any Retry-After a 429 asks for.")
    breaker_threshold: PositiveInt = Field(3, description="Retryable failures in a row that open a target's breaker.")
    breaker_cooldown: Seconds = 30.0
    health_ttl: Seconds = Field(60.0, description="Seconds a failed provider health_check() excludes it.")
    health_check_timeout: Seconds = Field(10.0, description="Limit for each provider's health_check().")

    # Cascades
    quality_threshold: Fraction = 0.5
    cascade_max_steps: PositiveInt = Field(3, description="Steps of an automatic (unconfigured) cascade.")

    # Exact token counts near a context window (LiteLLM's /utils/token_counter)
    token_counter: bool = True
    token_counter_timeout: Seconds = 0.5
    token_counter_band: Fraction = Field(0.25, description="Ask when the estimate is this close to a window.")

    # Live signals: latency, load, errors, headroom (docs/adaptive-routing.md)
    adaptive: AdaptiveConfig = Field(default_factory=AdaptiveConfig)

    # Routing state shared by several gateway replicas (docs/replicas.md)
    state_backend: StateBackend = "local"
    redis_url: SecretStr | None = Field(None, description="redis://[:password@]host:port/db; never printed.")
    redis_prefix: str = Field(
        "muxer:routing", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9:_.-]+$", description="Key prefix."
    )
    redis_timeout: Seconds = Field(0.2, description="Limit for each trip to Redis before routing falls back.")
    redis_retry_interval: Seconds = Field(2.0, description="Seconds between tries while Redis is out of reach.")
    redis_trial_lease: Seconds = Field(60.0, description="Longest a half-open trial holds the gate for all replicas.")
    redis_cluster: bool = Field(False, description="redis_url names a node of a Redis Cluster.")

    # Several tenants (docs/tenants.md)
    tenant_hash_key: SecretStr | None = Field(
        None,
        description="Key of the hash that labels a tenant by its api_key (random per process when unset; replicas "
        "sharing routing state need the same one). Never printed.",
    )
    tenant_budget_fallback: bool = Field(
        False, description="A tenant's own budget error lets other providers answer instead of ending the request."
    )

    @field_validator("redis_url", mode="after")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(_REDIS_SCHEMES):
            raise ValueError(f"redis_url must start with {', '.join(_REDIS_SCHEMES)}")  # the URL itself is never shown
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        for kind, names in (("combos", self.combos), ("cascades", self.cascades)):
            clash = sorted(set(names) & set(BUILTIN_STRATEGIES))
            if clash:
                raise ValueError(f"{kind}: {', '.join(clash)} is a built-in strategy name; pick another")
        both = sorted(set(self.combos) & set(self.cascades))
        if both:
            raise ValueError(f"{', '.join(both)} is both a combo and a cascade")
        known = set(BUILTIN_STRATEGIES) | set(self.combos) | set(self.cascades)
        if self.default_strategy not in known:
            raise ValueError(
                f"default_strategy {self.default_strategy!r} is not a strategy; use one of {', '.join(sorted(known))}"
            )
        if not self.cascade_enabled and (self.default_strategy == "cascade" or self.default_strategy in self.cascades):
            raise ValueError(f"default_strategy {self.default_strategy!r} needs cascade_enabled: true")
        for field, mapping in (("min_tier", self.min_tier), ("expected_output_tokens", self.expected_output_tokens)):
            for name in mapping:
                if name not in PROMPT_CLASSES:
                    raise ValueError(f"{field}: unknown prompt class {name!r}; use {', '.join(PROMPT_CLASSES)}")
        for key in self.tiers:
            CandidateRef._split(key)
        thresholds = self.tier_price_thresholds
        if any(t <= 0 for t in thresholds) or any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ValueError(f"tier_price_thresholds must be positive and increasing, got {thresholds}")
        if self.state_backend == "redis" and self.redis_url is None:
            raise ValueError("state_backend redis needs redis_url (or MUXER_ROUTING_REDIS_URL)")
        return self

    def strategy_names(self) -> list[str]:
        return [*BUILTIN_STRATEGIES, *self.combos, *self.cascades]


class RoutingSettings(BaseSettings):
    """The environment's say, named as in ModelMuxer's docs; it wins over the YAML file."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    default_routing_strategy: str | None = None
    cascade_routing_enabled: bool | None = None
    routing_config: Path | None = Field(None, validation_alias=AliasChoices("MUXER_ROUTING_CONFIG"))
    routing_state_backend: StateBackend | None = Field(
        None, validation_alias=AliasChoices("MUXER_ROUTING_STATE_BACKEND")
    )
    routing_redis_url: SecretStr | None = Field(None, validation_alias=AliasChoices("MUXER_ROUTING_REDIS_URL"))
    routing_tenant_hash_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("MUXER_ROUTING_TENANT_HASH_KEY")
    )

    @field_validator(
        "routing_config", "routing_state_backend", "routing_redis_url", "routing_tenant_hash_key", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """MUXER_ROUTING_CONFIG="" means no file, like a blank DEFAULT_ROUTING_STRATEGY."""
        return None if isinstance(value, str) and not value.strip() else value


_TOP = "(top level)"
_ENV_NAMES = {
    "default_routing_strategy": "DEFAULT_ROUTING_STRATEGY",
    "cascade_routing_enabled": "CASCADE_ROUTING_ENABLED",
    "routing_config": "MUXER_ROUTING_CONFIG",
    "routing_state_backend": "MUXER_ROUTING_STATE_BACKEND",
    "routing_redis_url": "MUXER_ROUTING_REDIS_URL",
    "routing_tenant_hash_key": "MUXER_ROUTING_TENANT_HASH_KEY",
}


def _read_yaml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise RoutingConfigError(f"routing config {str(path)!r} is a directory, not a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingConfigError(f"cannot read routing config {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutingConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RoutingConfigError(f"{path}: expected a mapping at the top, got {type(data).__name__}")
    # Allow the routing section to live inside a bigger gateway config.
    section = data.get("routing", data)
    if not isinstance(section, dict):
        raise RoutingConfigError(f"{path}: 'routing' must be a mapping, got {type(section).__name__}")
    return dict(section)


def load_routing_config(
    path: str | Path | None = None,
    *,
    settings: RoutingSettings | None = None,
    **overrides: Any,
) -> RoutingConfig:
    """Build a RoutingConfig: defaults < YAML file (``path``, else ``MUXER_ROUTING_CONFIG``)
    < environment (``DEFAULT_ROUTING_STRATEGY``, ``CASCADE_ROUTING_ENABLED``,
    ``MUXER_ROUTING_STATE_BACKEND``, ``MUXER_ROUTING_REDIS_URL``, ``MUXER_ROUTING_TENANT_HASH_KEY``)
    < ``overrides``.

    The YAML may be the routing mapping itself or hold it under a top-level ``routing:`` key.
    An override replaces that key's value whole, mappings included: ``combos={...}`` routes with
    those combos only, none of the file's. Raises RoutingConfigError naming the source and field.
    """
    try:
        env = settings or RoutingSettings()
    except ValidationError as exc:
        problems = validation_problems(exc, root=_TOP, names=_ENV_NAMES)
        raise RoutingConfigError(f"environment: {problems}") from None
    source = Path(path) if path is not None else env.routing_config
    data: dict[str, Any] = _read_yaml(source) if source is not None else {}
    where = str(source) if source is not None else "routing config"
    if env.default_routing_strategy is not None and env.default_routing_strategy.strip():
        data["default_strategy"] = env.default_routing_strategy.strip()
        where += " + DEFAULT_ROUTING_STRATEGY"
    if env.cascade_routing_enabled is not None:
        data["cascade_enabled"] = env.cascade_routing_enabled
        where += " + CASCADE_ROUTING_ENABLED"
    if env.routing_state_backend is not None:
        data["state_backend"] = env.routing_state_backend
        where += " + MUXER_ROUTING_STATE_BACKEND"
    if env.routing_redis_url is not None:
        data["redis_url"] = env.routing_redis_url
        where += " + MUXER_ROUTING_REDIS_URL"
    if env.routing_tenant_hash_key is not None:
        data["tenant_hash_key"] = env.routing_tenant_hash_key
        where += " + MUXER_ROUTING_TENANT_HASH_KEY"
    data.update(overrides)
    try:
        return RoutingConfig.model_validate(data)
    except ValidationError as exc:
        raise RoutingConfigError(f"{where}: {validation_problems(exc, root=_TOP)}") from None
