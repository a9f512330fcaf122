"""Start and stop a real LiteLLM proxy on a free loopback port, for tests.

The config is written as JSON, which YAML parsers accept, so no YAML library is needed.
The proxy runs offline (``LITELLM_LOCAL_MODEL_COST_MAP=True``) in its own process group
so teardown also ends anything it spawned.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def litellm_executable() -> str | None:
    """The ``litellm`` CLI beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "litellm"
    if beside.exists():
        return str(beside)
    return shutil.which("litellm")


class LiteLLMProxy:
    def __init__(self, config: Mapping[str, Any], workdir: Path, master_key: str) -> None:
        self.config = config
        self.workdir = workdir
        self.master_key = master_key
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "litellm-config.yaml"
        self.log_path = workdir / "litellm.log"
        self._process: subprocess.Popen[bytes] | None = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> LiteLLMProxy:
        exe = litellm_executable()
        if exe is None:
            raise RuntimeError("the litellm CLI is not installed (pip install 'litellm[proxy]')")
        self.config_path.write_text(json.dumps(self.config, indent=2))
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        env.pop("DATABASE_URL", None)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [exe, "--config", str(self.config_path), "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"litellm proxy exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health/liveliness", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"litellm proxy not ready after {STARTUP_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
