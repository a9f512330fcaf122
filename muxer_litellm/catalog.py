"""Model cards: what routing knows about each model a provider serves.

Host-level types any provider can fill (the LiteLLM proxy reads them from ``/model/info``,
see ``muxer_litellm.proxy.catalog``). Prices nobody knows stay *unknown* (None), never 0:
a cost-aware router that read an unpriced model as free would send all traffic to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .pricing import usd_for_tokens
from .validation import validation_problems

__all__ = ["CAPABILITY_FIELDS", "CustomModel", "ModelCard", "ModelHealth", "PricingSource"]

PricingSource = Literal["custom", "proxy", "unknown"]

#: The capability fields of a card (and of LiteLLM's ``model_info``), each True, False or None.
CAPABILITY_FIELDS = (
    "supports_function_calling",
    "supports_vision",
    "supports_response_schema",
    "supports_reasoning",
)


class ModelCard(BaseModel):
    """One routable model name (a LiteLLM ``model_name``, possibly several deployments)."""

    model_config = ConfigDict(frozen=True)

    # Capabilities are None when neither the proxy nor the operator said: routing treats
    # unknown as "maybe", ranked after models known to have the capability.
    name: str
    upstream_model: str | None = None
    model_id: str | None = Field(None, description="Deployment id; None when the name has several.")
    deployment_ids: tuple[str, ...] = ()
    provider: str | None = None
    mode: str | None = None
    input_cost_per_1k: float | None = None
    output_cost_per_1k: float | None = None
    pricing_source: PricingSource = "unknown"
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_function_calling: bool | None = None
    supports_vision: bool | None = None
    supports_response_schema: bool | None = None
    supports_reasoning: bool | None = None
    task_types: tuple[str, ...] = ()
    tier: int | None = Field(None, description="Operator-set strength, 1 = economy; routing infers it when None.")
    rate_limits: dict[str, int] | None = None
    healthy: bool | None = Field(None, description="From the last model_health(); None = not checked.")
    health_error: str | None = None

    @property
    def price_known(self) -> bool:
        return self.input_cost_per_1k is not None and self.output_cost_per_1k is not None

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """USD for that many tokens, or None when the price is unknown."""
        return usd_for_tokens(input_tokens, output_tokens, self.input_cost_per_1k, self.output_cost_per_1k)


class _Pricing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    provider: str | None = None
    upstream_model: str | None = None
    mode: str | None = None
    context_window: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    supports_function_calling: bool | None = None
    supports_vision: bool | None = None
    supports_response_schema: bool | None = None
    supports_reasoning: bool | None = None
    task_types: list[str] | None = None
    tier: int | None = Field(None, ge=1, le=10)


class CustomModel(BaseModel):
    """The ModelMuxer ``custom_models`` shape: prices in USD per 1,000 tokens."""

    model_config = ConfigDict(extra="forbid")

    pricing: _Pricing
    rate_limits: dict[str, int] | None = None
    metadata: _Metadata = Field(default_factory=_Metadata)

    @classmethod
    def parse(cls, model_name: str, raw: Mapping[str, Any] | CustomModel) -> CustomModel:
        """Validate, with a ValueError that names the model and the bad field."""
        if isinstance(raw, CustomModel):
            return raw
        if not isinstance(model_name, str) or not model_name.strip():
            raise ValueError(f"custom model name must be a non-empty string, got {model_name!r}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"custom model {model_name!r} is invalid: {validation_problems(exc)}") from None


class ModelHealth(BaseModel):
    """One deployment's result from the proxy's deep ``/health`` check."""

    model_config = ConfigDict(frozen=True)

    model_name: str | None
    upstream_model: str | None
    model_id: str | None
    healthy: bool
    error: str | None = None


def __getattr__(name: str) -> object:
    """``ModelCatalog`` and ``cards_from_model_info`` moved to ``muxer_litellm.proxy.catalog``."""
    if name in ("ModelCatalog", "cards_from_model_info"):
        import warnings

        from .proxy import catalog

        warnings.warn(
            f"muxer_litellm.catalog.{name} moved to muxer_litellm.proxy.catalog", DeprecationWarning, stacklevel=2
        )
        return getattr(catalog, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
