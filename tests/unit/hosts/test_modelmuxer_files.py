"""ModelMuxer's price table and routing rules from the catalog (no ModelMuxer needed), the
``muxer-litellm modelmuxer`` commands, and the ImportError without ModelMuxer.

ModelMuxer itself reads these files in tests/hosts; here the rules are checked for content.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from muxer_litellm import LiteLLMProvider, ProviderError
from muxer_litellm.cli.commands import app as cli_app
from muxer_litellm.hosts.modelmuxer_files import (
    INTENT_NEEDS,
    TASK_TYPE_INTENTS,
    price_table,
    routing_rules,
    unpriced_models,
    write_price_table,
    write_routing_rules,
)
from muxer_litellm.routing import RoutingConfig
from tests.cli_runner import run_cli
from tests.unit.replies import API_KEY, BASE_URL, deployment, model_info

# Per token; per 1K: cheap 0.0001/0.0004 (tier 1), mid 0.001/0.002 (tier 1), strong 0.003/0.015 (tier 3).
CATALOG = model_info(
    deployment("cheap", input_cost=1e-7, output_cost=4e-7, supports_response_schema=False),
    deployment("mid", input_cost=1e-6, output_cost=2e-6, supports_vision=True),
    deployment("strong", input_cost=3e-6, output_cost=1.5e-5, supports_response_schema=True),
    deployment("mystery", routing_tier=3),
    deployment("embedder", input_cost=1e-7, mode="embedding"),
)


def rules_by_name(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rules["rules"]}


@pytest.fixture
async def loaded(proxy: respx.MockRouter, provider: LiteLLMProvider) -> LiteLLMProvider:
    proxy.get("/model/info").respond(json=CATALOG)
    await provider.refresh_models()
    return provider


def test_price_rows_only_for_priced_chat_models(loaded: LiteLLMProvider) -> None:
    assert price_table(loaded) == {
        "litellm:cheap": {"input_per_1k_usd": 0.0001, "output_per_1k_usd": 0.0004},
        "litellm:mid": {"input_per_1k_usd": 0.001, "output_per_1k_usd": 0.002},
        "litellm:strong": {"input_per_1k_usd": 0.003, "output_per_1k_usd": 0.015},
    }
    left_out = unpriced_models(loaded)
    assert set(left_out) == {"mystery", "embedder"}
    assert left_out["mystery"].startswith("price unknown")
    assert "not a chat model" in left_out["embedder"]
    assert set(price_table(loaded, name="proxy")) == {"proxy:cheap", "proxy:mid", "proxy:strong"}


@pytest.mark.parametrize("name", ["", "lite:llm", "a/b", "two words"])
def test_bad_registry_name_is_refused(loaded: LiteLLMProvider, name: str) -> None:
    with pytest.raises(ValueError, match="provider key"):
        price_table(loaded, name=name)


def test_empty_catalog_says_to_refresh(provider: LiteLLMProvider) -> None:
    with pytest.raises(ProviderError, match="refresh_models"):
        price_table(provider)


async def test_nothing_priced_is_an_error_not_an_empty_file(
    proxy: respx.MockRouter, provider: LiteLLMProvider, tmp_path: Path
) -> None:
    proxy.get("/model/info").respond(json=model_info(deployment("mystery")))
    await provider.refresh_models()
    with pytest.raises(ProviderError, match="no chat model of the proxy has a known price"):
        write_price_table(provider, tmp_path / "prices.json")
    with pytest.raises(ProviderError, match="no chat model of the proxy has a known price"):
        routing_rules(provider)
    assert not (tmp_path / "prices.json").exists()


def test_merge_keeps_other_providers_and_operator_rows(loaded: LiteLLMProvider, tmp_path: Path) -> None:
    existing = {
        "_comment": "ModelMuxer ignores keys starting with _",
        "openai:gpt-4o": {"input_per_1k_usd": 0.0025, "output_per_1k_usd": 0.01},
        "litellm:cheap": {"input_per_1k_usd": 9.0, "output_per_1k_usd": 9.0},  # stale: regenerated
        "litellm:mystery": {"input_per_1k_usd": 0.002, "output_per_1k_usd": 0.004},  # the operator priced it
        "litellm:retired": {"input_per_1k_usd": 0.1, "output_per_1k_usd": 0.1},  # the proxy serves it no more
    }
    target = tmp_path / "prices.json"
    target.write_text(json.dumps(existing))
    result = write_price_table(loaded, target, target)
    written = json.loads(target.read_text())
    assert written == result.data
    assert written["_comment"] == existing["_comment"]
    assert written["openai:gpt-4o"] == existing["openai:gpt-4o"]
    assert written["litellm:cheap"] == {"input_per_1k_usd": 0.0001, "output_per_1k_usd": 0.0004}
    assert written["litellm:mystery"] == existing["litellm:mystery"]
    assert "litellm:retired" not in written
    assert result.kept == ["litellm:mystery"]
    assert result.removed == ["litellm:retired"]
    assert sorted(result.written) == ["litellm:cheap", "litellm:mid", "litellm:strong"]
    assert set(result.left_out) == {"embedder"}  # mystery has the operator's row now


def test_merge_file_errors_name_the_file(loaded: LiteLLMProvider, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        write_price_table(loaded, tmp_path / "out.json", tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json, is not readable JSON"):
        write_price_table(loaded, tmp_path / "out.json", bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        write_price_table(loaded, tmp_path / "out.json", bad)


def test_rules_send_each_intent_to_adequate_models_cheapest_first(loaded: LiteLLMProvider) -> None:
    rules = rules_by_name(routing_rules(loaded))
    assert {r["intent"] for r in rules.values() if "intent" in r} == set(INTENT_NEEDS)
    assert {r["task_type"] for r in rules.values() if "task_type" in r} == set(TASK_TYPE_INTENTS)
    everything = ["litellm:cheap", "litellm:mid", "litellm:strong"]
    assert rules["litellm:chat_lite"]["prefer"] == everything
    assert rules["litellm:translation"]["prefer"] == everything
    # Code and reasoning need tier 2: never a cheaper, weaker model ModelMuxer would pick for its price.
    assert rules["litellm:code_gen"]["prefer"] == ["litellm:strong"]
    assert rules["litellm:deep_reason"]["prefer"] == ["litellm:strong"]
    # Known capability wins over unknown; a model known to lack it never appears.
    assert rules["litellm:json_extract"]["prefer"] == ["litellm:strong"]
    assert rules["litellm:vision"]["prefer"] == ["litellm:mid"]
    assert rules["litellm:task:code"]["prefer"] == ["litellm:strong"]
    assert rules["litellm:task:general"]["prefer"] == everything
    # Unpriced and non-chat models are in no rule: ModelMuxer would skip them as unpriced.
    named = {entry for r in rules.values() for entry in r["prefer"]}
    assert not named & {"litellm:mystery", "litellm:embedder"}


def test_rules_follow_the_routing_config(loaded: LiteLLMProvider) -> None:
    config = RoutingConfig(tiers={"litellm/mid": 2}, min_tier={"code": 2, "reasoning": 3})
    rules = rules_by_name(routing_rules(loaded, config=config))
    assert rules["litellm:code_gen"]["prefer"] == ["litellm:mid", "litellm:strong"]
    assert rules["litellm:deep_reason"]["prefer"] == ["litellm:strong"]


async def test_no_strong_model_means_the_strongest_with_a_note(
    proxy: respx.MockRouter, provider: LiteLLMProvider, tmp_path: Path
) -> None:
    proxy.get("/model/info").respond(
        json=model_info(
            deployment("a", input_cost=1e-7, output_cost=1e-7, supports_vision=False),
            deployment("b", input_cost=2e-7, output_cost=2e-7, supports_vision=False),
        )
    )
    await provider.refresh_models()
    result = write_routing_rules(provider, tmp_path / "rules.json")
    rules = rules_by_name(result.data)
    assert rules["litellm:code_gen"]["prefer"] == ["litellm:a", "litellm:b"]
    assert any("code_gen: no priced model reaches tier 2" in n for n in result.notes)
    assert "litellm:vision" not in rules  # every model lacks vision: the task-type rules apply
    assert any(n.startswith("vision: every priced model lacks supports_vision") for n in result.notes)


def test_write_rules_merges_operator_rules_first(loaded: LiteLLMProvider, tmp_path: Path) -> None:
    existing = {
        "version": 3,
        "rules": [
            {"name": "mine", "intent": "code_gen", "prefer": ["openai:gpt-4o"]},
            {"name": "litellm:chat_lite", "intent": "chat_lite", "prefer": ["litellm:retired"]},
            {"name": "everything", "prefer": ["litellm/mystery"]},
            {"name": "litellm:premium", "model_prefix": "premium", "prefer": ["litellm:cheap"]},
        ],
    }
    target = tmp_path / "rules.json"
    target.write_text(json.dumps(existing))
    result = write_routing_rules(loaded, target, target)
    written = json.loads(target.read_text())
    assert written == result.data
    assert written["version"] == 3
    names = [r["name"] for r in written["rules"]]
    # The operator's rules, whatever their names, stay first; only generated names are replaced.
    assert names[:3] == ["mine", "everything", "litellm:premium"]
    assert names.count("litellm:chat_lite") == 1
    assert result.removed == ["litellm:chat_lite"]
    assert any("'everything' matches every request and comes first" in n for n in result.notes)
    assert any("prefers litellm/mystery, which has no generated price row" in n for n in result.notes)


def test_files_are_what_modelmuxer_parses(loaded: LiteLLMProvider, tmp_path: Path) -> None:
    """The shapes ModelMuxer's loaders expect: rows of two non-negative floats, rules with a name,
    an intent or task_type and a non-empty prefer list of provider:model."""
    prices = write_price_table(loaded, tmp_path / "p.json").data
    for key, row in prices.items():
        assert key.count(":") >= 1
        assert set(row) == {"input_per_1k_usd", "output_per_1k_usd"}
        assert all(isinstance(v, float) and v >= 0 for v in row.values())
    rules = write_routing_rules(loaded, tmp_path / "r.json").data["rules"]
    for rule in rules:
        assert rule["prefer"]
        assert all(entry in prices for entry in rule["prefer"])
        assert ("intent" in rule) != ("task_type" in rule)


runner = CliRunner()


def test_cli_writes_prices_and_rules(proxy: respx.MockRouter, tmp_path: Path) -> None:
    proxy.get("/model/info").respond(json=CATALOG)
    prices, rules = tmp_path / "prices.json", tmp_path / "rules.json"
    base = ["--base-url", BASE_URL, "--api-key", API_KEY, "modelmuxer"]
    result = runner.invoke(cli_app, [*base, "prices", "--out", str(prices)])
    assert result.exit_code == 0, result.output
    assert f"wrote 3 price rows to {prices}" in result.stdout
    assert "left out mystery: price unknown" in result.stderr
    assert set(json.loads(prices.read_text())) == {"litellm:cheap", "litellm:mid", "litellm:strong"}
    assert proxy.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"

    result = runner.invoke(cli_app, [*base, "rules", "--out", str(rules), "--merge", str(rules)])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    rules.write_text(json.dumps({"rules": [{"name": "mine", "intent": "vision", "prefer": ["openai:gpt-4o"]}]}))
    result = runner.invoke(cli_app, [*base, "rules", "--out", str(rules), "--merge", str(rules)])
    assert result.exit_code == 0, result.output
    data = json.loads(rules.read_text())
    assert data["rules"][0]["name"] == "mine"
    assert f"wrote {len(data['rules']) - 1} routing rules" in result.stdout


def test_cli_failure_is_one_line_without_the_key(proxy: respx.MockRouter, tmp_path: Path) -> None:
    proxy.get("/model/info").respond(401, json={"error": {"message": f"bad key {API_KEY}", "code": "401"}})
    result = runner.invoke(
        cli_app,
        ["--base-url", BASE_URL, "--api-key", API_KEY, "modelmuxer", "prices", "--out", str(tmp_path / "p.json")],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert API_KEY not in result.output
    assert not (tmp_path / "p.json").exists()


def test_cli_unreachable_proxy(tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True, using="httpx") as mock:
        mock.get(url__startswith=BASE_URL).mock(side_effect=httpx.ConnectError("refused"))
        result = runner.invoke(
            cli_app, ["--base-url", BASE_URL, "modelmuxer", "rules", "--out", str(tmp_path / "r.json")]
        )
    assert result.exit_code == 1
    assert "not reachable" in result.stderr


def test_importing_the_adapter_without_modelmuxer_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "app", None)  # as if no `app` package were importable
    monkeypatch.delitem(sys.modules, "muxer_litellm.hosts.modelmuxer", raising=False)
    with pytest.raises(ImportError, match=r"needs ModelMuxer: its `app` package \(app\.providers\.base\)") as info:
        importlib.import_module("muxer_litellm.hosts.modelmuxer")
    assert info.value.name == "app.providers.base"


@pytest.mark.parametrize("existing_mode", [0o644, 0o640, None])
def test_written_files_keep_a_readable_mode(loaded: LiteLLMProvider, tmp_path: Path, existing_mode: int | None) -> None:
    """ModelMuxer may run as another user: a rewrite keeps the file's mode, a new file gets the
    usual umask mode, never mkstemp's owner-only 0600."""
    target = tmp_path / "prices.json"
    if existing_mode is not None:
        target.write_text("{}")
        target.chmod(existing_mode)
    write_price_table(loaded, target, target if existing_mode is not None else None)
    mode = target.stat().st_mode & 0o777
    if existing_mode is not None:
        assert mode == existing_mode
    else:
        import os

        umask = os.umask(0)
        os.umask(umask)
        assert mode == 0o666 & ~umask


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:p@ssw0rdSecret@localhost:4000",
        "http://admin:" + "S" * 120 + "@proxy.internal.example.com:4000/some/long/path",
    ],
    ids=["at-in-password", "long-password"],
)
def test_modelmuxer_commands_never_print_a_url_password(tmp_path: Path, url: str) -> None:
    result = run_cli(["--base-url", url, "modelmuxer", "prices", "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 1
    assert "ssw0rdSecret" not in result.stderr
    assert "SSSS" not in result.stderr
    assert result.stderr.startswith("error: invalid setting LITELLM_BASE_URL / --base-url")
    assert result.stderr.count("\n") == 1


def test_modelmuxer_without_a_command_shows_help_and_no_empty_error() -> None:
    result = run_cli(["modelmuxer"])
    assert result.exit_code == 2
    assert "error: (see" not in result.stderr
    assert "prices" in result.stdout + result.stderr
