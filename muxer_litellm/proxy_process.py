"""Deprecated location: the local proxy launcher lives in :mod:`muxer_litellm.proxy.process`."""

from __future__ import annotations

import warnings

from .proxy.process import *  # noqa: F403
from .proxy.process import __all__ as __all__

warnings.warn("muxer_litellm.proxy_process moved to muxer_litellm.proxy.process", DeprecationWarning, stacklevel=2)
