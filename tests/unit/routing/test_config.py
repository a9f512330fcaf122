"""``config.py``: ``CandidateRef`` / ``ComboConfig`` / ``CascadeConfig`` /
``RoutingConfig`` validation; ``load_routing_config`` from YAML, the environment
(``DEFAULT_ROUTING_STRATEGY``, ``CASCADE_ROUTING_ENABLED``, ``MUXER_ROUTING_CONFIG``, ``.env``) and
keyword overrides, with errors that name the file and the dotted field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from muxer_litellm import (
    RoutingConfigError,
)
from muxer_litellm.routing import (
    BUILTIN_STRATEGIES,
    CandidateRef,
    CascadeConfig,
    ComboConfig,
    RoutingConfig,
    RoutingSettings,
    load_routing_config,
)

ROUTING_ENV = (
    "DEFAULT_ROUTING_STRATEGY",
    "CASCADE_ROUTING_ENABLED",
    "MUXER_ROUTING_CONFIG",
    "ROUTING_CONFIG",
    "MUXER_ROUTING_STATE_BACKEND",
    "MUXER_ROUTING_REDIS_URL",
)


@pytest.fixture(autouse=True)
def _no_routing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit conftest clears LITELLM_*; keep the developer's routing variables out too."""
    for name in ROUTING_ENV:
        monkeypatch.delenv(name, raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- CandidateRef


@pytest.mark.parametrize(
    ("raw", "provider", "model", "weight"),
    [
        pytest.param("litellm/cheap-chat", "litellm", "cheap-chat", 1.0, id="string"),
        pytest.param({"target": "litellm/cheap-chat", "weight": 2}, "litellm", "cheap-chat", 2.0, id="target-mapping"),
        pytest.param({"provider": "openai", "model": "gpt-4o"}, "openai", "gpt-4o", 1.0, id="provider-model-mapping"),
        pytest.param("litellm/openai/gpt-4o", "litellm", "openai/gpt-4o", 1.0, id="split-at-first-slash"),
        pytest.param({"target": "a/b/c", "weight": 0.5}, "a", "b/c", 0.5, id="mapping-split-at-first-slash"),
    ],
)
def test_target_forms(raw: Any, provider: str, model: str, weight: float) -> None:
    target = CandidateRef.model_validate(raw)
    assert (target.provider, target.model, target.weight) == (provider, model, weight)
    assert target.key == f"{provider}/{model}"


@pytest.mark.parametrize("raw", ["nope", "/m", "p/", "/", ""])
def test_target_string_must_be_provider_slash_model(raw: str) -> None:
    with pytest.raises(ValidationError, match="a target is 'provider/model'"):
        CandidateRef.model_validate(raw)


@pytest.mark.parametrize(("raw", "field"), [(" /m", "provider"), ("p/ ", "model")])
def test_target_parts_that_are_blank_after_stripping_are_rejected(raw: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CandidateRef.model_validate(raw)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]


@pytest.mark.parametrize("weight", [0, -1, float("inf"), float("nan")])
def test_target_weight_must_be_positive_and_finite(weight: float) -> None:
    with pytest.raises(ValidationError, match="weight"):
        CandidateRef.model_validate({"target": "p/m", "weight": weight})


def test_target_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="wieght"):
        CandidateRef.model_validate({"target": "p/m", "wieght": 2})


def test_combo_rejects_duplicate_targets_naming_them() -> None:
    with pytest.raises(ValidationError) as caught:
        ComboConfig.model_validate({"targets": ["p/a", "q/b", {"target": "p/a", "weight": 3}, "q/c"]})
    [problem] = caught.value.errors()
    assert problem["msg"].endswith("targets are listed twice: p/a")


def test_combo_needs_a_target_and_a_known_strategy() -> None:
    with pytest.raises(ValidationError, match="targets"):
        ComboConfig.model_validate({"targets": []})
    with pytest.raises(ValidationError, match="strategy"):
        ComboConfig.model_validate({"targets": ["p/a"], "strategy": "random"})
    assert ComboConfig.model_validate({"targets": ["p/a"]}).strategy == "priority"


def test_cascade_config_validation() -> None:
    cascade = CascadeConfig.model_validate({"steps": ["p/a", "p/b"], "quality_threshold": 0.7})
    assert [s.key for s in cascade.steps] == ["p/a", "p/b"]
    assert cascade.quality_threshold == 0.7
    assert CascadeConfig.model_validate({"steps": ["p/a"]}).quality_threshold is None
    for bad in (-0.1, 1.1):
        with pytest.raises(ValidationError, match="quality_threshold"):
            CascadeConfig.model_validate({"steps": ["p/a"], "quality_threshold": bad})
    with pytest.raises(ValidationError, match="steps"):
        CascadeConfig.model_validate({"steps": []})


# ---------------------------------------------------------------------------- RoutingConfig


@pytest.mark.parametrize("strategy", BUILTIN_STRATEGIES)
def test_default_strategy_may_be_any_builtin(strategy: str) -> None:
    assert RoutingConfig(default_strategy=strategy).default_strategy == strategy


def test_default_strategy_may_name_a_combo_or_a_cascade() -> None:
    combos = {"fast": {"targets": ["p/a"]}}
    cascades = {"careful": {"steps": ["p/a", "p/b"]}}
    assert RoutingConfig.model_validate({"default_strategy": "fast", "combos": combos}).default_strategy == "fast"
    config = RoutingConfig.model_validate({"default_strategy": "careful", "cascades": cascades})
    assert config.strategy_names() == [*BUILTIN_STRATEGIES, "careful"]


def test_unknown_default_strategy_is_rejected_listing_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        RoutingConfig.model_validate({"default_strategy": "quickest", "combos": {"fast": {"targets": ["p/a"]}}})
    message = str(caught.value)
    assert "'quickest' is not a strategy" in message
    assert "fast" in message
    assert "cost_optimized" in message


@pytest.mark.parametrize("kind", ["combos", "cascades"])
@pytest.mark.parametrize("name", BUILTIN_STRATEGIES)
def test_combo_or_cascade_named_like_a_builtin_is_rejected(kind: str, name: str) -> None:
    body = {"targets": ["p/a"]} if kind == "combos" else {"steps": ["p/a"]}
    with pytest.raises(ValidationError, match=f"{kind}: {name} is a built-in strategy name"):
        RoutingConfig.model_validate({kind: {name: body}})


def test_name_that_is_both_a_combo_and_a_cascade_is_rejected() -> None:
    with pytest.raises(ValidationError, match="twin is both a combo and a cascade"):
        RoutingConfig.model_validate(
            {"combos": {"twin": {"targets": ["p/a"]}}, "cascades": {"twin": {"steps": ["p/a"]}}}
        )


@pytest.mark.parametrize("default", ["cascade", "careful"])
def test_cascade_default_with_cascades_disabled_is_rejected(default: str) -> None:
    with pytest.raises(ValidationError, match="needs cascade_enabled"):
        RoutingConfig.model_validate(
            {"default_strategy": default, "cascade_enabled": False, "cascades": {"careful": {"steps": ["p/a"]}}}
        )


def test_hybrid_default_with_cascades_disabled_is_allowed() -> None:
    config = RoutingConfig(default_strategy="hybrid", cascade_enabled=False)
    assert (config.default_strategy, config.cascade_enabled) == ("hybrid", False)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("min_tier", {"coding": 2}, "min_tier: unknown prompt class 'coding'"),
        ("expected_output_tokens", {"chat": 100}, "expected_output_tokens: unknown prompt class 'chat'"),
        ("min_tier", {"code": 0}, r"min_tier\.code\n  Input should be greater than or equal to 1"),
        ("expected_output_tokens", {"simple": 0}, r"expected_output_tokens\.simple\n  Input should be greater than"),
        ("min_tier", {"code": True}, r"min_tier\.code\n  Input should be a valid integer"),
        ("expected_output_tokens", {"simple": 1.5}, r"expected_output_tokens\.simple\n  Input should be a valid int"),
    ],
)
def test_class_tables_accept_only_known_classes_and_positive_values(
    field: str, value: dict[str, int], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        RoutingConfig.model_validate({field: value})


@pytest.mark.parametrize("thresholds", [[0.005, 0.002], [0.002, 0.002], [0.0, 0.01], [-0.001, 0.002]])
def test_tier_price_thresholds_must_be_positive_and_increasing(thresholds: list[float]) -> None:
    with pytest.raises(ValidationError, match="tier_price_thresholds must be positive and increasing"):
        RoutingConfig(tier_price_thresholds=thresholds)


def test_tier_price_thresholds_that_increase_are_kept() -> None:
    assert RoutingConfig(tier_price_thresholds=[0.001, 0.003, 0.01]).tier_price_thresholds == [0.001, 0.003, 0.01]


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [({"nope": 2}, "provider/model"), ({"p/m": 0}, r"tiers\.p/m\n  Input should be greater than or equal to 1")],
)
def test_tiers_keys_are_targets_and_values_positive(tiers: dict[str, int], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        RoutingConfig.model_validate({"tiers": tiers})


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"default_stratgy": "heuristic"}, id="top-level"),
        pytest.param({"combos": {"fast": {"targets": ["p/a"], "stratgy": "cost"}}}, id="combo"),
        pytest.param({"cascades": {"careful": {"steps": ["p/a"], "threshold": 0.7}}}, id="cascade"),
    ],
)
def test_unknown_keys_are_rejected_to_catch_typos(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        RoutingConfig.model_validate(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quality_threshold", 1.5),
        ("quality_threshold", -0.5),
        ("cascade_max_steps", 0),
        ("max_attempts", 0),
        ("token_counter_band", 1.5),
        ("token_counter_timeout", 0),
        ("long_context_tokens", 0),
    ],
)
def test_numbers_out_of_range_are_rejected_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        RoutingConfig.model_validate({field: value})


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        pytest.param("max_attempts", True, "valid integer", id="bool-is-not-a-count"),
        pytest.param("max_attempts", "3", "valid integer", id="string-is-not-a-count"),
        pytest.param("breaker_threshold", 2.5, "valid integer", id="fraction-is-not-a-count"),
        pytest.param("breaker_cooldown", float("inf"), "finite number", id="infinite-seconds"),
        pytest.param("rate_limit_cooldown", "5", "valid number", id="string-seconds"),
        pytest.param("health_ttl", False, "valid number", id="bool-seconds"),
        pytest.param("quality_threshold", float("nan"), "finite number", id="nan-threshold"),
        pytest.param("token_counter_band", True, "valid number", id="bool-band"),
        pytest.param("tier_price_thresholds", [0.002, float("inf")], "finite number", id="infinite-threshold"),
        pytest.param("tiers", {"p/m": True}, "valid integer", id="bool-tier"),
    ],
)
def test_numbers_are_strict(field: str, value: Any, what: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RoutingConfig.model_validate({field: value})
    [problem] = caught.value.errors()
    assert problem["loc"][0] == field
    assert what in problem["msg"]


@pytest.mark.parametrize("weight", [True, "2"])
def test_a_weight_is_a_number_not_a_bool_or_a_string(weight: Any) -> None:
    with pytest.raises(ValidationError, match="weight"):
        CandidateRef.model_validate({"target": "p/m", "weight": weight})


def test_a_yaml_boolean_where_a_count_belongs_names_the_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "routing.yaml", "max_attempts: yes\n")
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    assert str(caught.value).startswith(f"{path}: max_attempts: Input should be a valid integer")


# ---------------------------------------------------------------------------- load_routing_config: YAML

YAML = """\
default_strategy: fast
cascade_enabled: true
quality_threshold: 0.6
combos:
  fast:
    strategy: weighted
    targets:
      - litellm/cheap-chat
      - {target: openai/gpt-4o-mini, weight: 3}
cascades:
  careful:
    steps: [litellm/cheap-chat, litellm/openai/gpt-4o]
    quality_threshold: 0.8
"""


def check_example(config: RoutingConfig) -> None:
    assert config.default_strategy == "fast"
    assert config.quality_threshold == 0.6
    fast = config.combos["fast"]
    assert fast.strategy == "weighted"
    assert [(t.key, t.weight) for t in fast.targets] == [("litellm/cheap-chat", 1.0), ("openai/gpt-4o-mini", 3.0)]
    careful = config.cascades["careful"]
    assert [(s.provider, s.model) for s in careful.steps] == [("litellm", "cheap-chat"), ("litellm", "openai/gpt-4o")]
    assert careful.quality_threshold == 0.8


def test_loads_a_yaml_file(tmp_path: Path) -> None:
    check_example(load_routing_config(write(tmp_path / "routing.yaml", YAML)))
    check_example(load_routing_config(str(tmp_path / "routing.yaml")))


def test_loads_the_routing_section_of_a_bigger_config(tmp_path: Path) -> None:
    nested = "server:\n  port: 8080\nrouting:\n" + "".join(f"  {line}\n" for line in YAML.splitlines())
    check_example(load_routing_config(write(tmp_path / "gateway.yaml", nested)))


def test_the_shipped_example_config_is_valid() -> None:
    shipped = Path(__file__).resolve().parents[3] / "config" / "routing.yaml"
    config = load_routing_config(shipped)
    assert set(config.combos) == {"everyday", "spread"}
    assert config.cascades["careful"].quality_threshold == 0.6
    assert [(t.key, t.weight) for t in config.combos["spread"].targets] == [
        ("litellm/cheap-chat", 3.0),
        ("openai/gpt-4o-mini", 1.0),
    ]
    # Its litellm/ targets are model_names the shipped proxy config really serves.
    proxy = yaml.safe_load((shipped.parent / "litellm-config.yaml").read_text())
    served = {entry["model_name"] for entry in proxy["model_list"]}
    targets = [t for combo in config.combos.values() for t in combo.targets]
    targets += [t for cascade in config.cascades.values() for t in cascade.steps]
    assert {t.model for t in targets if t.provider == "litellm"} <= served
    assert {key.split("/", 1)[1] for key in config.tiers if key.startswith("litellm/")} <= served


@pytest.mark.parametrize("text", ["", "# nothing here\n", "---\n"])
def test_empty_file_gives_the_defaults(tmp_path: Path, text: str) -> None:
    assert load_routing_config(write(tmp_path / "empty.yaml", text)) == RoutingConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- heuristic\n- cascade\n", "expected a mapping at the top, got list"),
        ("just a string\n", "expected a mapping at the top, got str"),
        ("routing: [1, 2]\n", "'routing' must be a mapping, got list"),
    ],
)
def test_yaml_that_is_not_a_mapping_is_a_config_error(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "odd.yaml", text)
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_invalid_yaml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.yaml", "combos:\n  fast: [litellm/a,\n  bad: : :\n")
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    assert str(caught.value).startswith(f"{path}: not valid YAML")


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    assert "cannot read routing config" in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        pytest.param(
            "combos:\n  fast:\n    targets: [litellm/a, nope]\n",
            "combos.fast.targets.1",
            "'nope'",
            id="bad-target",
        ),
        pytest.param(
            "combos:\n  fast:\n    targets: [litellm/a, {target: litellm/b, weight: -2}]\n",
            "combos.fast.targets.1.weight",
            "greater than 0",
            id="bad-weight",
        ),
        pytest.param(
            "cascades:\n  careful:\n    steps: [litellm/a]\n    quality_threshold: 3\n",
            "cascades.careful.quality_threshold",
            "less than or equal to 1",
            id="bad-threshold",
        ),
        pytest.param("max_cooldown: soon\n", "max_cooldown", "valid number", id="bad-number"),
        pytest.param("cascade_enabeld: true\n", "cascade_enabeld", "Extra inputs", id="typo"),
    ],
)
def test_errors_name_the_file_and_the_dotted_field(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = write(tmp_path / "routing.yaml", text)
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert f"{where}: " in message
    assert what in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param(
            "combos:\n  routing_config:\n    targets: [nope]\n", "combos.routing_config.targets.0", id="combo"
        ),
        pytest.param("cascade_routing_enabled: true\n", "cascade_routing_enabled", id="stray-key"),
    ],
)
def test_file_errors_name_the_files_field_not_an_env_variable(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path / "routing.yaml", text)
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    message = str(caught.value)
    assert f"{path}: {where}: " in message
    assert not any(env in message for env in ROUTING_ENV)


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "routing.yaml", "max_attempts: 0\nbreaker_cooldown: -1\n")
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    assert "max_attempts: " in str(caught.value)
    assert "breaker_cooldown: " in str(caught.value)


# ---------------------------------------------------------------------------- load_routing_config: environment


def test_without_file_or_env_gives_the_defaults() -> None:
    assert load_routing_config() == RoutingConfig()


def test_env_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "routing.yaml", YAML)
    monkeypatch.setenv("DEFAULT_ROUTING_STRATEGY", "careful")
    monkeypatch.setenv("CASCADE_ROUTING_ENABLED", "true")
    config = load_routing_config(path)
    assert config.default_strategy == "careful"
    assert config.combos["fast"].strategy == "weighted"  # the rest of the file still counts

    monkeypatch.setenv("DEFAULT_ROUTING_STRATEGY", "heuristic")
    monkeypatch.setenv("CASCADE_ROUTING_ENABLED", "false")
    config = load_routing_config(path)
    assert (config.default_strategy, config.cascade_enabled) == ("heuristic", False)


def test_blank_default_routing_strategy_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_ROUTING_STRATEGY", "   ")
    assert load_routing_config(write(tmp_path / "routing.yaml", YAML)).default_strategy == "fast"


def test_env_default_strategy_is_validated_and_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_ROUTING_STRATEGY", "quickest")
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config()
    assert "DEFAULT_ROUTING_STRATEGY" in str(caught.value)
    assert "'quickest' is not a strategy" in str(caught.value)


def test_env_disabling_cascades_under_a_cascade_default_is_named_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "routing.yaml", "default_strategy: cascade\n")
    assert load_routing_config(path).default_strategy == "cascade"
    monkeypatch.setenv("CASCADE_ROUTING_ENABLED", "false")
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "CASCADE_ROUTING_ENABLED" in message
    assert "needs cascade_enabled" in message


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_bad_cascade_routing_enabled_is_an_environment_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CASCADE_ROUTING_ENABLED", value)
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config()
    message = str(caught.value)
    assert message.startswith("environment: CASCADE_ROUTING_ENABLED: ")
    assert "valid boolean" in message
    assert "cascade_routing_enabled" not in message  # the variable, not the settings field


def test_bad_cascade_routing_enabled_in_dotenv_names_the_variable() -> None:
    write(Path.cwd() / ".env", "CASCADE_ROUTING_ENABLED=perhaps\n")
    with pytest.raises(RoutingConfigError, match=r"^environment: CASCADE_ROUTING_ENABLED: "):
        load_routing_config()


def test_muxer_routing_config_points_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "from-env.yaml", YAML)
    monkeypatch.setenv("MUXER_ROUTING_CONFIG", str(path))
    check_example(load_routing_config())


def test_explicit_path_beats_muxer_routing_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXER_ROUTING_CONFIG", str(write(tmp_path / "env.yaml", "default_strategy: hybrid\n")))
    explicit = write(tmp_path / "explicit.yaml", "default_strategy: cost_optimized\n")
    assert load_routing_config(explicit).default_strategy == "cost_optimized"


def test_muxer_routing_config_naming_a_missing_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere.yaml"
    monkeypatch.setenv("MUXER_ROUTING_CONFIG", str(missing))
    with pytest.raises(RoutingConfigError, match=r"nowhere\.yaml"):
        load_routing_config()


def test_muxer_routing_config_in_dotenv_points_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "from-dotenv.yaml", YAML)
    write(tmp_path / ".env", f"MUXER_ROUTING_CONFIG={path}\n")
    check_example(load_routing_config())


@pytest.mark.parametrize("source", ["env", "dotenv"])
def test_only_muxer_routing_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    other = write(tmp_path / "other-tool.yaml", "default_strategy: hybrid\n")
    if source == "env":
        monkeypatch.setenv("ROUTING_CONFIG", str(other))
    else:
        write(tmp_path / ".env", f"ROUTING_CONFIG={other}\n")
    assert RoutingSettings().routing_config is None
    assert load_routing_config().default_strategy == "heuristic"


def test_keyword_overrides_win_over_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "routing.yaml", YAML)
    monkeypatch.setenv("DEFAULT_ROUTING_STRATEGY", "careful")
    monkeypatch.setenv("CASCADE_ROUTING_ENABLED", "true")
    config = load_routing_config(path, default_strategy="cost_optimized", cascade_enabled=False, max_attempts=5)
    assert (config.default_strategy, config.cascade_enabled, config.max_attempts) == ("cost_optimized", False, 5)


def test_keyword_overrides_are_validated_too() -> None:
    with pytest.raises(RoutingConfigError, match="max_attempts"):
        load_routing_config(max_attempts=0)


def test_explicit_settings_replace_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_ROUTING_STRATEGY", "hybrid")
    config = load_routing_config(settings=RoutingSettings(default_routing_strategy="cost_optimized"))
    assert config.default_strategy == "cost_optimized"


def test_dotenv_in_the_working_directory_is_read_and_env_beats_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Path.cwd() == tmp_path  # the unit conftest chdirs here
    write(tmp_path / ".env", "DEFAULT_ROUTING_STRATEGY=cost_optimized\nCASCADE_ROUTING_ENABLED=false\n")
    config = load_routing_config()
    assert (config.default_strategy, config.cascade_enabled) == ("cost_optimized", False)

    monkeypatch.setenv("DEFAULT_ROUTING_STRATEGY", "hybrid")
    config = load_routing_config()
    assert (config.default_strategy, config.cascade_enabled) == ("hybrid", False)


# ---------------------------------------------------------------------------- shared state (Redis)

SECRET_URL = "redis://:hunter2-pw@cache.internal:6380/2"


def test_the_redis_backend_needs_a_url_and_a_redis_scheme_and_never_shows_it() -> None:
    assert RoutingConfig().state_backend == "local"
    with pytest.raises(RoutingConfigError, match="state_backend redis needs redis_url"):
        load_routing_config(settings=RoutingSettings(), state_backend="redis")
    with pytest.raises(RoutingConfigError, match=r"redis_url: redis_url must start with redis://") as bad:
        load_routing_config(settings=RoutingSettings(), redis_url="http://:hunter2-pw@cache.internal")
    assert "hunter2" not in str(bad.value)
    with pytest.raises(RoutingConfigError, match="state_backend"):
        load_routing_config(settings=RoutingSettings(), state_backend="memcached")
    with pytest.raises(RoutingConfigError, match="redis_prefix"):
        load_routing_config(settings=RoutingSettings(), redis_prefix="{gw}")  # the store adds the hash tag

    config = RoutingConfig(state_backend="redis", redis_url=SECRET_URL, redis_prefix="gw-eu:routing")
    assert config.redis_url is not None
    assert config.redis_url.get_secret_value() == SECRET_URL
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert "hunter2" not in shown


def test_the_environment_names_the_backend_and_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXER_ROUTING_STATE_BACKEND", "redis")
    monkeypatch.setenv("MUXER_ROUTING_REDIS_URL", SECRET_URL)
    path = write(tmp_path / "r.yaml", "state_backend: local\nredis_url: redis://127.0.0.1:6379/0\nredis_timeout: 0.5\n")
    config = load_routing_config(path)
    assert config.state_backend == "redis"
    assert config.redis_url is not None
    assert config.redis_url.get_secret_value() == SECRET_URL  # the environment wins over the file
    assert config.redis_timeout == 0.5

    monkeypatch.setenv("MUXER_ROUTING_STATE_BACKEND", "etcd")
    with pytest.raises(RoutingConfigError, match="MUXER_ROUTING_STATE_BACKEND") as bad:
        load_routing_config()
    assert "hunter2" not in str(bad.value)


async def test_a_redis_config_gives_the_router_a_redis_store_on_the_local_state() -> None:
    from muxer_litellm.routing import HeuristicRouter, LocalStore, RedisStore

    assert isinstance(HeuristicRouter().store, LocalStore)
    config = RoutingConfig(
        state_backend="redis", redis_url=SECRET_URL, redis_timeout=0.3, redis_retry_interval=5, redis_trial_lease=90
    )
    async with HeuristicRouter(config) as router:  # no connection is made until routing needs one
        store = router.store
        assert isinstance(store, RedisStore)
        assert store.local is router.state
        assert (store.timeout, store.retry_interval, store.trial_lease) == (0.3, 5, 90)
        assert store.url == "redis://cache.internal:6380/2"
        assert store.prefix == "muxer:routing"


def test_a_combos_override_replaces_the_files_combos_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "routing.yaml", YAML)
    config = load_routing_config(path, default_strategy="heuristic", combos={"mine": {"targets": ["a/m"]}})
    assert list(config.combos) == ["mine"]  # the file's "fast" is gone, as docs/configuration.md says
    assert list(config.cascades) == ["careful"]  # keys not overridden stay the file's
