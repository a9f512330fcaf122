"""Routing imports only downward: the host contract, errors, ChatStream, the catalog's ModelCard,
the price formula and the shared validation formatting; never the proxy client or anything above it."""

from __future__ import annotations

import ast
from pathlib import Path

import muxer_litellm.routing

ALLOWED = {"host", "errors", "stream", "catalog", "pricing", "validation"}


def package_imports(path: Path) -> set[str]:
    """The ``muxer_litellm`` modules a routing module imports (relative ``..x`` or absolute)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 2:
                found.add((node.module or "").split(".")[0])
            elif node.level == 0 and (node.module or "").startswith("muxer_litellm."):
                found.add((node.module or "").split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("muxer_litellm."))
    return found


def test_routing_modules_import_only_the_layers_below() -> None:
    folder = Path(muxer_litellm.routing.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) >= 12
    upward = {p.name: sorted(package_imports(p) - ALLOWED) for p in modules}
    assert {name: found for name, found in upward.items() if found} == {}
