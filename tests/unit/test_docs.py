"""The documentation site's strict build fails on a broken link or anchor, so `make test` catches one.

`make docs` builds the real site; these tests build a copy of mkdocs.yml and docs/ with one
broken reference added and check that `mkdocs build --strict` refuses it.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mkdocs", reason="mkdocs is not installed: `make install` adds it with the dev extra")
pytest.importorskip("material", reason="mkdocs-material is not installed: `make install` adds it with the dev extra")


def build(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    """Build a copy of the site with `extra` appended to its first page."""
    shutil.copy2(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text() + extra)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # material's notice about its successor
    )


def test_a_valid_cross_page_anchor_builds(tmp_path: Path) -> None:
    result = build(tmp_path, "\nSee [the breakers](routing.md#cooldowns-and-breakers).\n")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_anchor_fails_the_strict_build(tmp_path: Path) -> None:
    result = build(tmp_path, "\nSee [nothing](routing.md#no-such-section).\n")
    assert result.returncode != 0
    assert "no-such-section" in result.stdout + result.stderr


def test_a_link_to_a_missing_page_fails_the_strict_build(tmp_path: Path) -> None:
    result = build(tmp_path, "\nSee [nothing](no-such-page.md).\n")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stdout + result.stderr


def test_the_readme_links_only_to_pages_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    pages = set(re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme))
    assert pages, "the README links to its reference pages"
    assert {page for page in pages if not (ROOT / page).is_file()} == set()
