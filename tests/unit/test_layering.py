"""The package imports only downward: each part may import the parts listed for it and nothing
above. The contract and the shared bottom modules import no subpackage; routing never imports the
proxy client; only the CLI, the demo and the host adapters sit on top of both."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import muxer_litellm

ROOT = Path(muxer_litellm.__file__).parent
BOTTOM = {"_version", "_utils", "errors", "host", "_stream", "settings"}

#: What each part of the package may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "_utils": set(),
    "errors": set(),
    "host": {"_utils"},
    "_stream": {"host", "errors"},
    "settings": {"_utils"},
    "observability": {"_utils", "_version", "host"},
    "proxy": BOTTOM | {"observability"},
    "routing": BOTTOM,
    "testing": BOTTOM | {"routing"},
    "hosts": BOTTOM | {"proxy", "routing", "observability"},
    "cli": BOTTOM | {"proxy", "routing", "hosts", "demo"},
    "demo": BOTTOM | {"proxy", "routing", "testing"},
}


def part_of(path: Path) -> str:
    """``proxy`` for ``muxer_litellm/proxy/x.py``, ``host`` for ``muxer_litellm/host.py``."""
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_parts(path: Path) -> set[str]:
    """The parts of ``muxer_litellm`` a module imports, relative or absolute, anywhere in it."""
    package = list(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            module = [*base, *(node.module or "").split(".")] if node.module else base
            names = [".".join(module)] if node.module else [".".join([*module, a.name]) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "muxer_litellm" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


def test_every_part_has_a_rule() -> None:
    assert len(MODULES) > 40
    assert {part_of(p) for p in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_the_parts_below_it(path: Path) -> None:
    part = part_of(path)
    assert imported_parts(path) - ALLOWED[part] - {part} == set()


def test_the_check_sees_relative_and_nested_imports() -> None:
    assert "proxy" in imported_parts(ROOT / "hosts" / "registration.py")
    assert "_utils" in imported_parts(ROOT / "routing" / "state" / "redis.py")
    assert "host" in imported_parts(ROOT / "routing" / "candidates.py")
