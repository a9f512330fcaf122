"""The ``muxer-litellm`` CLI against a respx-mocked proxy: each command's output for
representative replies, ``--json`` that parses and holds the same numbers, the one-line
failure for every cause (unreachable, wrong key, no key, unknown model, timeout, bad input),
exit codes, and the key never appearing in any output."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider
from muxer_litellm._utils import format_usd, strip_url_credentials
from muxer_litellm.cli.render import (
    CostRow,
    capability_tags,
    failure_line,
    health_failure_line,
    one_line,
    sort_costs,
    usage_line,
)
from muxer_litellm.errors import (
    AuthenticationError,
    FallbackExhaustedError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ReplyTooLargeError,
)
from muxer_litellm.host import ModelCard, RouterMetadata, Usage
from muxer_litellm.routing import estimate_prompt_tokens
from tests.cli_runner import CliRun, run_cli
from tests.unit.replies import (
    API_KEY,
    BASE_URL,
    chat_body,
    chunk,
    deployment,
    error_body,
    final_chunk,
    model_info,
    sse,
)

# Per token, as /model/info reports them; per 1K they are 0.0001/0.0004 and 0.003/0.015.
CHEAP_IN, CHEAP_OUT = 1e-07, 4e-07
SMART_IN, SMART_OUT = 3e-06, 1.5e-05
CATALOG = model_info(
    deployment(
        "cheap-chat",
        upstream="openai/fake-cheap",
        input_cost=CHEAP_IN,
        output_cost=CHEAP_OUT,
        max_input_tokens=16000,
        supports_function_calling=True,
    ),
    deployment(
        "smart-chat",
        upstream="openai/fake-smart",
        input_cost=SMART_IN,
        output_cost=SMART_OUT,
        max_input_tokens=128000,
        supports_function_calling=True,
        supports_vision=True,
        supports_reasoning=True,
    ),
    deployment("mystery-chat", upstream="openai/fake-mystery"),
    deployment("embed", upstream="openai/fake-embed", input_cost=CHEAP_IN, output_cost=0.0, mode="embedding"),
)
READY = {"status": "healthy", "db": "Not connected", "litellm_version": "1.106.2"}
STREAM_HEADERS = {"content-type": "text/event-stream"}
UNREACHABLE = (
    f"error: LiteLLM proxy not reachable at {BASE_URL} — start it (litellm --config config.yaml --port 4000) "
    "or set LITELLM_BASE_URL"
)
KEY_REJECTED = (
    f"error: the proxy at {BASE_URL} rejected the API key — set LITELLM_API_KEY to its master key or a valid "
    "virtual key"
)
NO_KEY = (
    f"error: the proxy at {BASE_URL} needs an API key and none was sent — set LITELLM_API_KEY (or --api-key) "
    "to its master key or a virtual key"
)
NO_DB = error_body("No connected db.", "no_db_connection", "400")


def invoke(*args: str, key: str | None = API_KEY, base_url: str | None = BASE_URL) -> CliRun:
    """Run the CLI in-process; the key must never show up, whatever happened."""
    env = {"COLUMNS": "200", "LITELLM_BASE_URL": base_url, "LITELLM_API_KEY": key}
    result = run_cli(list(args), env)
    assert API_KEY not in result.stdout
    assert API_KEY not in result.stderr
    assert "Traceback" not in result.output
    return result


def failed_with(result: CliRun, line: str) -> None:
    """Exit 1, nothing on stdout, exactly ``line`` on stderr."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def row(output: str, name: str) -> list[str]:
    """The cells of the table row whose first cell is ``name``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{output}")


def stream_reply(*frames: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, content=sse(*frames), headers=STREAM_HEADERS)


@pytest.fixture
def catalog(proxy: respx.MockRouter) -> respx.Route:
    return proxy.get("/model/info").mock(return_value=httpx.Response(200, json=CATALOG))


# ---------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("flags", "tags"),
    [
        ({"supports_function_calling": True, "supports_vision": False}, "tools json? reasoning?"),
        (
            {
                "supports_function_calling": True,
                "supports_vision": True,
                "supports_response_schema": True,
                "supports_reasoning": True,
            },
            "tools vision json reasoning",
        ),
        ({}, "?"),
        (
            {
                "supports_function_calling": False,
                "supports_vision": False,
                "supports_response_schema": False,
                "supports_reasoning": False,
            },
            "-",
        ),
        ({"mode": "embedding", "supports_function_calling": True}, "embedding"),
    ],
)
def test_capability_tags_keep_unknown_apart_from_no(flags: dict[str, Any], tags: str) -> None:
    assert capability_tags(ModelCard(name="m", **flags)) == tags


def test_sort_costs_cheapest_first_unknown_last_in_given_order() -> None:
    rows = [CostRow(n, c, None, None, "proxy") for n, c in [("u1", None), ("b", 0.2), ("a", 0.1), ("u2", None)]]
    assert [r.model for r in sort_costs(rows)] == ["a", "b", "u1", "u2"]


def test_one_line_collapses_newlines() -> None:
    assert one_line("boom\n  Traceback:\n\tline 3 ") == "boom Traceback: line 3"


@pytest.mark.parametrize(
    ("exc", "key_sent", "expected"),
    [
        (ProviderUnavailableError("LiteLLM proxy not reachable at x (ConnectError: refused)"), True, UNREACHABLE),
        (AuthenticationError("LiteLLM proxy returned 401: key rejected: no", 401), True, KEY_REJECTED),
        (AuthenticationError("LiteLLM proxy returned 401: key rejected: no", 401), False, NO_KEY),
        (
            ProviderUnavailableError("500: Internal Server Error (no API key is set: set LITELLM_API_KEY)", 500),
            False,
            NO_KEY,
        ),
        (
            ProviderTimeoutError("LiteLLM proxy at x did not answer in time (ReadTimeout: slow)"),
            True,
            f"error: the proxy at {BASE_URL} did not answer in time — check it is up, or raise LITELLM_TIMEOUT "
            "(--timeout)",
        ),
        (
            ProviderUnavailableError("LiteLLM proxy returned 503: down\nnow", 503),
            True,
            "error: LiteLLM proxy returned 503: down now",
        ),
        (ProviderError(f"echoed {API_KEY}"), True, "error: echoed ***"),
        (
            ProviderTimeoutError("no data event within timeout=3s", model="m", limit="timeout"),
            True,
            f"error: the proxy at {BASE_URL} sent no data within the timeout for model 'm'; the call was stopped — "
            "check the proxy and its upstream, or raise LITELLM_TIMEOUT",
        ),
        (
            ProviderTimeoutError("the stream outlived stream_timeout=9s", limit="stream_timeout"),
            True,
            f"error: the proxy at {BASE_URL} streamed past the stream timeout; the call was stopped — "
            "check the proxy and its upstream, or raise LITELLM_STREAM_TIMEOUT",
        ),
        (
            ReplyTooLargeError("too big\nreally", 200, model="m", limit="max_chat_reply_bytes", limit_bytes=2048),
            True,
            f"error: the proxy at {BASE_URL} sent a reply past LITELLM_MAX_CHAT_REPLY_BYTES (2,048 bytes decoded) "
            "for model 'm'; the call was stopped — raise LITELLM_MAX_CHAT_REPLY_BYTES if such replies are expected",
        ),
    ],
)
def test_failure_line_names_cause_and_fix(exc: ProviderError, key_sent: bool, expected: str) -> None:
    assert failure_line(exc, base_url=BASE_URL, key_sent=key_sent, secrets=[API_KEY]) == expected


def test_failure_line_reads_through_fallback_exhausted() -> None:
    last = AuthenticationError("LiteLLM proxy returned 401: key rejected", 401)
    exc = FallbackExhaustedError("heuristic: every candidate failed (...)", [], last)
    assert failure_line(exc, base_url=BASE_URL, key_sent=True) == KEY_REJECTED


def test_failure_line_claims_an_unknown_model_only_with_the_catalog_in_hand() -> None:
    exc = ModelNotFoundError("LiteLLM proxy returned 400: model not found: Invalid model name", 400, model="gpt-9")
    with_list = failure_line(exc, base_url=BASE_URL, key_sent=True, available=["a", "b"])
    assert with_list == "error: model 'gpt-9' is not on the proxy; available: a, b"
    empty = failure_line(exc, base_url=BASE_URL, key_sent=True, available=[])
    assert empty == "error: model 'gpt-9' is not on the proxy (it lists no chat models)"
    # No catalog: the proxy's own words, not a claim we cannot check.
    unknown = failure_line(exc, base_url=BASE_URL, key_sent=True)
    assert unknown == "error: LiteLLM proxy returned 400: model not found: Invalid model name"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://user:secret@proxy.test:4000", "http://proxy.test:4000"),
        (
            "at https://alice:p%40ss@h.example/litellm/x and http://h2:1",
            "at https://h.example/litellm/x and http://h2:1",
        ),
        ("HTTP://token@host/a@b", "HTTP://host/a@b"),
        ("http://proxy.test:4000/path", "http://proxy.test:4000/path"),
    ],
)
def test_display_url_drops_credentials_only(text: str, shown: str) -> None:
    assert strip_url_credentials(text) == shown


@pytest.mark.parametrize(
    ("reason", "key_sent", "expected"),
    [
        ("LiteLLM proxy not reachable at x (ConnectError: refused)", True, UNREACHABLE),
        ("the LiteLLM proxy rejected the API key (400 no_db_connection: ...)", True, KEY_REJECTED),
        ("LiteLLM proxy returned 500: Internal Server Error (no API key is set: set LITELLM_API_KEY)", False, NO_KEY),
        ("LiteLLM proxy at x did not answer in time (ConnectTimeout: )", True, UNREACHABLE),
        (
            "no answer within 5s",
            True,
            f"error: the proxy at {BASE_URL} did not answer in time — check it is up, or raise "
            "LITELLM_HEALTH_TIMEOUT (--timeout)",
        ),
        (
            "LiteLLM proxy readiness says 'unhealthy'",
            True,
            f"error: the proxy at {BASE_URL} is not healthy: LiteLLM proxy readiness says 'unhealthy'",
        ),
    ],
)
def test_health_failure_line(reason: str, key_sent: bool, expected: str) -> None:
    assert health_failure_line(reason, base_url=BASE_URL, key_sent=key_sent) == expected


# ---------------------------------------------------------------------------- models


def test_models_table_shows_prices_per_1k_capabilities_and_unknowns(catalog: respx.Route) -> None:
    result = invoke("models")
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "cheap-chat") == [
        "cheap-chat",
        "openai/fake-cheap",
        "$0.0001",
        "$0.0004",
        "16,000",
        "tools vision? json? reasoning?",
        "proxy",
    ]
    assert row(result.stdout, "smart-chat")[2:6] == ["$0.003", "$0.015", "128,000", "tools vision json? reasoning"]
    assert row(result.stdout, "mystery-chat")[2:] == ["unknown", "unknown", "?", "?", "unknown"]
    assert row(result.stdout, "embed")[2:4] == ["$0.0001", "$0.00"]  # a real 0 output price stays $0
    assert "breaker" not in result.stdout  # a one-shot process has no routing state to report
    assert catalog.call_count == 1
    assert catalog.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"


def test_models_json_is_the_only_stdout_and_holds_numbers(catalog: respx.Route) -> None:
    result = invoke("models", "--json")
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert [r["name"] for r in records] == ["cheap-chat", "embed", "mystery-chat", "smart-chat"]  # by name
    cheap, embed, mystery, _ = records
    assert cheap["input_cost_per_1k"] == pytest.approx(CHEAP_IN * 1000)
    assert cheap["output_cost_per_1k"] == pytest.approx(CHEAP_OUT * 1000)
    assert cheap["context_window"] == 16000
    assert cheap["capabilities"] == {"tools": True, "vision": None, "json": None, "reasoning": None}
    assert cheap["pricing_source"] == "proxy"
    assert "breaker_state" not in cheap  # a one-shot process has no routing state to report
    assert mystery["input_cost_per_1k"] is None
    assert mystery["output_cost_per_1k"] is None
    assert mystery["pricing_source"] == "unknown"
    assert embed["mode"] == "embedding"
    assert embed["output_cost_per_1k"] == 0.0


@pytest.mark.parametrize("command", [["models", "--json"], ["cost", "--in", "1000", "--out", "500", "--json"]])
def test_json_stays_parseable_while_the_spinner_draws(catalog: respx.Route, command: list[str]) -> None:
    # FORCE_COLOR makes rich treat stderr as a terminal, so the spinner really runs (and rich
    # redirects stdout while it does): the JSON must still be all of stdout.
    env = {"COLUMNS": "80", "FORCE_COLOR": "1", "LITELLM_BASE_URL": BASE_URL, "LITELLM_API_KEY": API_KEY}
    result = run_cli(command, env)
    assert result.exit_code == 0, result.output
    assert "Reading the model catalog" in result.stderr  # the spinner was drawn
    assert "\x1b[" in result.stderr
    records = json.loads(result.stdout)
    assert len(records) in (3, 4)
    assert API_KEY not in result.output


def test_prices_never_wrap_in_an_80_column_table(proxy: respx.MockRouter) -> None:
    long = model_info(
        deployment(
            "a-model-with-a-rather-long-name",
            upstream="openai/an-upstream-name-that-is-long-too",
            input_cost=1.5e-07,
            output_cost=6e-07,
            max_input_tokens=128000,
            supports_function_calling=True,
        ),
    )
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=long))
    env = {"COLUMNS": "80", "LITELLM_BASE_URL": BASE_URL, "LITELLM_API_KEY": API_KEY}
    for command, name_column, cells in (
        (["models"], 0, ["$0.00015", "$0.0006", "128,000"]),
        (
            ["cost", "--in", "1000", "--out", "1000"],
            1,
            [format_usd(1000 * 1.5e-07 + 1000 * 6e-07), "$0.00015", "$0.0006"],
        ),
    ):
        result = run_cli(command, env)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80
        rows = [[c.strip() for c in line.strip("│").split("│")] for line in lines if line.startswith("│")]
        for cell in cells:
            assert cell in rows[0], f"{cell!r} wrapped:\n{result.stdout}"
        assert "".join(r[name_column] for r in rows) == "a-model-with-a-rather-long-name"  # names fold, whole


def test_models_on_an_empty_proxy_says_so(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=model_info()))
    result = invoke("models")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"The proxy at {BASE_URL} lists no models."
    assert json.loads(invoke("models", "--json").stdout) == []


def test_models_unreachable(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    failed_with(invoke("models", "--json"), UNREACHABLE)


def test_models_wrong_key(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(return_value=httpx.Response(400, json=NO_DB))
    failed_with(invoke("models"), KEY_REJECTED)


def test_models_no_key_against_a_keyed_proxy(proxy: respx.MockRouter) -> None:
    route = proxy.get("/model/info").mock(return_value=httpx.Response(500, text="Internal Server Error"))
    failed_with(invoke("models", key=None), NO_KEY)
    assert "authorization" not in route.calls.last.request.headers


NOT_FOUND = httpx.Response(404, json={"detail": "Not Found"})  # the proxy's reply for a path it does not serve


def no_api(path: str, url: str = f"{BASE_URL}/proxy") -> str:
    return f"error: no LiteLLM proxy API at {url} (404 on {path}) — check LITELLM_BASE_URL (host, port and path)"


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
def test_a_wrong_base_url_path_is_named_not_taken_for_an_unknown_model(
    proxy: respx.MockRouter, command: list[str], path: str
) -> None:
    everything = proxy.route().mock(return_value=NOT_FOUND)
    failed_with(invoke(*command, base_url=f"{BASE_URL}/proxy"), no_api(path))
    assert everything.calls.last.request.url.path.startswith("/proxy/")


def test_a_404_page_from_another_server_is_a_wrong_url(proxy: respx.MockRouter) -> None:
    page = httpx.Response(404, text="<html><body><h1>404 Not Found</h1>nginx</body></html>")
    proxy.route().mock(return_value=page)
    failed_with(invoke("chat", "hi", "-m", "cheap-chat"), no_api("/v1/chat/completions", BASE_URL))


def test_deep_health_on_a_wrong_path(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY))
    proxy.get("/v1/models").mock(return_value=httpx.Response(200, json={"data": []}))
    proxy.get("/health").mock(return_value=NOT_FOUND)
    result = invoke("health", "--deep")
    assert result.exit_code == 1
    assert result.stderr == no_api("/health", BASE_URL) + "\n"


def test_options_beat_the_environment(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    other = "sk-from-the-option-77"
    result = invoke("--base-url", f"{BASE_URL}/v1", "--api-key", other, "models", base_url="http://elsewhere:1")
    assert result.exit_code == 0, result.output
    assert catalog.calls.last.request.headers["authorization"] == f"Bearer {other}"
    assert other not in result.output


def test_bad_base_url_is_one_line_naming_the_setting() -> None:
    result = invoke("models", base_url="localhost:4000")
    failed_with(
        result,
        "error: invalid setting LITELLM_BASE_URL / --base-url: LiteLLM base_url must be an http(s) URL such as "
        "http://localhost:4000, got 'localhost:4000'",
    )


def test_credentials_in_the_base_url_are_refused_and_never_printed(proxy: respx.MockRouter) -> None:
    # httpx would send them as Basic auth instead of the key, so the URL is refused up front.
    everything = proxy.route().mock(return_value=httpx.Response(200, json=READY))
    for command in ("health", "models"):
        result = invoke(command, base_url="http://alice:s3cret-pw@proxy.test:4000")
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.startswith("error: invalid setting LITELLM_BASE_URL")
        assert "must not contain a user or password" in result.stderr
        assert "s3cret" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert not everything.called


def test_a_non_ascii_key_is_named_and_never_printed(proxy: respx.MockRouter) -> None:
    everything = proxy.route().mock(return_value=httpx.Response(200, json=CATALOG))
    result = invoke("models", key="sk-clé-4f9c")
    failed_with(
        result, "error: LITELLM_API_KEY contains non-ASCII characters (check --api-key, the environment and .env)"
    )
    assert "clé" not in result.output
    assert not everything.called


def test_help_never_shows_the_key() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "LITELLM_API_KEY" in result.stdout


@pytest.mark.parametrize("args", [[], ["--debug"]])
def test_no_command_shows_the_help_as_a_usage_error(catalog: respx.Route, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Usage: muxer-litellm" in result.stdout
    for command in ("models", "health", "chat", "route", "cost", "demo"):
        assert command in result.stdout
    assert catalog.call_count == 0


def test_the_cli_uses_no_click_and_no_typer_internals() -> None:
    """click is not a dependency (typer >= 0.26 vendors its own copy), and typer's private
    modules change without notice: only ``typer`` and ``typer.testing`` are imported."""
    allowed = {"typer", "typer.testing"}
    root = Path(__file__).resolve().parents[3]
    sources = [*sorted((root / "muxer_litellm").rglob("*.py")), *sorted((root / "tests").rglob("*.py"))]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top != "click", f"{source}:{node.lineno} imports click"
                assert top != "typer" or name in allowed, f"{source}:{node.lineno} imports {name}"


def test_unexpected_errors_are_one_line_unless_debug(catalog: respx.Route, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: LiteLLMProvider, *, force: bool = False) -> list[ModelCard]:
        raise RuntimeError("a bug\nwith two lines")

    monkeypatch.setattr(LiteLLMProvider, "refresh_models", broken)
    log = logging.getLogger("muxer_litellm")
    monkeypatch.setattr(log, "level", log.level)  # --debug turns the library's logs up; undo it after
    monkeypatch.setattr(log, "handlers", list(log.handlers))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    failed_with(
        invoke("models"), "error: unexpected RuntimeError: a bug with two lines (rerun with --debug for details)"
    )
    result = run_cli(["--debug", "models"], {"LITELLM_BASE_URL": BASE_URL})
    assert isinstance(result.exception, RuntimeError)  # raised: Python prints its traceback


# ---------------------------------------------------------------------------- health


def test_health_ok(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY))
    proxy.get("/v1/models").mock(return_value=httpx.Response(200, json={"data": []}))
    result = invoke("health")
    assert result.exit_code == 0
    assert result.stdout == f"OK: LiteLLM proxy at {BASE_URL} is ready (LiteLLM 1.106.2, the API key was accepted)\n"
    assert result.stderr == ""


def test_health_unreachable(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness").mock(side_effect=httpx.ConnectError("Connection refused"))
    failed_with(invoke("health"), UNREACHABLE)


def test_health_wrong_key(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY))
    proxy.get("/v1/models").mock(return_value=httpx.Response(400, json=NO_DB))
    failed_with(invoke("health"), KEY_REJECTED)


def test_health_no_key(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY))
    proxy.get("/v1/models").mock(return_value=httpx.Response(500, text="Internal Server Error"))
    failed_with(invoke("health", key=None), NO_KEY)


def test_health_not_ready_names_the_reason(proxy: respx.MockRouter) -> None:
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json={"status": "unhealthy"}))
    failed_with(
        invoke("health"), f"error: the proxy at {BASE_URL} is not healthy: LiteLLM proxy readiness says 'unhealthy'"
    )


def test_health_deep_tables_every_deployment_and_fails_on_an_unhealthy_one(
    proxy: respx.MockRouter, catalog: respx.Route
) -> None:
    proxy.get("/health/readiness").mock(return_value=httpx.Response(200, json=READY))
    proxy.get("/v1/models").mock(return_value=httpx.Response(200, json={"data": []}))
    deep = {
        "healthy_endpoints": [{"model": "openai/fake-cheap", "model_id": "id-cheap-chat"}],
        "unhealthy_endpoints": [
            {"model": "openai/fake-smart", "model_id": "id-smart-chat", "error": "upstream exploded\nstack..."}
        ],
    }
    proxy.get("/health").mock(return_value=httpx.Response(200, json=deep))
    result = invoke("health", "--deep")
    assert result.exit_code == 1
    assert row(result.stdout, "cheap-chat") == ["cheap-chat", "openai/fake-cheap", "id-cheap-chat", "healthy", ""]
    assert row(result.stdout, "smart-chat") == [
        "smart-chat",
        "openai/fake-smart",
        "id-smart-chat",
        "unhealthy",
        "upstream exploded",
    ]
    assert result.stderr == "1 of 2 deployment(s) unhealthy\n"


def test_tables_print_brackets_verbatim_not_as_markup(proxy: respx.MockRouter) -> None:
    odd = model_info(deployment("team[a]-chat", upstream="openai/[bold]x[/bold]"))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=odd))
    result = invoke("models")
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "team[a]-chat")[1] == "openai/[bold]x[/bold]"


# ---------------------------------------------------------------------------- chat


def test_chat_streams_text_then_tokens_and_proxy_cost(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    route = proxy.post("/v1/chat/completions").mock(
        return_value=stream_reply(chunk("Hel"), chunk("lo!"), final_chunk(10, 2, cost=0.000123))
    )
    result = invoke("chat", "Say hello", "--model", "cheap-chat", "--system", "Be brief.", "--max-tokens", "20")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello!\n"
    assert result.stderr == "tokens: 10 in, 2 out | cost: $0.000123 (proxy)\n"
    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == "cheap-chat"
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
    assert sent["max_tokens"] == 20
    assert sent["stream"] is True


def test_chat_prices_from_the_catalog_when_the_proxy_did_not(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=stream_reply(chunk("ok\n"), final_chunk(1000, 500)))
    result = invoke("chat", "hi", "-m", "cheap-chat")
    assert result.exit_code == 0
    assert result.stdout == "ok\n"  # no extra blank line after an answer that ends with one
    expected = (1000 * CHEAP_IN) + (500 * CHEAP_OUT)
    assert result.stderr == f"tokens: 1000 in, 500 out | cost: {format_usd(expected)} (catalog)\n"
    assert format_usd(expected) == "$0.0003"


def test_chat_writes_the_answer_byte_for_byte(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    # Tabs and CRLF matter in code and Makefiles; rich's Console.out would expand and drop them.
    pieces = ["all:\r\n", "\tcc -o app", " main.c\r\n", "\tx\ty\r"]
    proxy.post("/v1/chat/completions").mock(
        return_value=stream_reply(*(chunk(p) for p in pieces), final_chunk(3, 9, cost=0.0001))
    )
    result = invoke("chat", "makefile please", "-m", "cheap-chat")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == ("".join(pieces) + "\n").encode()
    assert result.stderr == "tokens: 3 in, 9 out | cost: $0.0001 (proxy)\n"


def test_chat_without_usage_says_the_proxy_sent_none(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    # cheap-chat has a price: "no price" would send the operator looking in the wrong place.
    proxy.post("/v1/chat/completions").mock(return_value=stream_reply(chunk("hi"), chunk("!")))
    result = invoke("chat", "hi", "-m", "cheap-chat")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hi!\n"
    assert result.stderr == "tokens: unknown | cost: unknown (the proxy reported no usage)\n"


def test_usage_line_tells_no_usage_from_no_price() -> None:
    meta = RouterMetadata(
        selected_provider="litellm", selected_model="m", routing_reason="", response_time_ms=1.0, cost_source="unknown"
    )
    priced = meta.model_copy(update={"estimated_cost": 0.0000052, "cost_source": "proxy"})
    usage = Usage(prompt_tokens=4, completion_tokens=1, total_tokens=5)
    assert usage_line(None, meta, "m") == "tokens: unknown | cost: unknown (the proxy reported no usage)"
    assert usage_line(None, None, "m") == "tokens: unknown | cost: unknown (the proxy reported no usage)"
    assert usage_line(usage, meta, "m") == "tokens: 4 in, 1 out | cost: unknown (no price for 'm' on the proxy)"
    assert usage_line(usage, priced, "m") == "tokens: 4 in, 1 out | cost: $0.0000052 (proxy)"


def test_chat_unknown_price_is_unknown_not_zero(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=stream_reply(chunk("hm"), final_chunk(4, 1)))
    result = invoke("chat", "hi", "-m", "mystery-chat")
    assert result.exit_code == 0
    assert result.stderr == "tokens: 4 in, 1 out | cost: unknown (no price for 'mystery-chat' on the proxy)\n"


def test_chat_unknown_model_lists_the_proxys_chat_models(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    body = error_body("Invalid model name passed in model=gpt-9. Call `/v1/models` to view", "invalid_request", "400")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(400, json=body))
    failed_with(
        invoke("chat", "hi", "--model", "gpt-9"),
        "error: model 'gpt-9' is not on the proxy; available: cheap-chat, mystery-chat, smart-chat",
    )


def test_chat_unknown_model_without_a_catalog_shows_the_proxys_words(proxy: respx.MockRouter) -> None:
    body = error_body("Invalid model name passed in model=gpt-9.", "invalid_request", "400")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(400, json=body))
    proxy.get("/model/info").mock(return_value=httpx.Response(503, json=error_body("down")))
    failed_with(
        invoke("chat", "hi", "--model", "gpt-9"),
        "error: LiteLLM proxy returned 400: model not found: Invalid model name passed in model=gpt-9.",
    )


def test_chat_404_for_a_model_the_catalog_has_is_not_called_unknown(
    proxy: respx.MockRouter, catalog: respx.Route
) -> None:
    # The proxy knows cheap-chat; its upstream does not: a LiteLLM error body, so no wrong-URL line either.
    body = error_body("litellm.NotFoundError: OpenAIException - model fake-cheap does not exist", None, "404")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(404, json=body))
    failed_with(
        invoke("chat", "hi", "-m", "cheap-chat"),
        "error: LiteLLM proxy returned 404: model not found: litellm.NotFoundError: OpenAIException - model "
        "fake-cheap does not exist",
    )
    assert catalog.call_count == 1  # read once, to check the claim


def test_chat_with_an_embedding_model_says_so_from_the_catalogs_mode(
    proxy: respx.MockRouter, catalog: respx.Route
) -> None:
    # What the proxy answers a chat call to an embedding model: an error that names no cause.
    body = error_body('litellm.BadRequestError: can only concatenate str (not "list") to str', None, "400")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(400, json=body))
    failed_with(
        invoke("chat", "hi", "-m", "embed"),
        "error: embed is an embedding model (its mode in the proxy's catalog), not a chat model; "
        "chat models: cheap-chat, mystery-chat, smart-chat",
    )
    assert catalog.call_count == 1


def test_chat_that_fails_for_a_chat_model_keeps_its_own_error(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    body = error_body("litellm.BadRequestError: temperature must be <= 2", None, "400")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(400, json=body))
    result = invoke("chat", "hi", "-m", "cheap-chat")
    assert result.exit_code == 1
    assert "temperature must be <= 2" in result.stderr
    assert "not a chat model" not in result.stderr


def test_chat_404_for_a_model_the_catalog_lacks_lists_the_models(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    body = error_body("litellm.NotFoundError: no deployment for gpt-9", None, "404")
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(404, json=body))
    failed_with(
        invoke("chat", "hi", "-m", "gpt-9"),
        "error: model 'gpt-9' is not on the proxy; available: cheap-chat, mystery-chat, smart-chat",
    )


@pytest.mark.parametrize(
    ("reply", "key", "line"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), API_KEY, UNREACHABLE),
        (httpx.ConnectTimeout("timed out connecting"), API_KEY, UNREACHABLE),
        (httpx.Response(400, json=NO_DB), API_KEY, KEY_REJECTED),
        (httpx.Response(401, json=error_body(f"Authentication Error, bad key {API_KEY}")), API_KEY, KEY_REJECTED),
        (httpx.Response(500, text="Internal Server Error"), None, NO_KEY),
        (
            httpx.ReadTimeout("read timed out"),
            API_KEY,
            f"error: the proxy at {BASE_URL} sent no data within the timeout for model 'cheap-chat'; the call was "
            "stopped — check the proxy and its upstream, or raise LITELLM_TIMEOUT",
        ),
        (
            httpx.Response(429, json=error_body("slow\ndown", "throttling_error", "429")),
            API_KEY,
            "error: LiteLLM proxy returned 429: rate limited: slow down",
        ),
        (
            httpx.Response(422, json=error_body(f"bad field; api_key={API_KEY}")),
            API_KEY,
            "error: LiteLLM proxy returned 422: bad request: bad field; api_key=***",
        ),
    ],
)
def test_chat_failures_are_one_line(
    proxy: respx.MockRouter, catalog: respx.Route, reply: httpx.Response | Exception, key: str | None, line: str
) -> None:
    route = proxy.post("/v1/chat/completions")
    if isinstance(reply, Exception):
        route.mock(side_effect=reply)
    else:
        route.mock(return_value=reply)
    failed_with(invoke("chat", "hi", "-m", "cheap-chat", key=key), line)


def test_chat_mid_stream_error_keeps_the_text_and_ends_with_one_line(
    proxy: respx.MockRouter, catalog: respx.Route
) -> None:
    frames = sse(chunk("par"), {"error": {"message": "upstream died", "code": "500"}}, done=False)
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, content=frames, headers=STREAM_HEADERS))
    result = invoke("chat", "hi", "-m", "cheap-chat")
    assert result.exit_code == 1
    assert result.stdout == "par"
    assert result.stderr == "error: mid-stream error from LiteLLM proxy: upstream died\n"


def test_chat_requires_a_model() -> None:
    result = invoke("chat", "hi")
    assert result.exit_code == 2
    assert "--model" in result.stderr


# ---------------------------------------------------------------------------- route

PROMPT = "What is the capital of France?"


def estimate(per_token_in: float, per_token_out: float, output_tokens: int = 256) -> float:
    prompt = estimate_prompt_tokens([{"role": "user", "content": PROMPT}])
    return prompt * per_token_in + output_tokens * per_token_out


def test_route_shows_the_choice_reason_and_every_candidates_cost_without_calling(
    proxy: respx.MockRouter, catalog: respx.Route
) -> None:
    chat = proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body()))
    result = invoke("route", PROMPT)
    assert result.exit_code == 0, result.output
    cheap = estimate(CHEAP_IN, CHEAP_OUT)
    lines = result.stdout.splitlines()
    assert lines[0] == f"route: litellm/cheap-chat (strategy heuristic, est. {format_usd(cheap)})"
    assert lines[1].startswith("why: heuristic: prompt is simple")
    assert "chose litellm/cheap-chat" in lines[1]
    assert row(result.stdout, "litellm/cheap-chat") == ["litellm/cheap-chat", "1", format_usd(cheap), "chosen"]
    assert row(result.stdout, "litellm/smart-chat") == [
        "litellm/smart-chat",
        "3",
        format_usd(estimate(SMART_IN, SMART_OUT)),
        "fallback 1",
    ]
    assert row(result.stdout, "litellm/mystery-chat") == ["litellm/mystery-chat", "?", "unknown", "fallback 2"]
    assert "litellm/embed" not in result.stdout
    assert "No call made; add --run to send it." in result.stdout
    assert not chat.called


def test_route_max_cost_shows_excluded_with_why(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    result = invoke("route", PROMPT, "--max-cost", "0.001", "--strategy", "cost_optimized")
    assert result.exit_code == 0, result.output
    smart = estimate(SMART_IN, SMART_OUT)
    assert row(result.stdout, "litellm/smart-chat") == [
        "litellm/smart-chat",
        "3",
        format_usd(smart),
        f"excluded: estimated {format_usd(smart)} > max_cost $0.001",
    ]
    assert row(result.stdout, "litellm/mystery-chat")[3] == (
        "excluded: price unknown, so it cannot be shown to fit max_cost"
    )


def test_route_max_tokens_drives_the_output_estimate(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    result = invoke("route", PROMPT, "--max-tokens", "10")
    assert row(result.stdout, "litellm/cheap-chat")[2] == format_usd(estimate(CHEAP_IN, CHEAP_OUT, 10))


def test_route_run_calls_and_shows_answer_cost_and_attempts(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    proxy.post("/v1/chat/completions").mock(
        side_effect=[
            httpx.Response(503, json=error_body("cheap is down", None, "503")),
            httpx.Response(200, json=chat_body("Paris."), headers={"x-litellm-response-cost": "0.0042"}),
        ]
    )
    result = invoke("route", PROMPT, "--run")
    assert result.exit_code == 0, result.output
    assert "answer from litellm/smart-chat:\nParis.\n" in result.stdout
    assert "cost: $0.0042 (proxy); total $0.0042 over 2 attempt(s)" in result.stdout
    failed = row(result.stdout, "1")
    assert failed[1:4] == ["litellm/cheap-chat", "failed", ""]
    assert failed[5].startswith("ProviderUnavailableError LiteLLM proxy returned 503")
    assert row(result.stdout, "2")[1:4] == ["litellm/smart-chat", "ok", "$0.0042"]


def test_route_run_every_target_unreachable_is_the_unreachable_line(
    proxy: respx.MockRouter, catalog: respx.Route
) -> None:
    proxy.post("/v1/chat/completions").mock(side_effect=httpx.ConnectError("Connection refused"))
    result = invoke("route", PROMPT, "--run")
    assert result.exit_code == 1
    assert result.stderr == UNREACHABLE + "\n"


def test_route_unreachable_before_planning(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(side_effect=httpx.ConnectError("Connection refused"))
    failed_with(invoke("route", PROMPT), UNREACHABLE)


def test_route_wrong_key(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(return_value=httpx.Response(400, json=NO_DB))
    failed_with(invoke("route", PROMPT), KEY_REJECTED)


def test_route_bad_input_is_one_line(catalog: respx.Route, tmp_path: Path) -> None:
    failed_with(
        invoke("route", PROMPT, "--strategy", "quickest"),
        "error: unknown routing strategy 'quickest'; use one of heuristic, cost_optimized, cascade, hybrid, fastest",
    )
    assert catalog.call_count == 0  # checked before any request
    bad = tmp_path / "routing.yaml"
    bad.write_text("routing:\n  max_attempts: many\n")
    result = invoke("route", PROMPT, "--config", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {bad}: max_attempts")
    assert result.stderr.count("\n") == 1


def test_route_binary_config_names_the_file(catalog: respx.Route, tmp_path: Path) -> None:
    binary = tmp_path / "routing.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    failed_with(
        invoke("route", PROMPT, "--config", str(binary)),
        f"error: routing config {binary} is not UTF-8 text (invalid start byte at byte 0): is it the right file?",
    )
    assert catalog.call_count == 0


def test_route_on_a_proxy_without_chat_models_says_so(proxy: respx.MockRouter) -> None:
    only_embeddings = model_info(deployment("embed", input_cost=CHEAP_IN, output_cost=0.0, mode="embedding"))
    proxy.get("/model/info").mock(return_value=httpx.Response(200, json=only_embeddings))
    failed_with(
        invoke("route", PROMPT),
        f"error: the proxy at {BASE_URL} serves no chat models — add one to its model_list",
    )


def test_route_with_a_combo_from_the_config(catalog: respx.Route, tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text(
        "routing:\n  combos:\n    best:\n      strategy: priority\n"
        "      targets: [litellm/smart-chat, litellm/cheap-chat]\n"
    )
    result = invoke("route", PROMPT, "--config", str(config), "--strategy", "best")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("route: litellm/smart-chat (strategy best")
    assert row(result.stdout, "litellm/cheap-chat")[3] == "fallback 1"
    assert row(result.stdout, "litellm/mystery-chat")[3] == "not in combo 'best'"


def test_route_run_writes_the_answer_byte_for_byte(proxy: respx.MockRouter, catalog: respx.Route) -> None:
    proxy.post("/v1/chat/completions").mock(return_value=httpx.Response(200, json=chat_body("a\tb\r\nc")))
    result = invoke("route", PROMPT, "--run")
    assert result.exit_code == 0, result.output
    assert b"answer from litellm/cheap-chat:\na\tb\r\nc\ncost: " in result.stdout_bytes


def test_route_budget_too_small_is_one_line(catalog: respx.Route) -> None:
    result = invoke("route", PROMPT, "--max-cost", "0.0000001")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: no candidate fits max_cost")
    assert result.stderr.count("\n") == 1


# ---------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["route", PROMPT, "--max-cost", "-1"],
            "error: Invalid value for '--max-cost': must be a finite number of USD >= 0, got -1 "
            "(see 'muxer-litellm route --help')",
        ),
        (
            ["route", PROMPT, "--max-cost", "nan"],
            "error: Invalid value for '--max-cost': must be a finite number of USD >= 0, got nan "
            "(see 'muxer-litellm route --help')",
        ),
        (
            ["--timeout", "0", "models"],
            "error: Invalid value for '--timeout': must be a number of seconds > 0, got 0 (see 'muxer-litellm --help')",
        ),
        (["chat", "hi"], "error: Missing option '--model' / '-m'. (see 'muxer-litellm chat --help')"),
        (["bogus"], "error: No such command 'bogus'. (see 'muxer-litellm --help')"),
    ],
)
def test_usage_errors_are_one_line_before_any_request(catalog: respx.Route, args: list[str], line: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"
    assert catalog.call_count == 0


def test_an_unparsable_number_is_one_line(catalog: respx.Route) -> None:
    result = invoke("route", PROMPT, "--max-cost", "abc")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: Invalid value for '--max-cost': ")
    assert result.stderr.endswith(" (see 'muxer-litellm route --help')\n")
    assert result.stderr.count("\n") == 1
    assert "╭" not in result.stderr
    assert catalog.call_count == 0


# ---------------------------------------------------------------------------- cost


def test_cost_ranks_chat_models_cheapest_first_unknown_last(catalog: respx.Route) -> None:
    result = invoke("cost", "--in", "1000", "--out", "500")
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "1")[1:3] == ["cheap-chat", format_usd(1000 * CHEAP_IN + 500 * CHEAP_OUT)]
    assert row(result.stdout, "2")[1:3] == ["smart-chat", format_usd(1000 * SMART_IN + 500 * SMART_OUT)]
    assert row(result.stdout, "3")[1:] == ["mystery-chat", "unknown", "unknown", "unknown", "unknown"]
    assert "embed" not in result.stdout


def test_cost_json(catalog: respx.Route) -> None:
    result = invoke("cost", "--in", "1000", "--out", "500", "--json")
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert [r["model"] for r in records] == ["cheap-chat", "smart-chat", "mystery-chat"]
    assert records[0]["cost"] == pytest.approx(1000 * CHEAP_IN + 500 * CHEAP_OUT)
    assert records[1]["cost"] == pytest.approx(1000 * SMART_IN + 500 * SMART_OUT)
    assert records[2]["cost"] is None
    assert records[0]["input_tokens"] == 1000
    assert records[0]["output_tokens"] == 500


def test_cost_rejects_negative_counts() -> None:
    result = invoke("cost", "--in", "-1", "--out", "5")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid value for '--in': ")
    assert result.stderr.count("\n") == 1


def test_cost_unreachable(proxy: respx.MockRouter) -> None:
    proxy.get("/model/info").mock(side_effect=httpx.ConnectError("Connection refused"))
    failed_with(invoke("cost", "--in", "1", "--out", "1"), UNREACHABLE)


# ---------------------------------------------------------------------------- demo


def test_demo_passes_config_and_exits_with_its_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import muxer_litellm.demo

    seen: dict[str, Any] = {}

    def main(config: Path | None = None, console: Any = None) -> int:
        seen.update(config=config, console=console)
        return 3

    monkeypatch.setattr(muxer_litellm.demo, "main", main)
    result = invoke("demo", "--config", str(tmp_path / "demo.yaml"))
    assert result.exit_code == 3
    assert seen["config"] == tmp_path / "demo.yaml"
    assert seen["console"] is None  # the demo picks its own pipe-friendly console
