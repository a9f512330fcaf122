"""The proxy client imports only downward: the host contract and the shared bottom modules (and
observability, which it reports to); never routing, the CLI, the demo or a host adapter."""

from __future__ import annotations

import ast
from pathlib import Path

import muxer_litellm.proxy
from tests.unit.routing.test_layering import package_imports

ALLOWED = {
    "host",
    "errors",
    "stream",
    "catalog",
    "pricing",
    "validation",
    "redact",
    "settings",
    "observability",
    "__init__",  # the package's __version__ (the User-Agent)
    "",
}


def test_proxy_modules_import_only_the_layers_below() -> None:
    folder = Path(muxer_litellm.proxy.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) >= 10
    upward = {p.name: sorted(package_imports(p) - ALLOWED) for p in modules}
    assert {name: found for name, found in upward.items() if found} == {}


def root_imports(path: Path) -> set[str]:
    """The ``muxer_litellm`` modules a module at the package's root imports, at module level
    (``.x`` or absolute); a deprecated lazy re-export inside a function does not count."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("muxer_litellm."):
            found.add((node.module or "").split(".")[1])
    return found


def test_the_layers_below_never_import_the_proxy_client() -> None:
    root = Path(muxer_litellm.proxy.__file__).parent.parent
    bottom = ["host.py", "stream.py", "errors.py", "catalog.py", "pricing.py", "validation.py", "redact.py"]
    above = {"proxy", "routing", "cli", "demo", "hosts", "observability"}
    found = {name: sorted(root_imports(root / name) & above) for name in bottom}
    assert {name: f for name, f in found.items() if f} == {}
    assert "proxy" in root_imports(root / "registration.py")  # the check does see an import
