"""The demo's proxy config ships inside the package, so ``pip install 'muxer-litellm[proxy]'``
then ``muxer-litellm demo`` works outside a checkout; and there is one copy of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from muxer_litellm.demo.run import DEMO_CONFIG_NAME, default_config, demo_config
from muxer_litellm.errors import DemoError

REPO = Path(__file__).resolve().parents[3]
PACKAGED = "muxer_litellm/demo/" + DEMO_CONFIG_NAME


def test_the_default_config_is_the_packaged_file_with_the_demo_models() -> None:
    with demo_config() as path:
        assert path.is_file()
        assert path.as_posix().endswith(PACKAGED)
        models = yaml.safe_load(path.read_text())["model_list"]
    assert all("mock_response" in m["litellm_params"] for m in models)  # keyless, offline
    assert path.read_bytes() == default_config().read_bytes()


def test_there_is_no_second_copy_to_drift() -> None:
    copies = [
        p.relative_to(REPO).as_posix()
        for d in ("config", "infra", "muxer_litellm")
        for p in (REPO / d).rglob("*demo*.yaml")
    ]
    assert copies == [PACKAGED]


def test_a_given_config_wins_and_a_missing_one_is_named(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("model_list: []\n")
    with demo_config(mine) as path:
        assert path == mine.resolve()
    with pytest.raises(DemoError, match=r"^demo config not found: .*nope\.yaml$"), demo_config(tmp_path / "nope.yaml"):
        pass


def test_the_wheel_ships_the_demo_config(tmp_path: Path) -> None:
    """Build the wheel offline from a copy of the sources (the checkout stays clean) and read it."""
    pytest.importorskip("setuptools", minversion="77", reason="the [dev] extra installs the build backend")
    src = tmp_path / "src"
    shutil.copytree(REPO / "muxer_litellm", src / "muxer_litellm", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    out = tmp_path / "out"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, src],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = out.glob("muxer_litellm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(PACKAGED) == default_config().read_bytes()
        assert "muxer_litellm/py.typed" in archive.namelist()
