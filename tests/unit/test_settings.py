"""Configuration: ``LiteLLMSettings`` from ``LITELLM_*`` env vars and a ``.env`` file (env wins, LiteLLM's
own variables ignored, bad values rejected naming the field, base URL normalised, blank key = no key);
``LiteLLMProvider.from_settings()`` carrying every setting into the provider (overrides win); and the
constructor's own validation and timeout handling."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from muxer_litellm import LiteLLMProvider, LiteLLMSettings
from muxer_litellm.proxy import transport
from muxer_litellm.proxy.limits import ReplyLimits
from muxer_litellm.proxy.transport import DEFAULT_TIMEOUT, KEEPALIVE_EXPIRY
from muxer_litellm.settings import normalize_base_url
from tests.unit.replies import API_KEY, BASE_URL

MODELS = {"object": "list", "data": [{"id": "gpt-test", "object": "model"}]}
ENV_URL = "http://env-proxy.test:4000"
DOTENV_URL = "http://dotenv-proxy.test:4000"


def write_dotenv(path: Path, **values: str) -> None:
    (path / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()))


@pytest.fixture
def recorded_clients(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every pooled client a provider built during the test."""
    built: list[dict[str, Any]] = []

    class RecordingClient(transport._PooledClient):
        def __init__(self, **kwargs: Any) -> None:
            built.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(transport, "_PooledClient", RecordingClient)
    return built


# ---------------------------------------------------------------------------- LiteLLMSettings


def test_defaults_without_env() -> None:
    settings = LiteLLMSettings()
    assert settings.base_url == "http://localhost:4000"
    assert settings.api_key is None
    assert (settings.timeout, settings.connect_timeout, settings.health_timeout) == (60.0, 5.0, 5.0)
    assert settings.deep_health_timeout == 120.0
    assert settings.catalog_ttl == 300.0
    assert (settings.max_connections, settings.max_keepalive_connections) == (100, 100)
    assert settings.http_transport == "aiohttp"


def test_reads_every_field_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "LITELLM_BASE_URL": ENV_URL,
        "LITELLM_API_KEY": API_KEY,
        "LITELLM_TIMEOUT": "42.5",
        "LITELLM_CONNECT_TIMEOUT": "3",
        "LITELLM_HEALTH_TIMEOUT": "2.5",
        "LITELLM_DEEP_HEALTH_TIMEOUT": "90",
        "LITELLM_CATALOG_TTL": "0",
        "LITELLM_MAX_CONNECTIONS": "7",
        "LITELLM_MAX_KEEPALIVE_CONNECTIONS": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = LiteLLMSettings()
    assert settings.base_url == ENV_URL
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == API_KEY
    assert settings.timeout == 42.5
    assert settings.connect_timeout == 3.0
    assert settings.health_timeout == 2.5
    assert settings.deep_health_timeout == 90.0
    assert settings.catalog_ttl == 0.0
    assert settings.max_connections == 7
    assert settings.max_keepalive_connections == 3


def test_reads_dotenv_in_cwd(tmp_path: Path) -> None:
    write_dotenv(tmp_path, LITELLM_BASE_URL=DOTENV_URL, LITELLM_API_KEY=API_KEY, LITELLM_CATALOG_TTL="12")
    settings = LiteLLMSettings()
    assert settings.base_url == DOTENV_URL
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == API_KEY
    assert settings.catalog_ttl == 12.0


def test_env_beats_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dotenv(tmp_path, LITELLM_BASE_URL=DOTENV_URL, LITELLM_TIMEOUT="11", LITELLM_CATALOG_TTL="12")
    monkeypatch.setenv("LITELLM_BASE_URL", ENV_URL)
    monkeypatch.setenv("LITELLM_TIMEOUT", "22")
    settings = LiteLLMSettings()
    assert settings.base_url == ENV_URL
    assert settings.timeout == 22.0
    assert settings.catalog_ttl == 12.0  # only in .env: still read


def test_litellm_own_variables_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-master-should-not-be-used")
    monkeypatch.setenv("LITELLM_LOG", "DEBUG")
    write_dotenv(tmp_path, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_SALT_KEY="salty")
    settings = LiteLLMSettings()
    assert settings.api_key is None
    assert settings.base_url == "http://localhost:4000"
    assert not {"master_key", "log", "local_model_cost_map", "salt_key"} & settings.model_dump().keys()


def test_init_arguments_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_BASE_URL", ENV_URL)
    assert LiteLLMSettings(base_url=BASE_URL).base_url == BASE_URL


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout", 0),
        ("timeout", -1),
        ("connect_timeout", 0),
        ("health_timeout", 0),
        ("deep_health_timeout", -5),
        ("catalog_ttl", -1),
        ("base_url", "localhost:4000"),
        ("base_url", "ftp://x"),
        ("base_url", "http://"),
        ("max_connections", 0),
        ("max_keepalive_connections", -1),
    ],
    ids=[
        "timeout-0",
        "timeout-negative",
        "connect_timeout-0",
        "health_timeout-0",
        "deep_health_timeout-negative",
        "catalog_ttl-negative",
        "base_url-no-scheme",
        "base_url-ftp",
        "base_url-no-host",
        "max_connections-0",
        "max_keepalive-negative",
    ],
)
def test_invalid_value_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        LiteLLMSettings(**{field: value})
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("LITELLM_TIMEOUT", "0", "timeout"),
        ("LITELLM_TIMEOUT", "soon", "timeout"),
        ("LITELLM_CATALOG_TTL", "-1", "catalog_ttl"),
        ("LITELLM_BASE_URL", "localhost:4000", "base_url"),
        ("LITELLM_MAX_CONNECTIONS", "0", "max_connections"),
    ],
    ids=["timeout-0", "timeout-text", "catalog_ttl-negative", "base_url-no-scheme", "max_connections-0"],
)
def test_invalid_env_value_names_the_field(monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        LiteLLMSettings()
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]


def test_bad_base_url_error_quotes_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        LiteLLMSettings(base_url="localhost:4000")
    assert "http(s) URL" in str(caught.value)
    assert "'localhost:4000'" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://proxy.test:4000", "http://proxy.test:4000"),
        ("http://proxy.test:4000/", "http://proxy.test:4000"),
        ("http://proxy.test:4000/v1", "http://proxy.test:4000"),
        ("http://proxy.test:4000/v1/", "http://proxy.test:4000"),
        ("  http://proxy.test:4000/  ", "http://proxy.test:4000"),
        ("https://gw.example.com/litellm/v1", "https://gw.example.com/litellm"),
        ("https://gw.example.com/litellm", "https://gw.example.com/litellm"),
    ],
    ids=["plain", "trailing-slash", "v1", "v1-slash", "whitespace", "path-prefix-v1", "path-prefix"],
)
def test_base_url_is_normalised(raw: str, expected: str) -> None:
    assert LiteLLMSettings(base_url=raw).base_url == expected


def test_base_url_from_env_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_BASE_URL", f"{ENV_URL}/v1/")
    assert LiteLLMSettings().base_url == ENV_URL


@pytest.mark.parametrize("key", ["", "   ", "\t"], ids=["empty", "spaces", "tab"])
def test_blank_key_is_none(key: str) -> None:
    assert LiteLLMSettings(api_key=key).api_key is None


def test_blank_key_from_env_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_API_KEY", "  ")
    assert LiteLLMSettings().api_key is None


# ---------------------------------------------------------------------------- LiteLLMProvider.from_settings


async def test_from_settings_reads_env(
    proxy: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, recorded_clients: list[dict[str, Any]]
) -> None:
    for name, value in {
        "LITELLM_BASE_URL": f"{BASE_URL}/v1",
        "LITELLM_API_KEY": API_KEY,
        "LITELLM_TIMEOUT": "42",
        "LITELLM_CONNECT_TIMEOUT": "3",
        "LITELLM_CATALOG_TTL": "17",
        "LITELLM_HEALTH_TIMEOUT": "2.5",
        "LITELLM_DEEP_HEALTH_TIMEOUT": "90",
        "LITELLM_MAX_CONNECTIONS": "7",
        "LITELLM_MAX_KEEPALIVE_CONNECTIONS": "3",
        "LITELLM_DEADLINE": "50",
        "LITELLM_STREAM_TIMEOUT": "600",
        "LITELLM_DRAIN_TIMEOUT": "4",
        "LITELLM_MAX_CHAT_REPLY_BYTES": "2048",
        "LITELLM_MAX_EMBEDDINGS_REPLY_BYTES": "4096",
        "LITELLM_MAX_CATALOG_REPLY_BYTES": "8192",
        "LITELLM_MAX_HEALTH_REPLY_BYTES": "16384",
        "LITELLM_MAX_EVENT_BYTES": "32768",
    }.items():
        monkeypatch.setenv(name, value)
    route = proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    async with LiteLLMProvider.from_settings() as provider:
        assert provider.deadline == 50.0
        assert provider.stream_timeout == 600.0
        assert provider.drain_timeout == 4.0
        assert provider.reply_limits == ReplyLimits(chat=2048, embeddings=4096, catalog=8192, health=16384, event=32768)
        assert provider.base_url == BASE_URL
        assert provider.timeout.read == 42.0
        assert provider.timeout.write == 42.0
        assert provider.timeout.pool == 42.0
        assert provider.timeout.connect == 3.0
        assert provider.catalog_ttl == 17.0
        assert provider.health_timeout == 2.5
        assert provider.deep_health_timeout == 90.0
        assert [m["id"] for m in await provider.get_available_models()] == ["gpt-test"]
    assert route.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"
    assert str(route.calls.last.request.url) == f"{BASE_URL}/v1/models"
    assert len(recorded_clients) == 1
    assert recorded_clients[0]["limits"] == httpx.Limits(
        max_connections=7, max_keepalive_connections=3, keepalive_expiry=KEEPALIVE_EXPIRY
    )
    assert recorded_clients[0]["timeout"] == httpx.Timeout(42.0, connect=3.0)


async def test_from_settings_reads_dotenv(proxy: respx.MockRouter, tmp_path: Path) -> None:
    write_dotenv(tmp_path, LITELLM_BASE_URL=BASE_URL, LITELLM_API_KEY=API_KEY)
    route = proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    async with LiteLLMProvider.from_settings() as provider:
        await provider.get_available_models()
    assert route.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_from_explicit_settings(proxy: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_BASE_URL", "http://ignored.test:1")
    settings = LiteLLMSettings(base_url=BASE_URL, api_key=API_KEY, catalog_ttl=9)
    route = proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    async with LiteLLMProvider.from_settings(settings) as provider:
        assert provider.base_url == BASE_URL
        assert provider.catalog_ttl == 9.0
        await provider.get_available_models()
    assert route.calls.last.request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_from_settings_overrides_win(
    proxy: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, recorded_clients: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("LITELLM_BASE_URL", "http://env-loses.test:1")
    monkeypatch.setenv("LITELLM_API_KEY", "sk-env-loses")
    monkeypatch.setenv("LITELLM_CATALOG_TTL", "17")
    settings = LiteLLMSettings()
    other_key = "sk-override-key"
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=1)
    route = proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    async with LiteLLMProvider.from_settings(
        settings, base_url=BASE_URL, api_key=other_key, catalog_ttl=1.5, timeout=8.0, health_timeout=0.5, limits=limits
    ) as provider:
        assert provider.base_url == BASE_URL
        assert provider.catalog_ttl == 1.5
        assert provider.health_timeout == 0.5
        assert provider.timeout == httpx.Timeout(8.0, connect=5.0)
        await provider.get_available_models()
    assert route.calls.last.request.headers["authorization"] == f"Bearer {other_key}"
    assert recorded_clients[-1]["limits"] == limits


async def test_from_settings_without_key_sends_no_authorization(proxy: respx.MockRouter) -> None:
    route = proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    async with LiteLLMProvider.from_settings(LiteLLMSettings(base_url=BASE_URL, api_key="  ")) as provider:
        await provider.get_available_models()
    assert "authorization" not in route.calls.last.request.headers


def test_from_settings_with_bad_env_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CATALOG_TTL", "-3")
    with pytest.raises(ValidationError) as caught:
        LiteLLMProvider.from_settings()
    assert "catalog_ttl" in str(caught.value)


# ---------------------------------------------------------------------------- constructor validation


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"catalog_ttl": -1}, "catalog_ttl"),
        ({"catalog_ttl": math.nan}, "catalog_ttl"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -2.5}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"health_timeout": 0}, "health_timeout"),
        ({"health_timeout": math.nan}, "health_timeout"),
        ({"deep_health_timeout": 0}, "deep_health_timeout"),
        ({"base_url": "localhost:4000"}, "base_url"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": ""}, "base_url"),
    ],
    ids=[
        "catalog_ttl-negative",
        "catalog_ttl-nan",
        "timeout-0",
        "timeout-negative",
        "timeout-nan",
        "health_timeout-0",
        "health_timeout-nan",
        "deep_health_timeout-0",
        "base_url-no-scheme",
        "base_url-ftp",
        "base_url-empty",
    ],
)
def test_constructor_rejects_bad_values_naming_the_parameter(kwargs: dict[str, Any], names: str) -> None:
    with pytest.raises(ValueError, match=names):
        LiteLLMProvider(**{"base_url": BASE_URL, **kwargs})


@pytest.mark.parametrize(
    ("seconds", "read", "connect"),
    [(30.0, 30.0, 5.0), (2.0, 2.0, 2.0), (5, 5.0, 5.0), (120, 120.0, 5.0)],
    ids=["long", "short", "int-5", "int-long"],
)
async def test_number_timeout_becomes_httpx_timeout_with_short_connect(
    seconds: float, read: float, connect: float
) -> None:
    async with LiteLLMProvider(BASE_URL, timeout=seconds) as provider:
        assert isinstance(provider.timeout, httpx.Timeout)
        assert provider.timeout.read == read
        assert provider.timeout.write == read
        assert provider.timeout.pool == read
        assert provider.timeout.connect == connect
        assert provider.timeout.connect is not None
        assert provider.timeout.connect <= 5.0


async def test_httpx_timeout_is_kept_as_given() -> None:
    given = httpx.Timeout(10.0, connect=9.0)
    async with LiteLLMProvider(BASE_URL, timeout=given) as provider:
        assert provider.timeout is given


async def test_constructor_defaults() -> None:
    async with LiteLLMProvider() as provider:
        assert provider.base_url == "http://localhost:4000"
        assert provider.timeout == DEFAULT_TIMEOUT
        assert provider.timeout.read == 60.0
        assert provider.timeout.connect == 5.0
        assert provider.catalog_ttl == 300.0
        assert provider.health_timeout == 5.0


async def test_constructor_normalises_base_url() -> None:
    async with LiteLLMProvider(f" {BASE_URL}/v1/ ") as provider:
        assert provider.base_url == BASE_URL


async def test_catalog_ttl_zero_is_allowed() -> None:
    async with LiteLLMProvider(BASE_URL, catalog_ttl=0) as provider:
        assert provider.catalog_ttl == 0.0


@pytest.mark.parametrize(
    "url", ["http://user:hunter2@proxy.test:4000", "https://:hunter2@proxy.test", "http://token@proxy.test"]
)
def test_a_base_url_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    # httpx would turn them into Basic auth in place of the Bearer key.
    with pytest.raises(ValueError, match="must not contain a user or password") as caught:
        normalize_base_url(url)
    assert "hunter2" not in str(caught.value)
    assert "token@" not in str(caught.value)


async def test_event_hooks_reach_the_providers_own_client() -> None:
    seen: list[str] = []

    async def record(response: httpx.Response) -> None:
        seen.append(response.request.url.path)

    with respx.mock(base_url="http://proxy.test:4000", using="httpx") as mock:
        mock.get("/v1/models").mock(return_value=httpx.Response(200, json={"data": [{"id": "m"}]}))
        async with LiteLLMProvider("http://proxy.test:4000", event_hooks={"response": [record]}) as provider:
            await provider.get_available_models()
    assert seen == ["/v1/models"]


async def test_event_hooks_and_an_own_client_are_refused_together() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match="event_hooks or http_client"):
            LiteLLMProvider("http://proxy.test:4000", http_client=client, event_hooks={"response": []})
        with pytest.raises(ValueError, match="event_hooks or http_client"):
            LiteLLMProvider("http://proxy.test:4000", http_client=client, event_hooks={"response": [print]})
