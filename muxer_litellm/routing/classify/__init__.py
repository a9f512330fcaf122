"""Prompt classification and token estimates: the inputs to every routing rule.

``classifier`` decides (``classify_prompt``, ``PromptProfile`` in ``profile``), reading the
rule tables (``code_rules``, ``reasoning_rules``, ``json_rules``, matched by ``rules`` and
``terms`` over the word lists of ``vocabulary``) and the learned scorer (``learned``) over the
text ``focus`` picks; ``semantic`` is the opt-in embedding refiner; ``tokens`` estimates
prompt size.
"""

from .classifier import LEARNED_THRESHOLD, classify_prompt
from .learned import MODEL_CLASSES, LearnedModel, load_model
from .messages import content_parts, message_dict
from .profile import PROMPT_CLASSES, RULE_CONFIDENCE, PromptClass, PromptProfile
from .semantic import DEFAULT_EXEMPLARS, Embedder, ProfileRefiner, SemanticClassifier
from .tokens import CHARS_PER_TOKEN, IMAGE_TOKENS, estimate_prompt_tokens, json_text, text_tokens

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_EXEMPLARS",
    "IMAGE_TOKENS",
    "LEARNED_THRESHOLD",
    "MODEL_CLASSES",
    "PROMPT_CLASSES",
    "RULE_CONFIDENCE",
    "Embedder",
    "LearnedModel",
    "ProfileRefiner",
    "PromptClass",
    "PromptProfile",
    "SemanticClassifier",
    "classify_prompt",
    "content_parts",
    "estimate_prompt_tokens",
    "json_text",
    "load_model",
    "message_dict",
    "text_tokens",
]
