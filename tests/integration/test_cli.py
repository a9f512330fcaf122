"""The ``muxer-litellm`` CLI against the real LiteLLM proxy (see conftest.py for its models
and prices): the catalog table and JSON, health, a streamed chat with its billed cost, a
routing decision with every candidate's cost, the cost ranking, and the one-line failures
for a proxy that is not there, a wrong key and no key."""

from __future__ import annotations

import json
import re

import pytest

from muxer_litellm._utils import format_usd
from muxer_litellm.routing import estimate_prompt_tokens
from tests.cli_runner import CliRun, run_cli
from tests.fake_upstream import FakeUpstream
from tests.integration.conftest import CHEAP_IN, CHEAP_OUT, SMART_IN, SMART_OUT, STREAM_COST
from tests.litellm_proxy import LiteLLMProxy, free_port

pytestmark = pytest.mark.integration

WRONG_KEY = "sk-wrong-0123456789abcdef"


def invoke(proxy: LiteLLMProxy, *args: str, key: str | None = None, base_url: str | None = None) -> CliRun:
    """Run the CLI in-process against ``proxy`` (its master key unless ``key`` is given)."""
    env = {
        "COLUMNS": "200",
        "LITELLM_BASE_URL": base_url or proxy.base_url,
        "LITELLM_API_KEY": key if key is not None else proxy.master_key,
    }
    result = run_cli(list(args), env)
    for secret in (proxy.master_key, WRONG_KEY):
        assert secret not in result.output
    assert "Traceback" not in result.output
    return result


def row(output: str, first_cell: str) -> list[str]:
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


def one_error_line(result: CliRun, line: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def test_models_lists_the_proxy_models_with_their_prices(litellm_proxy: LiteLLMProxy) -> None:
    result = invoke(litellm_proxy, "models")
    assert result.exit_code == 0, result.output
    cheap = row(result.stdout, "cheap-chat")
    assert cheap[1:5] == ["openai/fake-chat-cheap", format_usd(CHEAP_IN * 1000), format_usd(CHEAP_OUT * 1000), "16,000"]
    assert cheap[5].split()[0] == "tools"
    assert cheap[6:] == ["proxy"]
    smart = row(result.stdout, "smart-chat")
    assert smart[1:5] == [
        "openai/fake-chat-smart",
        format_usd(SMART_IN * 1000),
        format_usd(SMART_OUT * 1000),
        "128,000",
    ]
    assert smart[5] == "tools vision json? reasoning"
    assert row(result.stdout, "mystery-chat")[2:4] == ["unknown", "unknown"]


def test_models_json(litellm_proxy: LiteLLMProxy) -> None:
    result = invoke(litellm_proxy, "models", "--json")
    assert result.exit_code == 0
    by_name = {r["name"]: r for r in json.loads(result.stdout)}
    assert by_name["cheap-chat"]["input_cost_per_1k"] == pytest.approx(CHEAP_IN * 1000)
    assert by_name["cheap-chat"]["output_cost_per_1k"] == pytest.approx(CHEAP_OUT * 1000)
    assert by_name["smart-chat"]["capabilities"]["vision"] is True
    assert by_name["mystery-chat"]["input_cost_per_1k"] is None
    assert by_name["mystery-chat"]["pricing_source"] == "unknown"


def test_health_ok(litellm_proxy: LiteLLMProxy, proxy_version: tuple[int, int, int]) -> None:
    result = invoke(litellm_proxy, "health")
    assert result.exit_code == 0, result.output
    version = ".".join(map(str, proxy_version))
    assert result.stdout.startswith(f"OK: LiteLLM proxy at {litellm_proxy.base_url} is ready (LiteLLM {version}")
    assert result.stdout.endswith(", the API key was accepted)\n")


def test_chat_streams_the_answer_and_prints_the_billed_cost(
    litellm_proxy: LiteLLMProxy, proxy_version: tuple[int, int, int]
) -> None:
    result = invoke(litellm_proxy, "chat", "hello there friend", "--model", "cheap-chat")
    assert result.exit_code == 0, result.output
    assert result.stdout == "echo: hello there friend\n"
    source = "proxy" if proxy_version >= STREAM_COST else "catalog"  # an older proxy's stream has no cost
    match = re.fullmatch(rf"tokens: (\d+) in, (\d+) out \| cost: \$([0-9.]+) \({source}\)\n", result.stderr)
    assert match is not None, result.stderr
    prompt, completion, cost = int(match[1]), int(match[2]), float(match[3])
    assert prompt > 0
    assert completion == 4  # "echo: hello there friend"
    assert cost == pytest.approx(prompt * CHEAP_IN + completion * CHEAP_OUT, rel=1e-3)


def test_chat_prints_the_answer_byte_for_byte(litellm_proxy: LiteLLMProxy) -> None:
    # The fake upstream echoes the prompt, tabs and CRLF included, through the real proxy's stream.
    prompt = "all:\r\n\tcc -o app main.c\r\n\techo\tdone"
    result = invoke(litellm_proxy, "chat", prompt, "--model", "cheap-chat")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == f"echo: {prompt}\n".encode()


def test_chat_unknown_model_lists_the_proxys_models(litellm_proxy: LiteLLMProxy) -> None:
    result = invoke(litellm_proxy, "chat", "hi", "--model", "no-such-model")
    assert result.exit_code == 1
    prefix = "error: model 'no-such-model' is not on the proxy; available: "
    assert result.stderr.startswith(prefix)
    listed = result.stderr.removeprefix(prefix).strip().split(", ")
    assert {"cheap-chat", "smart-chat", "mystery-chat"} <= set(listed)
    assert "embed" not in listed


def test_route_chooses_cheap_chat_and_costs_every_candidate_without_calling(
    litellm_proxy: LiteLLMProxy, fake_upstream: FakeUpstream
) -> None:
    prompt = "What is the capital of France?"
    calls_before = len(fake_upstream.requests)
    result = invoke(litellm_proxy, "route", prompt)
    assert result.exit_code == 0, result.output
    tokens = estimate_prompt_tokens([{"role": "user", "content": prompt}])
    cheap = tokens * CHEAP_IN + 256 * CHEAP_OUT
    assert result.stdout.splitlines()[0] == f"route: litellm/cheap-chat (strategy heuristic, est. {format_usd(cheap)})"
    assert row(result.stdout, "litellm/cheap-chat")[2:] == [format_usd(cheap), "chosen"]
    assert row(result.stdout, "litellm/smart-chat")[2] == format_usd(tokens * SMART_IN + 256 * SMART_OUT)
    assert row(result.stdout, "litellm/mystery-chat")[2] == "unknown"
    assert len(fake_upstream.requests) == calls_before


def test_route_run_answers_with_cost_and_attempts(litellm_proxy: LiteLLMProxy) -> None:
    result = invoke(litellm_proxy, "route", "What is the capital of France?", "--run")
    assert result.exit_code == 0, result.output
    assert "answer from litellm/cheap-chat:\necho: What is the capital of France?\n" in result.stdout
    assert re.search(r"cost: \$[0-9.]+ \(proxy\); total \$[0-9.]+ over 1 attempt\(s\)", result.stdout)
    assert row(result.stdout, "1")[1:3] == ["litellm/cheap-chat", "ok"]


def test_cost_orders_cheapest_first_unknown_last(litellm_proxy: LiteLLMProxy) -> None:
    result = invoke(litellm_proxy, "cost", "--in", "1000", "--out", "1000", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records[0]["model"] == "cheap-chat"
    assert records[0]["cost"] == pytest.approx(1000 * CHEAP_IN + 1000 * CHEAP_OUT)
    known = [r["cost"] for r in records if r["cost"] is not None]
    assert known == sorted(known)
    assert all(r["cost"] is None for r in records[len(known) :])
    assert "mystery-chat" in [r["model"] for r in records[len(known) :]]
    table = invoke(litellm_proxy, "cost", "--in", "1000", "--out", "1000")
    assert row(table.stdout, "1")[1:3] == ["cheap-chat", format_usd(1000 * CHEAP_IN + 1000 * CHEAP_OUT)]


@pytest.mark.parametrize("command", [["models"], ["health"], ["chat", "hi", "-m", "cheap-chat"], ["route", "hi"]])
def test_unreachable_proxy_is_one_line(litellm_proxy: LiteLLMProxy, command: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    one_error_line(
        invoke(litellm_proxy, *command, base_url=url),
        f"error: LiteLLM proxy not reachable at {url} — start it (litellm --config config.yaml --port 4000) "
        "or set LITELLM_BASE_URL",
    )


@pytest.mark.parametrize(
    "command", [["models"], ["health"], ["chat", "hi", "-m", "cheap-chat"], ["cost", "--in", "1", "--out", "1"]]
)
def test_wrong_key_is_one_line(litellm_proxy: LiteLLMProxy, command: list[str]) -> None:
    one_error_line(
        invoke(litellm_proxy, *command, key=WRONG_KEY),
        f"error: the proxy at {litellm_proxy.base_url} rejected the API key — set LITELLM_API_KEY to its master "
        "key or a valid virtual key",
    )


@pytest.mark.parametrize(
    ("command", "path"),
    [
        (["models"], "/model/info"),
        (["cost", "--in", "1", "--out", "1"], "/model/info"),
        (["route", "hi"], "/model/info"),
        (["health"], "/health/readiness"),
        (["chat", "hi", "-m", "cheap-chat"], "/v1/chat/completions"),
    ],
)
def test_a_wrong_base_url_path_is_named(litellm_proxy: LiteLLMProxy, command: list[str], path: str) -> None:
    url = f"{litellm_proxy.base_url}/proxy"  # the real proxy answers 404 {"detail": "Not Found"} there
    one_error_line(
        invoke(litellm_proxy, *command, base_url=url),
        f"error: no LiteLLM proxy API at {url} (404 on {path}) — check LITELLM_BASE_URL (host, port and path)",
    )


def test_no_key_is_one_line(litellm_proxy: LiteLLMProxy) -> None:
    one_error_line(
        invoke(litellm_proxy, "models", key=""),
        f"error: the proxy at {litellm_proxy.base_url} needs an API key and none was sent — set LITELLM_API_KEY "
        "(or --api-key) to its master key or a virtual key",
    )
