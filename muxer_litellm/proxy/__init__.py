"""The LiteLLM proxy client, split by job.

``transport`` (send, timeouts, typed transport and status errors, the closed-state guard),
``payload`` (request shaping and input checks), ``sse`` and ``stream`` (reading a stream into a
``ChatStream``), ``cost`` (which cost to report), ``catalog`` (``/model/info`` into model
cards), ``health`` (probes), ``errors`` (the proxy's error replies to typed errors),
``headers`` (reply headers read once, typed), ``scopes`` (whom an error concerns),
``tenants`` (per-tenant in-flight cap and allowed models),
``process`` (a local proxy for demos and tests), and ``provider``: ``LiteLLMProvider``,
the thin facade over them.
"""

from __future__ import annotations

from .provider import DEFAULT_TIMEOUT, LiteLLMProvider

__all__ = ["DEFAULT_TIMEOUT", "LiteLLMProvider"]
