"""``make demo``: a real LiteLLM proxy with the packaged demo models (``litellm-demo.yaml``), a
native provider beside it (``native``), routed and priced end to end (``run``); ``signals``
keeps Ctrl-C from being lost while servers start and stop."""

from __future__ import annotations

from ..errors import DemoError
from .run import DEMO_CONFIG_NAME, default_config, main

__all__ = ["DEMO_CONFIG_NAME", "DemoError", "default_config", "main"]
