"""One line that names every bad field of a pydantic ValidationError.

Custom models, chat messages and the routing config all report invalid input the same way,
``dotted.path: message; ...``, so an operator reads one format everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

__all__ = ["validation_problems"]


def validation_problems(exc: ValidationError, *, root: str = "(root)", names: Mapping[str, str] | None = None) -> str:
    """``root`` labels an error on the whole object; ``names`` renames path parts (an
    environment error names the variable the operator set, not the field)."""
    parts = []
    for err in exc.errors():
        where = ".".join((names or {}).get(str(p), str(p)) for p in err["loc"]) or root
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
