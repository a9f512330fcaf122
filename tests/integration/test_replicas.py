"""Several gateway replicas, each its own process (``tests/replica.py``), sharing routing state
through a real redis-server, in front of the session's real LiteLLM proxy.

What one replica learns holds for all: a 429's wait, a breaker opened by failures spread over
replicas (and its one trial), round-robin turns; and when Redis dies mid-run every request still
routes, and sharing resumes once it is back. Waits are polled with deadlines, never slept out,
so a loaded machine makes these slower, not flaky.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_redis_server
from tests.litellm_proxy import LiteLLMProxy
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RETRY_AFTER = 7.0  # the fake upstream's 429 (tests/fake_upstream.py)
THREE = ["litellm/cheap-chat", "litellm/mock-chat", "litellm/tool-chat"]  # answer without failing


class Replica:
    """A replica process and its line protocol (one JSON command, one JSON reply)."""

    def __init__(self, name: str, proxy: LiteLLMProxy, config: dict[str, Any], logs: Path) -> None:
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "MUXER_ROUTING"))}
        self.log = logs / f"replica-{name}.log"
        with self.log.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.replica", proxy.base_url, proxy.master_key, json.dumps(config)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(cmd) + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float = 180.0) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"replica {self.name}: no answer within {timeout}s; log: {self.tail()}") from None
        if not line:
            raise AssertionError(f"replica {self.name} exited: {self.tail()}")
        reply: dict[str, Any] = json.loads(line)
        assert "exception" not in reply, f"replica {self.name}: {reply['exception']}; log: {self.tail()}"
        return reply

    def call(self, cmd: dict[str, Any], timeout: float = 180.0) -> dict[str, Any]:
        self.send(cmd)
        return self.receive(timeout)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send({"op": "quit"})
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=10)


class Fleet:
    """``fleet(n, redis=None, **config)``: n replicas on one Redis (the session's, or ``redis``)
    under this test's own key ``prefix``, each routing with ``config``."""

    def __init__(self, proxy: LiteLLMProxy, redis: RedisServer, logs: Path) -> None:
        self.proxy = proxy
        self.redis = redis
        self.logs = logs
        self.prefix = f"replicas:{uuid.uuid4().hex[:10]}"
        self.started: list[Replica] = []

    def __call__(self, n: int, redis: RedisServer | None = None, **config: Any) -> list[Replica]:
        config = {
            "state_backend": "redis",
            "redis_url": (redis or self.redis).url,
            "redis_prefix": self.prefix,
            "redis_timeout": 5.0,  # sharing is what these tests check: no fallback on a slow moment
            **config,
        }
        replicas = [Replica(chr(ord("a") + len(self.started) + i), self.proxy, config, self.logs) for i in range(n)]
        self.started.extend(replicas)
        for replica in replicas:
            assert replica.receive(timeout=120) == {"ready": True}
        return replicas

    def key(self, *parts: str) -> str:
        return ":".join(("{" + self.prefix + "}", *parts))


@pytest.fixture
def fleet(litellm_proxy: LiteLLMProxy, redis_server: RedisServer, tmp_path: Path) -> Iterator[Fleet]:
    made = Fleet(litellm_proxy, redis_server, tmp_path)
    yield made
    for replica in made.started:
        replica.close()


def calls_to(results: list[dict[str, Any]], model: str) -> int:
    """Calls routed requests made to ``model`` (every attempt that was not skipped)."""
    return sum(1 for r in results for m, outcome in r["attempts"] if m == model and outcome != "skipped")


def together(replicas: list[Replica], cmd: dict[str, Any]) -> list[dict[str, Any]]:
    """The same command to every replica at once; their replies, in order."""
    for replica in replicas:
        replica.send(cmd)
    return [replica.receive() for replica in replicas]


def poll(
    replica: Replica, cmd: dict[str, Any], done: Callable[[dict[str, Any]], bool], within: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        reply = replica.call(cmd)
        if done(reply):
            return reply
        assert time.monotonic() < deadline, f"not within {within}s: {cmd} -> {reply}"
        time.sleep(0.05)


def test_a_429_seen_by_one_replica_keeps_the_others_off_that_target_until_its_wait_ends(fleet: Fleet) -> None:
    a, b, c = fleet(3, combos={"limited": {"targets": ["litellm/ratelimited-chat", "litellm/cheap-chat"]}})

    first = a.call({"op": "route", "strategy": "limited"})["results"][0]
    assert first["attempts"] == [["ratelimited-chat", "failed"], ["cheap-chat", "ok"]]

    # B and C plan right after A's request returned: no polling interval, no lag. The first read
    # either makes after A's write already sees the wait, with its full time left.
    for plan in together([b, c], {"op": "plan", "strategy": "limited"}):
        assert plan["start"] > first["end"]
        assert plan["targets"] == ["litellm/cheap-chat"]
        excluded = plan["excluded"]["litellm/ratelimited-chat"]
        assert excluded.startswith("rate limited (429), ")
        left = float(excluded.removeprefix("rate limited (429), ").removesuffix("s left"))
        assert RETRY_AFTER - (plan["end"] - first["start"]) - 0.1 <= left <= RETRY_AFTER

    bursts = together([b, c], {"op": "route", "strategy": "limited", "n": 10, "concurrency": 5})
    results = [r for burst in bursts for r in burst["results"]]
    assert calls_to(results, "ratelimited-chat") == 0
    assert {r.get("model") for r in results} == {"cheap-chat"}

    # Kept off for the whole wait, and no longer: C's reads say blocked until 7 s after A's 429.
    blocked_until = 0.0

    def freed(reply: dict[str, Any]) -> bool:
        nonlocal blocked_until
        if reply["blocked"] is not None:
            blocked_until = reply["time"]
            return False
        return True

    free = poll(c, {"op": "state", "key": "litellm/ratelimited-chat"}, freed, within=60)
    assert free["time"] >= first["start"] + RETRY_AFTER - 0.1
    assert blocked_until <= first["end"] + RETRY_AFTER + 0.1
    probe = b.call({"op": "route", "strategy": "limited"})["results"][0]
    assert probe["attempts"][0] == ["ratelimited-chat", "failed"]  # the one probe after the wait: 429 again


def test_a_breaker_opened_by_failures_spread_over_replicas_lets_exactly_one_trial_through(fleet: Fleet) -> None:
    cooldown = 6.0
    replicas = fleet(
        3,
        combos={"flaky": {"targets": ["litellm/broken-chat", "litellm/cheap-chat"]}},
        breaker_threshold=3,
        breaker_cooldown=cooldown,
    )
    a = replicas[0]
    key = "litellm/broken-chat"

    states = []
    for replica in replicas:  # one failure each, one after the other: three in a row
        result = replica.call({"op": "route", "strategy": "flaky"})["results"][0]
        assert result["attempts"] == [["broken-chat", "failed"], ["cheap-chat", "ok"]]
        states.append(a.call({"op": "state", "key": key})["breaker"])
    assert states == ["closed", "closed", "open"]
    assert {r.call({"op": "state", "key": key})["breaker"] for r in replicas} == {"open"}

    bursts = together(replicas, {"op": "route", "strategy": "flaky", "n": 6, "concurrency": 3})
    assert calls_to([r for burst in bursts for r in burst["results"]], "broken-chat") == 0  # open everywhere

    poll(a, {"op": "state", "key": key}, lambda reply: reply["breaker"] == "half-open", within=60)
    started = time.monotonic()
    bursts = together(replicas, {"op": "route", "strategy": "flaky", "n": 10, "concurrency": 5})
    took = time.monotonic() - started
    results = [r for burst in bursts for r in burst["results"]]
    assert all(r.get("model") == "cheap-chat" for r in results), results
    trials = calls_to(results, "broken-chat")
    if took < cooldown:
        assert trials == 1  # one trial from all three replicas together; it failed: open again
    else:  # a machine so loaded that the burst outlasted the reopened breaker: one trial per window
        assert 1 <= trials <= 1 + int(took // cooldown)
    assert {r.call({"op": "state", "key": key})["breaker"] for r in replicas} == {"open"}


def test_a_round_robin_combo_served_by_three_replicas_splits_evenly_overall(fleet: Fleet) -> None:
    replicas = fleet(3, combos={"rr": {"targets": THREE, "strategy": "round_robin"}})
    # Uneven shares per replica (7, 11, 12): only turns counted for all of them split 30 as 10/10/10.
    for replica, n in zip(replicas, (7, 11, 12), strict=True):
        replica.send({"op": "route", "strategy": "rr", "n": n, "concurrency": 3})
    results = [r for replica in replicas for r in replica.receive()["results"]]
    assert len(results) == 30
    answered = [r.get("model") for r in results]
    assert {m: answered.count(m) for m in set(answered)} == {"cheap-chat": 10, "mock-chat": 10, "tool-chat": 10}
    assert all(len(r["attempts"]) == 1 for r in results)  # each answered by its turn's first target


def test_redis_killed_mid_run_every_request_still_routes_and_sharing_resumes_when_it_is_back(
    fleet: Fleet, tmp_path: Path
) -> None:
    server = RedisServer(require_redis_server(), tmp_path / "redis").start()
    try:
        a, b = fleet(
            2,
            redis=server,
            combos={
                "rr": {"targets": THREE, "strategy": "round_robin"},
                "limited": {"targets": ["litellm/ratelimited-chat", "litellm/cheap-chat"]},
            },
            redis_timeout=1.0,
            redis_retry_interval=0.2,
        )
        run = {"op": "route", "strategy": "rr", "n": 40, "concurrency": 2, "pause": 0.05}
        a.send(run)
        b.send(run)
        _wait_for_turns(server, fleet.key("turn", "rr"), at_least=6)
        server.kill()  # mid-run: requests in flight, and more to come
        answered = [r for replica in (a, b) for r in replica.receive()["results"]]
        assert len(answered) == 80
        assert all("model" in r for r in answered), [r for r in answered if "model" not in r]
        for replica in (a, b):
            stats = replica.call({"op": "stats"})
            assert stats["outages"] == 1
            assert stats["shared"] is False
            assert stats["fallbacks"]["snapshot"] >= 1

        # While Redis is gone, A alone learns a 429: B does not know it (the documented cost).
        learned = a.call({"op": "route", "strategy": "limited"})["results"][0]
        assert learned["attempts"][0] == ["ratelimited-chat", "failed"]
        assert "litellm/ratelimited-chat" not in b.call({"op": "plan", "strategy": "limited"})["excluded"]

        server.start()  # same port, data lost
        for replica in (a, b):
            poll(replica, {"op": "sync"}, lambda s: s["shared"] is True, within=60)
        # What A learned alone is published: B is kept off the target for the rest of its wait.
        plan = b.call({"op": "plan", "strategy": "limited"})
        assert plan["targets"] == ["litellm/cheap-chat"]
        assert plan["excluded"]["litellm/ratelimited-chat"].startswith("rate limited (429)")
        # Turns are shared again (counted from 0 after the restart lost them): 5 + 4 split 3/3/3.
        a.send({"op": "route", "strategy": "rr", "n": 5})
        b.send({"op": "route", "strategy": "rr", "n": 4})
        after = [r.get("model") for replica in (a, b) for r in replica.receive()["results"]]
        assert sorted(after) == sorted(["cheap-chat", "mock-chat", "tool-chat"] * 3)
    finally:
        server.stop()


def _wait_for_turns(server: RedisServer, key: str, at_least: int, within: float = 60.0) -> None:
    """Until the replicas have taken ``at_least`` round-robin turns (read with redis-cli's protocol
    over a raw socket, so the test needs no event loop)."""
    import socket

    deadline = time.monotonic() + within
    command = f"*2\r\n$3\r\nGET\r\n${len(key.encode())}\r\n{key}\r\n".encode()
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(command)
            reply = sock.recv(64)
        taken = int(reply.split(b"\r\n")[1]) if reply.startswith(b"$") and not reply.startswith(b"$-1") else 0
        if taken >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError(f"the replicas took fewer than {at_least} turns within {within}s")
