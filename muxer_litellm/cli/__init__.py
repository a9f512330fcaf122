"""The ``muxer-litellm`` command: ``commands`` (the typer app), ``render`` (what it prints),
``modelmuxer`` (ModelMuxer's generated files)."""

from __future__ import annotations

from .commands import app, main

__all__ = ["app", "main"]
