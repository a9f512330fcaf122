"""Start and stop a real LiteLLM proxy on a free loopback port (the demo and the tests).

One implementation for both, so the demo runs the proxy exactly the way the integration
tests prove it works: offline (``LITELLM_LOCAL_MODEL_COST_MAP=True``, no cost-map download),
no database, its output in a log file, and in its own process group so that stopping it
also ends anything it spawned, and a Ctrl-C meant for the caller does not reach it half-way
(the caller decides when it stops). POSIX only (process groups).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Self

import httpx

from ..errors import ProxyStartError

__all__ = ["PROXY_CLI_ENV", "STARTUP_TIMEOUT", "LiteLLMProxy", "free_port", "litellm_executable"]

#: The proxy usually answers within ~10-20 s; a cold machine importing litellm can take longer.
STARTUP_TIMEOUT = 180.0
#: The proxy waits for in-flight requests on SIGTERM; it keeps no state worth a longer wait.
_STOP_TIMEOUT = 5.0
_POLL_INTERVAL = 0.25


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


#: Names the ``litellm`` CLI to run instead of this interpreter's: a proxy installed in another
#: virtualenv (another LiteLLM version, or a newer one whose extra this venv cannot install).
PROXY_CLI_ENV = "MUXER_LITELLM_PROXY_CLI"


def litellm_executable() -> str | None:
    """The ``litellm`` CLI named by ``$MUXER_LITELLM_PROXY_CLI`` (a path, or a name on PATH),
    else the one beside this interpreter (the venv's), else on PATH."""
    chosen = os.environ.get(PROXY_CLI_ENV)
    if chosen:
        return shutil.which(chosen)
    beside = Path(sys.executable).parent / "litellm"
    if beside.exists():
        return str(beside)
    return shutil.which("litellm")


class LiteLLMProxy:
    """One ``litellm --config ... --host 127.0.0.1 --port N`` process.

    ``config`` is a mapping (written as JSON, which YAML parsers accept) or the path of a
    YAML config used as is. ``master_key`` (random when omitted) is also exported to the
    proxy as ``LITELLM_MASTER_KEY``, so a config may say ``master_key:
    os.environ/LITELLM_MASTER_KEY``. ``env`` adds variables for the proxy only. Without
    ``workdir`` a temporary directory holds the log and is removed by :meth:`stop`.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | str | Path,
        workdir: Path | None = None,
        master_key: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        if not startup_timeout > 0:
            raise ValueError(f"startup_timeout must be > 0 seconds, got {startup_timeout!r}")
        self.config = config
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="muxer-litellm-proxy-")) if workdir is None else Path(workdir)
        self.master_key = master_key or f"sk-local-{secrets.token_hex(16)}"
        self.env = dict(env or {})
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.base_url = f"http://{host}:{self.port}"
        self.startup_timeout = startup_timeout
        self.log_path = self.workdir / "litellm.log"
        self.config_path = Path(config) if isinstance(config, (str, Path)) else self.workdir / "litellm-config.yaml"
        self.started_in: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    def __repr__(self) -> str:  # never the master key
        return f"LiteLLMProxy(base_url={self.base_url!r}, config={str(self.config_path)!r}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        """The proxy's process id, which is also its process group id (None when not started)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The proxy's last output lines, with the master key masked."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]).replace(self.master_key, "***")

    def keep_log(self) -> Path | None:
        """A log that outlives :meth:`stop`, for a failed start: the log itself when the
        caller owns the workdir, else a masked copy beside it in the temp directory (ours
        is removed on stop). None when there is no log."""
        if not self._own_workdir:
            return self.log_path if self.log_path.is_file() else None
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        fd, name = tempfile.mkstemp(prefix="muxer-litellm-proxy-", suffix=".log")
        with os.fdopen(fd, "w") as copy:
            copy.write(text.replace(self.master_key, "***"))
        return Path(name)

    def launch(self) -> Self:
        """Start the process and return at once (see :meth:`wait_ready`)."""
        if self._process is not None:
            raise RuntimeError(f"{self!r} was already started")
        exe = litellm_executable()
        if exe is None:
            if os.environ.get(PROXY_CLI_ENV):
                raise ProxyStartError(f"{PROXY_CLI_ENV}={os.environ[PROXY_CLI_ENV]!r} is not an executable litellm CLI")
            raise ProxyStartError("the litellm CLI is not installed: pip install 'muxer-litellm[proxy]'")
        if isinstance(self.config, (str, Path)):
            if not self.config_path.is_file():
                raise ProxyStartError(f"LiteLLM config not found: {self.config_path}")
        else:
            self.config_path.write_text(json.dumps(self.config, indent=2))
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_MASTER_KEY": self.master_key,
            **self.env,
        }
        env.pop("DATABASE_URL", None)  # without a database the proxy needs no migrations
        self._started_at = time.monotonic()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [exe, "--config", str(self.config_path), "--host", self.host, "--port", str(self.port)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def wait_ready(self) -> Self:
        """Poll ``/health/liveliness`` (no auth, no model calls) until the proxy answers.

        Raises ProxyStartError (after stopping the process, with its log kept: see
        :meth:`keep_log`) if it exits or is not ready within ``startup_timeout``."""
        process = self._process
        if process is None:
            raise RuntimeError("launch() the proxy before waiting for it")
        deadline = self._started_at + self.startup_timeout
        with httpx.Client(trust_env=False, timeout=2.0) as client:  # loopback: never via an HTTP proxy
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    self._failed(
                        f"the LiteLLM proxy exited with code {process.returncode} while starting (bad config?)"
                    )
                try:
                    if client.get(f"{self.base_url}/health/liveliness").status_code == 200:
                        self.started_in = time.monotonic() - self._started_at
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(_POLL_INTERVAL)
        self._failed(f"the LiteLLM proxy was not ready after {self.startup_timeout:.0f}s")

    def _failed(self, reason: str) -> NoReturn:
        """Stop what was started, keep the log, raise ProxyStartError."""
        log, kept = self.log_tail(), self.keep_log()
        self.stop()
        raise ProxyStartError(reason, log, kept)

    def start(self) -> Self:
        """Launch and wait until ready."""
        return self.launch().wait_ready()

    def stop(self) -> None:
        """End the proxy's whole process group (SIGTERM, then SIGKILL), and remove the
        temporary workdir if we made it. Safe to call more than once."""
        process, self._process = self._process, None
        try:
            if process is not None:
                _end_group(process)
        finally:
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _end_group(process: subprocess.Popen[bytes]) -> None:
    group = process.pid  # start_new_session: the leader's pid is the group id
    try:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_STOP_TIMEOUT)
    finally:
        # Whatever is left (a leader that ignored SIGTERM, workers it spawned): kill, then reap.
        # Linux does not reuse a pid while it is still some group's id, so this hits only our group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
