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
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from .host import (
    ChatCompletionResponse,
    ChatMessage,
    Choice,
    EmbeddingResponse,
    LLMProvider,
    RouterMetadata,
    Usage,
)
from .provider import LiteLLMProvider
from .settings import LiteLLMSettings

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ChatCompletionResponse",
    "ChatMessage",
    "Choice",
    "ContentPolicyError",
    "ContextWindowExceededError",
    "CustomModel",
    "EmbeddingResponse",
    "LLMProvider",
    "LiteLLMProvider",
    "LiteLLMSettings",
    "ModelCard",
    "ModelCatalog",
    "ModelHealth",
    "ModelNotFoundError",
    "ProviderError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "RateLimitError",
    "RouterMetadata",
    "Usage",
    "__version__",
]
