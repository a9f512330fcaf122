"""The "ModelMuxer in ten minutes" walkthrough of docs/modelmuxer.md, run from the page itself.

Every block marked ``<!-- walkthrough: NAME -->`` is extracted and run, in order, in one
``bash`` with ``set -euo pipefail``, in an empty directory, with only ``PATH`` (the venv's
``bin`` first), ``HOME``, ``LANG`` and ``MODELMUXER_SRC`` in the environment: the real LiteLLM proxy
with the packaged demo models, the operator's module, the generated files, ModelMuxer's real
app under uvicorn, and the curl calls. Each step's output is then checked.

Two adaptations, which the page states too: the ``install`` block is not run (it is checked
to install what ModelMuxer needs; the test uses this venv, or ``MUXER_WALKTHROUGH_VENV``, a
venv where the install block was run), and right after the ``ports`` block free ports replace
the documented ones. The process group the blocks start in is killed at the end, whatever
happened.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.hosts.conftest import REPO, modelmuxer_src
from tests.litellm_proxy import free_port

pytestmark = pytest.mark.integration

DOC = REPO / "docs" / "modelmuxer.md"
REQUIREMENTS = REPO / "tests" / "hosts" / "requirements-modelmuxer.txt"
STEP = re.compile(r"<!-- walkthrough: (?P<name>[\w-]+) -->\n```bash\n(?P<code>.*?)\n```", re.DOTALL)
#: The steps, in order; a step added to the page needs a check here.
STEPS = [
    "install",
    "ports",
    "proxy",
    "module",
    "files",
    "settings",
    "serve",
    "models",
    "providers",
    "auto-simple",
    "auto-code",
    "named",
    "stream",
    "error-unknown-model",
    "error-no-key",
    "stop",
]
NOT_RUN = {"install"}
MARK = "@@walkthrough-step "
#: The whole walkthrough; the proxy alone may take a minute or two on a busy machine.
TIMEOUT = 600
#: The demo's canned answers (muxer_litellm/demo/litellm-demo.yaml).
CAPITALS = '{"France": "Paris", "Germany": "Berlin", "Italy": "Rome"}'


def walkthrough() -> list[tuple[str, str]]:
    return [(m["name"], m["code"]) for m in STEP.finditer(DOC.read_text(encoding="utf-8"))]


def venv_bin() -> Path:
    venv = os.environ.get("MUXER_WALKTHROUGH_VENV")
    return Path(venv) / "bin" if venv else Path(sys.executable).parent


def script(steps: list[tuple[str, str]], proxy_port: int, mm_port: int) -> str:
    lines = ["set -euo pipefail"]
    for name, code in steps:
        if name in NOT_RUN:
            continue
        lines += [f"echo {shlex.quote(MARK + name)}", code]
        if name == "ports":
            lines.append(f"PROXY_PORT={proxy_port} MM_PORT={mm_port}")
    return "\n".join(lines) + "\n"


@dataclass
class Run:
    returncode: int | None
    outputs: dict[str, str]
    stderr: str
    workdir: Path

    def json(self, step: str) -> Any:
        return json.loads(self.outputs[step])

    def status_and_body(self, step: str) -> tuple[int, Any]:
        body, status = self.outputs[step].strip().rsplit("\n", 1)
        assert status.startswith("HTTP "), self.outputs[step]
        return int(status.removeprefix("HTTP ")), json.loads(body)

    def logs(self) -> str:
        tails = [f"--- stderr\n{self.stderr[-3000:]}"]
        for log in ("proxy.log", "modelmuxer.log"):
            path = self.workdir / log
            if path.exists():
                tails.append(f"--- {log}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(tails)


def split_outputs(stdout: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    current = None
    for line in stdout.splitlines(keepends=True):
        if line.startswith(MARK):
            current = line[len(MARK) :].strip()
            outputs[current] = ""
        elif current is not None:
            outputs[current] += line
    return outputs


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    steps = walkthrough()
    if [name for name, _ in steps] != STEPS:
        pytest.fail(f"docs/modelmuxer.md's walkthrough steps are {[n for n, _ in steps]}, the test checks {STEPS}")
    if shutil.which("curl") is None:
        message = "curl is missing: the walkthrough calls the proxy and ModelMuxer with it"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    bin_dir = venv_bin()
    for tool in ("python", "litellm", "muxer-litellm", "uvicorn"):
        if not (bin_dir / tool).exists():
            pytest.fail(f"{bin_dir / tool} is missing: make install (or the walkthrough's install block there)")
    work = tmp_path_factory.mktemp("walkthrough")
    home = work.parent / f"{work.name}-home"
    home.mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "MODELMUXER_SRC": str(modelmuxer_src()),
    }
    (work.parent / f"{work.name}.sh").write_text(script(steps, free_port(), free_port()))
    stdout_path, stderr_path = work.parent / f"{work.name}.out", work.parent / f"{work.name}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            ["bash", str(work.parent / f"{work.name}.sh")],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: the proxy and uvicorn included
        )
        try:
            returncode: int | None = process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            stop_group(process.pid)
            process.wait()
    return Run(
        returncode,
        split_outputs(stdout_path.read_text(errors="replace")),
        stderr_path.read_text(errors="replace"),
        work,
    )


def stop_group(pgid: int) -> None:
    """SIGTERM to the walkthrough's process group, SIGKILL to what is left after 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


# ---------------------------------------------------------------------------------- the page


def test_the_install_block_installs_what_modelmuxer_needs() -> None:
    install = dict(walkthrough())["install"]
    assert "pip install 'muxer-litellm[proxy]'" in install
    for line in REQUIREMENTS.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            assert f"'{requirement}'" in install, f"the install block lacks {requirement}"
    assert "export MODELMUXER_SRC=" in install
    assert not [name for name, code in walkthrough() if "shared" in code]  # an operator has their own checkout


def test_the_walkthrough_ran_to_the_end(run: Run) -> None:
    assert run.returncode == 0, run.logs()
    assert list(run.outputs) == [s for s in STEPS if s not in NOT_RUN]


# ---------------------------------------------------------------------------------- each answer


def test_the_proxy_started_and_the_files_were_written(run: Run) -> None:
    assert "I'm alive!" in run.outputs["proxy"], run.logs()
    assert "wrote 2 price rows to prices.json" in run.outputs["files"]
    assert "wrote 11 routing rules to routing_rules.json" in run.outputs["files"]
    prices = json.loads((run.workdir / "prices.json").read_text())
    assert prices["litellm:gpt-4o-mini"] == {"input_per_1k_usd": 0.00015, "output_per_1k_usd": 0.0006}
    assert "litellm:text-embedding-3-small" not in prices
    assert any(key.startswith("openai:") for key in prices)  # ModelMuxer's own rows, merged
    rules = json.loads((run.workdir / "routing_rules.json").read_text())["rules"]
    assert {"name": "litellm:code_gen", "intent": "code_gen", "prefer": ["litellm:claude-sonnet"]} in rules
    assert json.loads(run.outputs["serve"])["status"] == "healthy"


def test_the_first_models_listing_has_the_proxy_models(run: Run) -> None:
    models = {m["id"]: m for m in run.json("models")["data"]}
    assert {"litellm/claude-sonnet", "litellm/gpt-4o-mini", "auto", "router"} <= set(models)
    assert "litellm/text-embedding-3-small" not in models
    assert models["litellm/claude-sonnet"]["pricing"] == {"input": 0.003, "output": 0.015, "unit": "per_1k_tokens"}
    assert run.json("providers") == {
        "providers": {"litellm": {"name": "litellm", "models": ["claude-sonnet", "gpt-4o-mini"], "status": "available"}}
    }


@pytest.mark.parametrize(
    ("step", "model", "intent", "rule"),
    [
        ("auto-simple", "gpt-4o-mini", "chat_lite", "litellm:chat_lite"),
        ("auto-code", "claude-sonnet", "code_gen", "litellm:code_gen"),
    ],
)
def test_auto_picks_by_the_prompt(run: Run, step: str, model: str, intent: str, rule: str) -> None:
    body = run.json(step)
    meta = body["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"]) == ("litellm", model)
    assert (meta["intent_label"], meta["routing_rule"]) == (intent, rule)
    content = body["choices"][0]["message"]["content"]
    if model == "gpt-4o-mini":
        assert content == CAPITALS
    else:
        assert content.startswith("```python\ndef merge_sorted(")


def test_a_named_proxy_model(run: Run) -> None:
    meta = run.json("named")["router_metadata"]
    assert (meta["selected_provider"], meta["selected_model"]) == ("litellm", "claude-sonnet")
    assert meta["routing_reason"] == "Explicit model requested: litellm/claude-sonnet"


def test_the_stream_ends_with_what_the_proxy_billed(run: Run) -> None:
    frames = [line[len("data: ") :] for line in run.outputs["stream"].splitlines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert not [c for c in chunks if "error" in c]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text == CAPITALS
    last = chunks[-1]
    meta = last["router_metadata"]
    assert last["usage"]["completion_tokens"] > 0
    assert meta["cost_source"] == "proxy"
    assert meta["estimated_cost"] == last["usage"]["cost"] > 0
    assert meta["total_cost"] == meta["estimated_cost"]


def test_the_errors(run: Run) -> None:
    status, body = run.status_and_body("error-unknown-model")
    assert (status, body["error"]["type"]) == (402, "budget_exceeded")
    status, body = run.status_and_body("error-no-key")
    assert (status, body["error"]["code"]) == (401, "invalid_api_key")
