"""The deployment files keep their promises: read as YAML/JSON, since Docker does not run here.

Covers config/litellm-config.yaml (the production proxy config), infra/docker-compose.litellm.yaml,
infra/.env.example, infra/prometheus.yml and the Grafana provisioning. tests/integration/
test_proxy_config.py proves the proxy config also starts a real proxy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "litellm-config.yaml"
INFRA = ROOT / "infra"
COMPOSE = INFRA / "docker-compose.litellm.yaml"
ENV_EXAMPLE = INFRA / ".env.example"
PROMETHEUS = INFRA / "prometheus.yml"
GRAFANA = INFRA / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yaml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "muxer-litellm.yaml"
DASHBOARD = GRAFANA / "dashboards" / "muxer-litellm.json"
CONSTRAINTS = ROOT / "constraints.txt"

CORE_SERVICES = {"litellm", "postgres", "redis"}
MONITORING_SERVICES = {"prometheus", "grafana"}

ENV_REF = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")
# ${VAR}, ${VAR:?msg}, ${VAR:-default}; not $${VAR}, which compose leaves for the container's shell.
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
ONLY_A_VAR = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}$")  # no default: a default would be a literal
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|(?:^|_)KEY$|API_KEY|SALT")
# host:port/health (not /health/liveliness, not Grafana's /api/health): LiteLLM's billable deep check.
BARE_HEALTH = re.compile(r"(?::\d+|^)/health(?![/\w-])")


# --- helpers (tests/integration/test_proxy_config.py imports some) --------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def strings(node: Any) -> Iterator[str]:
    """Every string in a parsed YAML/JSON tree, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def env_refs(text: str) -> set[str]:
    """The NAME of every ``os.environ/NAME`` in a LiteLLM config's text, comments included."""
    return set(ENV_REF.findall(text))


def exposed_metric_names(exposition: str) -> set[str]:
    """Series names a Prometheus text exposition declares (histograms add _bucket/_sum/_count)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            name, kind = parts[2], parts[3]
            names.add(name)
            if kind == "histogram":
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return names


def dashboard_metric_names(prefix: str) -> set[str]:
    """Metric names (starting with ``prefix``) the Grafana dashboard's queries use."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    # Drop the label lists of `by (...)` / `without (...)`: a label may share the prefix.
    bare = [re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", e) for e in exprs]
    return {m for e in bare for m in re.findall(rf"\b{prefix}[a-z0-9_]*", e)}


def model_entries() -> list[dict[str, Any]]:
    entries = load_yaml(CONFIG)["model_list"]
    assert isinstance(entries, list)
    return entries


def env_example() -> tuple[dict[str, str], set[str]]:
    """(assigned NAME -> value, names only mentioned as ``# NAME=``) from infra/.env.example."""
    assigned: dict[str, str] = {}
    mentioned: set[str] = set()
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if match := re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line):
            assigned[match[1]] = match[2].strip()
        elif match := re.match(r"^#\s*([A-Z_][A-Z0-9_]*)=", line):
            mentioned.add(match[1])
    return assigned, mentioned


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE)
    assert isinstance(data, dict)
    return data


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    services = compose["services"]
    assert name in services, f"compose has no {name!r} service"
    svc = services[name]
    assert isinstance(svc, dict)
    return svc


def volume_mounts(svc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each short-syntax volume."""
    mounts = []
    for entry in svc.get("volumes", []):
        assert isinstance(entry, str), f"use the short volume syntax: {entry!r}"
        parts = entry.split(":")
        mounts.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"))
    return mounts


def mount_of(svc: dict[str, Any], target: str) -> tuple[str, str]:
    for source, mounted_at, mode in volume_mounts(svc):
        if mounted_at == target:
            return source, mode
    raise AssertionError(f"nothing is mounted at {target}: {svc.get('volumes')}")


def healthcheck_text(svc: dict[str, Any]) -> str:
    test = svc.get("healthcheck", {}).get("test")
    assert test, "no healthcheck"
    return " ".join(test) if isinstance(test, list) else str(test)


# --- the production proxy config ---------------------------------------------------------------


def test_every_model_states_prices_and_a_context_window() -> None:
    entries = model_entries()
    assert len({e["model_name"] for e in entries}) >= 3
    for entry in entries:
        name, info = entry["model_name"], entry.get("model_info") or {}
        for field in ("input_cost_per_token", "output_cost_per_token"):
            value = info.get(field)
            assert isinstance(value, (int, float)), f"{name}: {field} = {value!r}"
            assert not isinstance(value, bool), f"{name}: {field} = {value!r}"
            assert value >= 0, f"{name}: {field} = {value!r}"
        window = info.get("max_input_tokens")
        assert isinstance(window, int), f"{name}: max_input_tokens = {window!r}"
        assert window > 0, f"{name}: max_input_tokens = {window!r}"
        if info.get("mode") != "embedding":  # a chat model priced 0 would look free to cost routing
            assert info["input_cost_per_token"] > 0, name
            assert info["output_cost_per_token"] > 0, name
            assert isinstance(info.get("max_output_tokens"), int), f"{name}: max_output_tokens"


def test_model_info_has_no_integer_tier() -> None:
    # LiteLLM's own ModelInfo.tier is "free" | "paid": an integer drops the whole deployment.
    for entry in model_entries():
        tier = (entry.get("model_info") or {}).get("tier")
        assert tier in (None, "free", "paid"), f"{entry['model_name']}: tier {tier!r}; set tiers in routing.yaml"


def test_every_key_comes_from_the_environment() -> None:
    config = load_yaml(CONFIG)
    providers = set()
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        assert "mock_response" not in params, f"{entry['model_name']}: mocks belong in the demo config"
        assert ENV_REF.fullmatch(params.get("api_key", "")), f"{entry['model_name']}: api_key {params.get('api_key')!r}"
        providers.add(params["model"].split("/", 1)[0])
    assert len(providers) >= 3, f"a production-shaped config spans several providers, got {providers}"
    general = config["general_settings"]
    assert general["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert "database_url" not in general or ENV_REF.fullmatch(general["database_url"])
    for text in strings(config):
        assert not re.match(r"^(sk-|gsk_|AIza)", text), f"literal key in the config: {text[:6]}..."


def test_router_settings_name_only_existing_models() -> None:
    config = load_yaml(CONFIG)
    names = {e["model_name"] for e in config["model_list"]}
    router = config["router_settings"]
    assert router["fallbacks"], "no fallbacks"
    assert router["context_window_fallbacks"], "no context_window_fallbacks"
    for kind in ("fallbacks", "context_window_fallbacks"):
        for rule in router[kind]:
            for source, targets in rule.items():
                assert source in names, f"{kind}: {source!r} is not a model_name"
                assert set(targets) <= names - {source}, f"{kind}: {source} -> {targets}"
    assert isinstance(router["num_retries"], int)
    assert router["num_retries"] >= 1
    assert isinstance(router["allowed_fails"], int)
    assert isinstance(router["cooldown_time"], (int, float))
    general = config["general_settings"]
    assert general["background_health_checks"] is True
    assert isinstance(general["health_check_interval"], int)
    assert general["health_check_interval"] >= 60


def test_the_redis_cache_section_is_there_but_commented_out() -> None:
    config = load_yaml(CONFIG)
    assert "cache" not in config["litellm_settings"], "the response cache must stay opt-in"
    commented = [line.strip()[1:].strip() for line in CONFIG.read_text().splitlines() if line.strip().startswith("#")]
    assert "cache: true" in commented
    start = commented.index("cache_params:")
    section = commented[start : start + 6]
    assert "type: redis" in section
    assert {"host: os.environ/REDIS_HOST", "password: os.environ/REDIS_PASSWORD"} <= set(section)


def test_prometheus_metrics_are_on_since_prometheus_scrapes_them() -> None:
    settings = load_yaml(CONFIG)["litellm_settings"]
    assert "prometheus" in settings["callbacks"]
    assert settings.get("require_auth_for_metrics_endpoint", True) is not False


# --- the compose stack -------------------------------------------------------------------------


def test_the_proxy_image_is_the_tested_litellm_version(compose: dict[str, Any]) -> None:
    image = service(compose, "litellm")["image"]
    match = re.fullmatch(r"ghcr\.io/berriai/litellm:(?:main-)?v(\d+\.\d+\.\d+)(?:-stable)?", image)
    assert match, f"pin the LiteLLM image to a version tag: {image}"
    pinned = re.search(r"^litellm==(\S+)$", CONSTRAINTS.read_text(), re.M)
    assert pinned, "constraints.txt pins no litellm version"
    assert match[1] == pinned[1], f"image {image} but the tests run litellm=={pinned[1]}"


def test_every_image_has_a_version_tag(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        image = svc["image"]
        _, _, tag = image.rpartition(":")
        assert tag, f"{name}: no tag in {image}"
        assert "/" not in tag, f"{name}: no tag in {image}"
        assert "latest" not in tag, f"{name}: floating tag {image}"
        assert re.search(r"\d", tag), f"{name}: floating tag {image}"


def test_the_proxy_reads_the_production_config_read_only(compose: dict[str, Any]) -> None:
    litellm = service(compose, "litellm")
    command = litellm["command"]
    target = command[command.index("--config") + 1]
    source, mode = mount_of(litellm, target)
    assert mode == "ro"
    assert (COMPOSE.parent / source).resolve() == CONFIG
    env_file = litellm["env_file"]
    assert env_file == ".env" or env_file == [".env"], env_file


def test_healthchecks_use_liveliness_never_the_billable_health(compose: dict[str, Any]) -> None:
    assert "/health/liveliness" in healthcheck_text(service(compose, "litellm"))
    for name, svc in compose["services"].items():
        if "healthcheck" in svc:
            assert not BARE_HEALTH.search(healthcheck_text(svc)), f"{name} probes /health"
    for job in load_yaml(PROMETHEUS)["scrape_configs"]:
        assert not BARE_HEALTH.search(job.get("metrics_path", "/metrics")), job["job_name"]


def test_the_proxy_waits_for_healthy_postgres_and_redis(compose: dict[str, Any]) -> None:
    depends = service(compose, "litellm")["depends_on"]
    declared = set(compose.get("volumes") or {})
    for name, data_dir in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        assert depends[name] == {"condition": "service_healthy"}, name
        svc = service(compose, name)
        assert healthcheck_text(svc).startswith("CMD"), name
        source, _ = mount_of(svc, data_dir)
        assert source in declared, f"{name} keeps its data in {source!r}, not a named volume"


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        source
        for svc in compose["services"].values()
        for source, _, _ in volume_mounts(svc)
        if not source.startswith((".", "/"))
    }
    assert used == declared


def test_no_literal_secret_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: use the mapping form of environment"
        for key, value in env.items():
            if SECRET_NAME.search(key):
                assert ONLY_A_VAR.match(str(value)), f"{name}.{key} must be a ${{VAR}} without default"
    for text in strings(compose):
        for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", text):
            assert ONLY_A_VAR.match(password), f"password in a URL must be a ${{VAR}}: {text}"
        if "requirepass" in text:
            assert re.search(r"--requirepass\s+\"?\$\$?\{?REDIS_PASSWORD", text), text
        assert not re.search(r"(?:^|\s)-a\s+\S", text), f"a password on a command line: {text}"


def test_ports_listen_on_loopback_only(compose: dict[str, Any]) -> None:
    published = 0
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port!r}"
            published += 1
        if name == "postgres":
            assert "ports" not in svc, f"{name} needs no published port"
    assert published >= 4


def test_the_gateway_shares_routing_state_in_the_compose_redis(compose: dict[str, Any]) -> None:
    # The gateway runs on the host: Redis is published on loopback only, behind its password,
    # and .env.example gives the gateway's URL for it (a database of its own, the proxy keeps 0).
    redis = service(compose, "redis")
    assert redis["ports"] == ["127.0.0.1:6379:6379"]
    assert "--requirepass" in " ".join(redis["command"])
    _, mentioned = env_example()
    assert {"MUXER_ROUTING_STATE_BACKEND", "MUXER_ROUTING_REDIS_URL"} <= mentioned
    line = next(raw for raw in ENV_EXAMPLE.read_text().splitlines() if "MUXER_ROUTING_REDIS_URL=" in raw)
    url = line.split("=", 1)[1].split()[0]
    assert re.fullmatch(r"redis://:<REDIS_PASSWORD>@127\.0\.0\.1:6379/([1-9]\d*)", url), url
    from muxer_litellm.routing import RoutingConfig

    config = RoutingConfig(state_backend="redis", redis_url=url.replace("<REDIS_PASSWORD>", "pw"))
    assert config.state_backend == "redis"


def test_monitoring_is_a_profile_with_prometheus_and_grafana(compose: dict[str, Any]) -> None:
    profiled = {name for name, svc in compose["services"].items() if "monitoring" in svc.get("profiles", [])}
    assert profiled == MONITORING_SERVICES
    for name in CORE_SERVICES:
        assert "profiles" not in service(compose, name), f"{name} must start without a profile"


def test_prometheus_reads_infra_prometheus_yml_read_only(compose: dict[str, Any]) -> None:
    prometheus = service(compose, "prometheus")
    config_flag = next(arg for arg in prometheus["command"] if arg.startswith("--config.file="))
    source, mode = mount_of(prometheus, config_flag.split("=", 1)[1])
    assert mode == "ro"
    assert (COMPOSE.parent / source).resolve() == PROMETHEUS


def test_prometheus_scrapes_the_proxy_with_a_key_from_a_compose_secret(compose: dict[str, Any]) -> None:
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS)["scrape_configs"]}
    litellm_job = jobs["litellm"]
    command = service(compose, "litellm")["command"]
    port = command[command.index("--port") + 1]
    assert litellm_job["static_configs"][0]["targets"] == [f"litellm:{port}"]
    assert litellm_job["metrics_path"] == "/metrics/"  # /metrics answers with a redirect
    auth = litellm_job["authorization"]
    assert set(auth) == {"type", "credentials_file"}, "no inline credentials in prometheus.yml"
    secret = auth["credentials_file"].removeprefix("/run/secrets/")
    assert secret in service(compose, "prometheus")["secrets"]
    assert compose["secrets"][secret] == {"environment": "LITELLM_MASTER_KEY"}
    assert "muxer-gateway" in jobs, "the gateway's own muxer_litellm metrics are scraped too"
    text = PROMETHEUS.read_text()
    assert "bearer_token:" not in text
    assert "credentials:" not in text


def test_grafana_gets_its_provisioning_and_dashboards(compose: dict[str, Any]) -> None:
    grafana = service(compose, "grafana")
    source, mode = mount_of(grafana, "/etc/grafana/provisioning")
    assert mode == "ro"
    assert (COMPOSE.parent / source).resolve() == GRAFANA / "provisioning"
    provider = load_yaml(DASHBOARD_PROVIDERS)["providers"][0]
    source, mode = mount_of(grafana, provider["options"]["path"])
    assert mode == "ro"
    assert (COMPOSE.parent / source).resolve() == DASHBOARD.parent
    datasource = load_yaml(DATASOURCES)["datasources"][0]
    assert datasource["type"] == "prometheus"
    host, port = re.fullmatch(r"http://([\w-]+):(\d+)", datasource["url"]).groups()  # type: ignore[union-attr]
    assert host in compose["services"]
    assert f"127.0.0.1:{port}:{port}" in service(compose, host)["ports"]
    dashboard = json.loads(DASHBOARD.read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert uids == {datasource["uid"]}


def test_the_dashboard_queries_metrics_the_gateway_exports() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from muxer_litellm.observability import PrometheusMetrics

    registry = prometheus_client.CollectorRegistry()
    PrometheusMetrics(registry=registry)
    exported = exposed_metric_names(prometheus_client.generate_latest(registry).decode())
    used = dashboard_metric_names("muxer_litellm_")
    assert len(used) >= 4
    assert used <= exported, f"the dashboard queries metrics nobody exports: {sorted(used - exported)}"


# --- infra/.env.example documents every variable -------------------------------------------------


def test_env_example_documents_every_variable(compose: dict[str, Any]) -> None:
    assigned, mentioned = env_example()
    documented = set(assigned) | mentioned
    compose_refs = [ref for text in strings(compose) for ref in COMPOSE_VAR.findall(text)]  # comments ignored
    compose_vars = {name for name, _ in compose_refs}
    secret_vars = {s["environment"] for s in (compose.get("secrets") or {}).values() if "environment" in s}
    active_config = yaml.safe_dump(load_yaml(CONFIG))  # without the comments
    set_by_compose = set(service(compose, "litellm").get("environment") or {})
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= compose_vars
    assert env_refs(CONFIG.read_text()) - documented == set()
    assert (compose_vars | secret_vars) - documented == set()
    required = {name for name, rest in compose_refs if rest.startswith(":?")}
    must_fill = required | secret_vars | (env_refs(active_config) - set_by_compose)
    assert must_fill - set(assigned) == set(), "these must be uncommented lines the operator fills in"


def test_env_example_holds_no_secret() -> None:
    assigned, _ = env_example()
    assert "LITELLM_MASTER_KEY" in assigned
    for name, value in assigned.items():
        if SECRET_NAME.search(name):
            assert value == "", f"{name} has a value in .env.example: leave secrets empty"
        assert not re.match(r"^(sk-|gsk_|AIza)", value), name


def test_the_salt_key_is_required_not_passed_empty(compose: dict[str, Any]) -> None:
    # LiteLLM uses the master key only when LITELLM_SALT_KEY is absent; an unfilled .env line
    # would hand it "" and stored credentials would be encrypted with an empty key.
    value = (service(compose, "litellm").get("environment") or {}).get("LITELLM_SALT_KEY", "")
    assert re.fullmatch(r"\$\{LITELLM_SALT_KEY:\?[^}]+\}", value), value


def test_redis_starts_through_its_entrypoint_so_it_drops_root(compose: dict[str, Any]) -> None:
    command = " ".join(service(compose, "redis")["command"])
    assert "exec docker-entrypoint.sh redis-server" in command


def test_env_example_names_every_gateway_setting_the_docs_document() -> None:
    readme = (ROOT / "README.md").read_text()
    reference = "".join(page.read_text() for page in sorted((ROOT / "docs").glob("*.md")))
    pattern = r"^\| `((?:LITELLM|DEFAULT_ROUTING|CASCADE_ROUTING|MUXER)_[A-Z_]+)`"
    assert {"LITELLM_BASE_URL", "LITELLM_API_KEY", "LITELLM_TIMEOUT"} <= set(re.findall(pattern, readme, re.M))
    documented = set(re.findall(pattern, readme + reference, re.M))
    assigned, mentioned = env_example()
    assert documented - (set(assigned) | mentioned) == set()
