"""``python -m muxer_litellm.demo``."""

from .run import run_from_command_line

raise SystemExit(run_from_command_line())
