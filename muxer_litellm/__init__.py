"""muxer-litellm: a LiteLLM proxy as one more provider in a ModelMuxer-style LLM router."""

from __future__ import annotations

__version__ = "0.1.0"

from .catalog import CustomModel, ModelCard, ModelCatalog, ModelHealth
from .errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    FallbackExhaustedError,
    ModelNotFoundError,
    NoRouteError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    RoutingConfigError,
)
from .host import (
    ChatCompletionResponse,
    ChatMessage,
    Choice,
    EmbeddingResponse,
    LLMProvider,
    RouteAttempt,
    RouterMetadata,
    Usage,
)
from .observability import CallRecord, MetricsHook, PrometheusMetrics
from .provider import LiteLLMProvider
from .registration import create_provider, register
from .settings import LiteLLMSettings

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CallRecord",
    "ChatCompletionResponse",
    "ChatMessage",
    "Choice",
    "ContentPolicyError",
    "ContextWindowExceededError",
    "CustomModel",
    "FallbackExhaustedError",
    "EmbeddingResponse",
    "LLMProvider",
    "LiteLLMProvider",
    "LiteLLMSettings",
    "MetricsHook",
    "ModelCard",
    "ModelCatalog",
    "ModelHealth",
    "ModelNotFoundError",
    "NoRouteError",
    "PrometheusMetrics",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "RouteAttempt",
    "RouterMetadata",
    "RoutingConfigError",
    "Usage",
    "__version__",
    "create_provider",
    "register",
]
