"""muxer-litellm: a LiteLLM proxy as one more provider in a ModelMuxer-style LLM router."""

from __future__ import annotations

from ._stream import ChatStream
from ._version import __version__
from .errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContentPolicyError,
    ContextWindowExceededError,
    FallbackExhaustedError,
    ModelNotFoundError,
    NoRouteError,
    NotAProxyError,
    ProviderClosedError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    ReplyTooLargeError,
    RoutingConfigError,
)
from .host import (
    CatalogProvider,
    ChatCompletionResponse,
    ChatMessage,
    Choice,
    CustomModel,
    EmbeddingResponse,
    Headroom,
    HealthReporter,
    LLMProvider,
    ModelCard,
    ModelHealth,
    RouteAttempt,
    RouterMetadata,
    TokenCounter,
    Usage,
)
from .hosts.registration import create_provider, register
from .observability import CallRecord, MetricsHook, PrometheusMetrics
from .proxy.catalog import ModelCatalog
from .proxy.provider import LiteLLMProvider
from .settings import LiteLLMSettings

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CallRecord",
    "CatalogProvider",
    "ChatCompletionResponse",
    "ChatStream",
    "ChatMessage",
    "Choice",
    "ContentPolicyError",
    "ContextWindowExceededError",
    "CustomModel",
    "EmbeddingResponse",
    "FallbackExhaustedError",
    "Headroom",
    "HealthReporter",
    "LLMProvider",
    "LiteLLMProvider",
    "LiteLLMSettings",
    "MetricsHook",
    "ModelCard",
    "ModelCatalog",
    "ModelHealth",
    "ModelNotFoundError",
    "NoRouteError",
    "NotAProxyError",
    "PrometheusMetrics",
    "ProviderClosedError",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "ReplyTooLargeError",
    "RouteAttempt",
    "RouterMetadata",
    "RoutingConfigError",
    "TokenCounter",
    "Usage",
    "__version__",
    "create_provider",
    "register",
]
