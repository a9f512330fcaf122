"""The one-command demo, end to end: ``python -m muxer_litellm.demo`` in a subprocess.

It starts a real LiteLLM proxy with the packaged muxer_litellm/demo/litellm-demo.yaml, from a
directory outside the checkout (as an installed wheel would run). Expected models and costs are
derived from that file and the native provider's price table, not restated here, so a
price change in the config cannot leave the demo printing wrong numbers unnoticed.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from muxer_litellm.demo.native import DEMO_NATIVE_MODELS
from muxer_litellm.demo.run import default_config
from muxer_litellm.errors import ProxyStartError
from muxer_litellm.proxy.process import LiteLLMProxy, litellm_executable

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# The packaged config as a path, for the launcher tests that start nothing (a source install: a plain file).
DEMO_CONFIG = Path(str(default_config()))
TIME_LIMIT = 240.0

UP_LINE = re.compile(r"^LiteLLM proxy up at http://127\.0\.0\.1:(\d+) \(port (\d+)\)", re.M)
STARTING_LINE = re.compile(r"^Starting a LiteLLM proxy \(pid (\d+)\)", re.M)
COST_LINE = re.compile(r"cost: \$([0-9.]+) \((.+?): (\d+) prompt \+ (\d+) completion tokens\)")


@pytest.fixture(scope="module", autouse=True)
def _needs_litellm() -> None:
    if litellm_executable() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the litellm CLI is missing: `make test` installs .[dev,proxy]")
        pytest.skip("litellm[proxy] is not installed; run `make test` (or pip install -e '.[dev,proxy]')")


def demo_env() -> dict[str, str]:
    """Wide, colourless, unbuffered output, so lines are whole and parseable."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
    env.pop("FORCE_COLOR", None)
    return env


def demo_command(config: Path | None = None) -> list[str]:
    command = [sys.executable, "-m", "muxer_litellm.demo"]
    return [*command, "--config", str(config)] if config is not None else command


def port_closed(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # the id now belongs to someone else's group: ours is gone
        return True
    return False


def kill_group(pgid: int) -> None:
    """Clean-up for a failed test: never leave a proxy behind."""
    if not group_gone(pgid):
        os.killpg(pgid, signal.SIGKILL)


# ---------------------------------------------------------------------- what the config says


def demo_config() -> dict[str, Any]:
    data = yaml.safe_load(default_config().read_text())
    assert isinstance(data, dict)
    return data


def model_infos() -> dict[str, dict[str, Any]]:
    """``litellm/<model_name>`` -> model_info (prices per token, capabilities, task types)."""
    return {f"litellm/{m['model_name']}": dict(m.get("model_info") or {}) for m in demo_config()["model_list"]}


def prices_per_token() -> dict[str, tuple[float, float]]:
    """Every model's (input, output) USD per token: the proxy's from the YAML, the native table's."""
    prices = {
        key: (float(info["input_cost_per_token"]), float(info["output_cost_per_token"]))
        for key, info in model_infos().items()
    }
    for name, spec in DEMO_NATIVE_MODELS.items():
        prices[f"native/{name}"] = (spec.input_per_1k / 1000, spec.output_per_1k / 1000)
    return prices


def chat_models() -> list[str]:
    infos = model_infos()
    native = [f"native/{name}" for name in DEMO_NATIVE_MODELS]
    return [k for k, info in infos.items() if info.get("mode", "chat") == "chat"] + native


def cheapest(keys: list[str]) -> str:
    prices = prices_per_token()
    return min(keys, key=lambda k: prices[k][0] + prices[k][1])


def mock_response(key: str) -> str:
    name = key.removeprefix("litellm/")
    entry = next(m for m in demo_config()["model_list"] if m["model_name"] == name)
    return str(entry["litellm_params"]["mock_response"])


# ---------------------------------------------------------------------- one demo run, parsed


@dataclass
class Call:
    header: str
    model: str
    cost: float
    cost_source: str
    prompt_tokens: int
    completion_tokens: int
    block: str


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str
    port: int
    proxy_pid: int

    def calls(self) -> list[Call]:
        """The numbered prompt blocks ("1. simple prompt: ...") up to the cost summary."""
        body = self.stdout.split("Cost of each call")[0]
        blocks = re.split(r"^(?=\d+\. )", body, flags=re.M)[1:]
        out = []
        for block in blocks:
            routed = re.search(r"^ +routed to (\S+)$", block, re.M)
            cost = COST_LINE.search(block)
            assert routed, f"no 'routed to' line in:\n{block}"
            assert cost, f"no cost line in:\n{block}"
            out.append(
                Call(
                    header=block.splitlines()[0],
                    model=routed.group(1),
                    cost=float(cost.group(1)),
                    cost_source=cost.group(2),
                    prompt_tokens=int(cost.group(3)),
                    completion_tokens=int(cost.group(4)),
                    block=block,
                )
            )
        return out


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    result = subprocess.run(
        demo_command(),
        cwd=tmp_path_factory.mktemp("elsewhere"),  # no checkout here: the config comes from the package
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        stdin=subprocess.DEVNULL,
    )
    up = UP_LINE.search(result.stdout)
    starting = STARTING_LINE.search(result.stdout)
    assert starting, f"no 'Starting' line (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    assert up, f"no 'proxy up' line (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    run = DemoRun(result.returncode, result.stdout, result.stderr, int(up.group(2)), int(starting.group(1)))
    try:
        yield run
    finally:
        kill_group(run.proxy_pid)


def test_the_demo_exits_0_and_leaves_no_proxy_behind(demo_run: DemoRun) -> None:
    assert demo_run.returncode == 0, f"{demo_run.stdout}\n{demo_run.stderr}"
    assert "Traceback" not in demo_run.stdout + demo_run.stderr
    assert f"Stopped the LiteLLM proxy (pid {demo_run.proxy_pid}); port {demo_run.port} is closed." in demo_run.stdout
    assert port_closed(demo_run.port)
    assert group_gone(demo_run.proxy_pid)


def test_the_model_table_lists_every_model_of_both_providers(demo_run: DemoRun) -> None:
    table = demo_run.stdout.split("Models the router sees")[1].split("1. simple prompt")[0]
    for key in prices_per_token():
        assert key in table
    for spec in DEMO_NATIVE_MODELS.values():
        assert spec.upstream in table
    assert "200,000" in table  # claude-sonnet's max_input_tokens, as the proxy reports it
    assert "embedding model" in table


def test_simple_and_code_prompts_go_to_different_models_with_the_reason(demo_run: DemoRun) -> None:
    calls = demo_run.calls()
    assert [c.header.split(" prompt")[0] for c in calls] == ["1. simple", "2. code", "3. streamed json"]
    simple, code = calls[0], calls[1]
    assert simple.model != code.model
    # Simple prompts take the cheapest model of all; code needs a model good at code.
    assert simple.model == cheapest(chat_models())
    coders = [k for k, info in model_infos().items() if "code" in (info.get("task_types") or [])]
    assert code.model == cheapest(coders)
    assert "reason: heuristic: prompt is simple" in simple.block
    assert f"chose {simple.model} " in simple.block
    assert "reason: heuristic: prompt is code" in code.block
    assert "code needs tier >= 2" in code.block
    assert "```python" in code.block  # the strong model's (mocked) answer is code
    assert mock_response(code.model).splitlines()[1].strip() in code.block


def test_the_streamed_answer_is_printed_whole(demo_run: DemoRun) -> None:
    streamed = demo_run.calls()[2]
    schema_models = [k for k, info in model_infos().items() if info.get("supports_response_schema")]
    assert streamed.model == cheapest(schema_models)
    assert f"answer (streamed): {mock_response(streamed.model)}\n" in streamed.block
    chunks = re.search(r"\((\d+) chunks, printed as they arrived\)", streamed.block)
    assert chunks is not None
    assert int(chunks.group(1)) > 1


def test_every_cost_matches_the_configured_prices(demo_run: DemoRun) -> None:
    prices = prices_per_token()
    calls = demo_run.calls()
    for call in calls:
        per_in, per_out = prices[call.model]
        expected = call.prompt_tokens * per_in + call.completion_tokens * per_out
        assert call.cost == pytest.approx(expected, abs=1e-8), call.block
        assert call.cost > 0
    sources = {c.model.split("/")[0]: c.cost_source for c in calls}
    assert sources == {"native": "from the price table", "litellm": "billed by the proxy"}
    total = re.search(rf"^total: \$([0-9.]+) for {len(calls)} calls$", demo_run.stdout, re.M)
    assert total is not None
    assert float(total.group(1)) == pytest.approx(sum(c.cost for c in calls), abs=1e-8)


# ---------------------------------------------------------------------- interruption and errors


class LineReader:
    """Reads a process's stdout on a thread, so waiting for a line has a time limit."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(process,), daemon=True)
        self._thread.start()

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if found := pattern.search(line):
                return found
        raise AssertionError(f"no line matching {pattern.pattern!r}; output so far:\n{''.join(self.seen)}")

    def rest(self) -> str:
        """Everything printed, once the process has closed its output."""
        self._thread.join(timeout=30)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        return "".join(self.seen)


def slow_config(tmp_path: Path, stream_upstream: str | None = None) -> Path:
    """The demo config, but every proxy model waits 60 s before answering, so the demo is
    certainly mid-call when the test interrupts it; with ``stream_upstream``, the streamed
    prompt's model is the slow streaming upstream there instead (mid-stream, not mid-wait)."""
    data = demo_config()
    streamed_to = cheapest([k for k, info in model_infos().items() if info.get("supports_response_schema")])
    for model in data["model_list"]:
        if stream_upstream is None:
            model["litellm_params"]["mock_delay"] = 60
        elif f"litellm/{model['model_name']}" == streamed_to:
            model["litellm_params"] = {"model": "openai/slow-stream", "api_base": stream_upstream, "api_key": "fake"}
    path = tmp_path / "litellm-demo-slow.yaml"  # a path of its own: proxies_using() finds its proxy
    path.write_text(yaml.safe_dump(data))
    return path


class _SlowStreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SlowStream

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        base = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": int(time.time()), "model": "slow"}
        try:
            for i in range(240):  # two minutes: far longer than the test waits
                delta = {"role": "assistant", "content": f"w{i} "} if i == 0 else {"content": f"w{i} "}
                chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                if i == 3:
                    self.server.streaming.set()
                time.sleep(0.5)
        except OSError:  # the proxy hung up: the demo was interrupted
            return
        self.close_connection = True


class SlowStream(ThreadingHTTPServer):
    """An OpenAI-compatible upstream whose streamed answer takes minutes, one chunk every 0.5 s;
    ``streaming`` is set once a few chunks are out, so the demo is printing them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlowStreamHandler)
        self.streaming = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def slow_stream() -> Iterator[SlowStream]:
    server = SlowStream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def proxies_using(config: Path) -> list[int]:
    """Pids of processes started with ``config`` on their command line: a proxy the demo
    left behind, even one it never said it started."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config).encode() in args:
            found.append(int(cmdline.parent.name))
    return found


def start_demo(config: Path, *, shell_ignores_sigint: bool = False) -> tuple[subprocess.Popen[str], LineReader]:
    command = demo_command(config)
    if shell_ignores_sigint:
        # What `(make test &)` or a script's `cmd &` does: no job control, so the shell starts
        # the command with SIGINT ignored (and Python keeps it ignored).
        command = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
    # Otherwise the demo starts with SIGINT at its default, as from a terminal, whatever this
    # process inherited: exec resets a handled signal to the default but keeps an ignored one
    # ignored (a run of the tests started in the background ignored it, and lost a signal
    # sent before the demo's own handlers existed).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=demo_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    return process, LineReader(process)


#: Where the Ctrl-C lands: the demo must exit 130 with its proxy gone at every one of them.
CTRL_C_POINTS = ["at once", "while the proxy starts", "once the proxy is up", "mid-call", "mid-stream"]


@pytest.mark.parametrize("point", CTRL_C_POINTS)
def test_ctrl_c_anywhere_stops_the_proxy_and_exits_130(
    tmp_path: Path, point: str, request: pytest.FixtureRequest
) -> None:
    stream = request.getfixturevalue("slow_stream") if point == "mid-stream" else None
    config = slow_config(tmp_path, stream.base_url if stream is not None else None)
    process, reader = start_demo(config)
    pgid = port = None
    try:
        if point != "at once":  # at once: the interpreter may still be starting, before any handler
            pgid = int(reader.wait_for(STARTING_LINE, 60).group(1))
        if point in ("once the proxy is up", "mid-call", "mid-stream"):
            port = int(reader.wait_for(UP_LINE, TIME_LIMIT).group(2))
        if point == "mid-call":  # the code prompt waits 60 s on the proxy
            reader.wait_for(re.compile(r"^2\. code prompt"), 60)
        if stream is not None:
            assert stream.streaming.wait(120), f"the stream never started:\n{''.join(reader.seen)}"
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        output = reader.rest()
        if point == "at once" and "Interrupted" not in output and "Starting" not in output:
            # It landed before the demo installed its handlers (the interpreter starting, the
            # imports): Python dies of it, or reports a fatal error in its site import. Nothing
            # was started yet; proxies_using() below checks that.
            assert code != 0, output
        else:
            assert code == 130, output
            assert "Interrupted" in output
            assert "Traceback" not in output
        if pgid is not None:
            assert f"Stopped the LiteLLM proxy (pid {pgid});" in output
            assert group_gone(pgid)
        if port is not None:
            assert f"port {port} is closed." in output
            assert port_closed(port)
        if point == "mid-stream":
            assert re.search(r"answer \(streamed\): w0 w1 ", output), output  # it was mid-answer
        assert proxies_using(config) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for pid in proxies_using(config):
            kill_group(pid)


def test_ctrl_c_works_when_the_shell_started_the_demo_ignoring_it(tmp_path: Path) -> None:
    """How the Ctrl-C test once hung on CI: `make test` started in the background by a shell
    without job control, so every process it started ignored SIGINT."""
    config = slow_config(tmp_path)
    process, reader = start_demo(config, shell_ignores_sigint=True)
    pgid: int | None = None
    try:
        pgid = int(reader.wait_for(STARTING_LINE, 60).group(1))
        port = int(reader.wait_for(UP_LINE, TIME_LIMIT).group(2))
        reader.wait_for(re.compile(r"^2\. code prompt"), 60)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
        output = reader.rest()
        assert "Interrupted: stopping everything the demo started." in output
        assert f"Stopped the LiteLLM proxy (pid {pgid}); port {port} is closed." in output
        assert group_gone(pgid)
        assert proxies_using(config) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if pgid is not None:
            kill_group(pgid)


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGTERM, 143, "Terminated: stopping everything the demo started."),
        # Closing the terminal: the proxy runs in its own session and never sees the hang-up.
        (signal.SIGHUP, 129, "Hung up: stopping everything the demo started."),
    ],
)
def test_a_signal_while_the_proxy_starts_stops_it(signum: signal.Signals, code: int, said: str) -> None:
    process = subprocess.Popen(
        demo_command(),
        cwd=REPO,
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    pgid: int | None = None
    try:
        reader = LineReader(process)
        pgid = int(reader.wait_for(STARTING_LINE, 60).group(1))
        process.send_signal(signum)  # the proxy is still importing: seconds from ready
        assert process.wait(timeout=60) == code
        output = reader.rest()
        assert said in output
        assert f"Stopped the LiteLLM proxy (pid {pgid});" in output
        assert "Traceback" not in output
        assert group_gone(pgid)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if pgid is not None:
            kill_group(pgid)


START_FAILED = re.compile(
    r"^demo failed: the LiteLLM proxy exited with code (\d+) while starting \(bad config\?\); its log: (\S+)\n$"
)


@pytest.mark.parametrize("config", ["broken", "/etc/passwd"])
def test_a_proxy_that_cannot_start_is_one_stderr_line_naming_its_log(tmp_path: Path, config: str) -> None:
    path = Path(config)
    if config == "broken":
        path = tmp_path / "broken.yaml"
        path.write_text("model_list: 5\ngeneral_settings: {master_key: os.environ/LITELLM_MASTER_KEY}\n")
    elif not path.is_file():
        pytest.skip(f"{config} is not on this machine")
    result = subprocess.run(
        demo_command(path), cwd=REPO, env=demo_env(), capture_output=True, text=True, timeout=TIME_LIMIT
    )
    failed = START_FAILED.fullmatch(result.stderr)
    assert failed is not None, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    log = Path(failed.group(2))
    try:
        assert result.returncode == 1
        assert int(failed.group(1)) != 0
        assert "Traceback" not in result.stdout  # the proxy's own traceback stays in its log
        assert log.is_file()
        assert "Traceback" in log.read_text()  # the proxy's own words are kept there
        assert log.parent == Path(tempfile.gettempdir())  # outlives the proxy's removed workdir
        starting = STARTING_LINE.search(result.stdout)
        assert starting is not None
        assert group_gone(int(starting.group(1)))
    finally:
        log.unlink(missing_ok=True)


def test_a_missing_config_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = subprocess.run(demo_command(missing), cwd=REPO, env=demo_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"demo failed: demo config not found: {missing}\n"


# ---------------------------------------------------------------------- the launcher's promises (no proxy started)


def test_the_launcher_never_shows_the_master_key(tmp_path: Path) -> None:
    proxy = LiteLLMProxy(DEMO_CONFIG, tmp_path, "sk-secret-123")
    proxy.log_path.write_text("line one\nAuthorization: Bearer sk-secret-123\n")
    assert "sk-secret-123" not in repr(proxy)
    assert proxy.log_tail() == "line one\nAuthorization: Bearer ***"
    generated = LiteLLMProxy(DEMO_CONFIG)
    try:
        assert generated.master_key.startswith("sk-local-")
        assert generated.master_key not in repr(generated)
    finally:
        generated.stop()
    assert not generated.workdir.exists()  # its own temporary workdir is removed


def test_a_failed_start_keeps_a_masked_log(tmp_path: Path) -> None:
    own = LiteLLMProxy(DEMO_CONFIG, master_key="sk-secret-456")
    kept: Path | None = None
    try:
        own.log_path.write_text("booting\nkey sk-secret-456 rejected\nTraceback: boom\n")
        kept = own.keep_log()
        assert kept is not None
        own.stop()  # removes its own workdir, log included
        assert not own.log_path.exists()
        assert kept.read_text() == "booting\nkey *** rejected\nTraceback: boom\n"
    finally:
        own.stop()
        if kept is not None:
            kept.unlink(missing_ok=True)
    given = LiteLLMProxy(DEMO_CONFIG, tmp_path, "sk-secret-456")
    assert given.keep_log() is None  # no log yet
    given.log_path.write_text("x\n")
    assert given.keep_log() == given.log_path  # the caller's workdir stays, and so does the log


def test_a_missing_config_file_fails_before_anything_starts(tmp_path: Path) -> None:
    proxy = LiteLLMProxy(tmp_path / "missing.yaml", tmp_path)
    with pytest.raises(ProxyStartError, match=r"LiteLLM config not found: .*missing\.yaml"):
        proxy.launch()
    assert proxy.pid is None
    assert not (tmp_path / "litellm.log").exists()
