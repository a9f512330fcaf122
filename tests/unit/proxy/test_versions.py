"""The proxy's LiteLLM version: read from ``/health/readiness`` by ``health_check()``, one warning
per provider when it is outside the tested range, and choosing another venv's proxy CLI."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from muxer_litellm import LiteLLMProvider
from muxer_litellm.proxy.process import PROXY_CLI_ENV, LiteLLMProxy, ProxyStartError, litellm_executable
from muxer_litellm.proxy.versions import NEWEST_TESTED, OLDEST_TESTED, parse_version, version_warning
from tests.unit.replies import API_KEY

MODELS = {"object": "list", "data": [{"id": "gpt-test", "object": "model"}]}


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("1.74.15", (1, 74, 15)),
        ("1.74.15.post2", (1, 74, 15)),
        (" v1.108.7 ", (1, 108, 7)),
        ("1.110.0rc1", (1, 110, 0)),
        ("1.74", None),
        ("latest", None),
        ("", None),
        (None, None),
        (1.74, None),
        ("9" * 100 + ".1.1", None),
    ],
)
def test_parse_version(raw: Any, parsed: tuple[int, int, int] | None) -> None:
    assert parse_version(raw) == parsed


def test_version_warning_names_the_version_and_the_tested_range() -> None:
    assert version_warning(OLDEST_TESTED) is None
    assert version_warning(NEWEST_TESTED) is None
    assert version_warning((1, 106, 2)) is None
    older = version_warning((1, 74, 14))
    assert older is not None
    assert "1.74.14, older than" in older
    assert f"({dotted(OLDEST_TESTED)} to {dotted(NEWEST_TESTED)})" in older
    newer = version_warning((1, 110, 0))
    assert newer is not None
    assert "1.110.0, newer than" in newer
    assert "docs/proxy-versions.md" in newer


def ready(version: Any) -> httpx.Response:
    body: dict[str, Any] = {"status": "healthy", "db": "Not connected"}
    if version is not None:
        body["litellm_version"] = version
    return httpx.Response(200, json=body)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "muxer_litellm"]


@pytest.mark.parametrize(
    ("version", "warned"),
    [("1.70.0", "1.70.0, older than"), ("1.110.2", "1.110.2, newer than"), ("1.106.2", None)],
)
async def test_health_check_reads_the_version_and_warns_once_outside_the_tested_range(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    caplog: pytest.LogCaptureFixture,
    version: str,
    warned: str | None,
) -> None:
    proxy.get("/health/readiness").mock(return_value=ready(version))
    proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    details = proxy.get("/health/readiness/details")
    assert provider.proxy_version is None
    with caplog.at_level(logging.WARNING, logger="muxer_litellm"):
        for _ in range(3):
            assert await provider.health_check() is True
    assert provider.proxy_version == version
    assert details.call_count == 0  # the public reply named it (LiteLLM 1.74)
    found = warnings_of(caplog)
    if warned is None:
        assert found == []
    else:
        assert len(found) == 1, found
        assert warned in found[0]


async def test_the_version_is_read_even_when_the_key_is_refused(
    proxy: respx.MockRouter, provider: LiteLLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.get("/health/readiness").mock(return_value=ready("1.60.0"))
    proxy.get("/v1/models").mock(return_value=httpx.Response(401, json={"error": {"message": "bad key"}}))
    with caplog.at_level(logging.WARNING, logger="muxer_litellm"):
        assert await provider.health_check() is False
    assert provider.proxy_version == "1.60.0"
    assert any("1.60.0, older than" in m for m in warnings_of(caplog))


@pytest.mark.parametrize(
    ("details", "kept"),
    [
        (httpx.Response(404, json={"detail": "Not Found"}), None),
        (httpx.Response(200, json={"status": "healthy"}), None),
        (httpx.Response(200, json={"litellm_version": "unknown"}), "unknown"),
        (httpx.Response(200, text="<html>"), None),
        (httpx.Response(200, json={"litellm_version": "\x1b[31m1.2.3"}), None),
    ],
    ids=["no-details-route", "no-version", "unreadable", "not-json", "terminal-escape"],
)
async def test_a_proxy_without_a_readable_version_is_not_warned_about(
    proxy: respx.MockRouter,
    provider: LiteLLMProvider,
    caplog: pytest.LogCaptureFixture,
    details: httpx.Response,
    kept: str | None,
) -> None:
    proxy.get("/health/readiness").mock(return_value=ready(None))
    proxy.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    asked = proxy.get("/health/readiness/details").mock(return_value=details)
    with caplog.at_level(logging.WARNING, logger="muxer_litellm"):
        assert await provider.health_check() is True
        assert await provider.health_check() is True
    assert warnings_of(caplog) == []
    assert asked.call_count == 1  # once per provider, not on every probe
    assert provider.proxy_version == kept


async def test_a_newer_proxy_shows_its_version_only_to_a_key(
    proxy: respx.MockRouter, provider: LiteLLMProvider, caplog: pytest.LogCaptureFixture
) -> None:
    # LiteLLM 1.106+: the public readiness reply is {status, db}; the details need the key.
    proxy.get("/health/readiness").mock(return_value=ready(None))
    models = proxy.get("/v1/models").mock(return_value=httpx.Response(401, json={"error": {"message": "bad key"}}))
    asked = proxy.get("/health/readiness/details").mock(return_value=ready("1.110.2"))
    with caplog.at_level(logging.WARNING, logger="muxer_litellm"):
        assert await provider.health_check() is False
        assert asked.call_count == 0  # a refused key would be refused there too: ask once it is accepted
        models.mock(return_value=httpx.Response(200, json=MODELS))
        for _ in range(3):
            assert await provider.health_check() is True
    assert asked.call_count == 1
    assert asked.calls.last.request.headers["authorization"] == "Bearer " + API_KEY
    assert provider.proxy_version == "1.110.2"
    assert [m for m in warnings_of(caplog) if "newer than" in m] == [
        "the LiteLLM proxy runs 1.110.2, newer than the versions this client is tested with "
        f"({dotted(OLDEST_TESTED)} to {dotted(NEWEST_TESTED)}) (see docs/proxy-versions.md)"
    ]


# ---------------------------------------------------------------------------- the proxy CLI's venv


def fake_cli(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_proxy_cli_can_come_from_another_venv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = fake_cli(tmp_path / "litellm")
    monkeypatch.setenv(PROXY_CLI_ENV, str(other))
    assert litellm_executable() == str(other)
    monkeypatch.delenv(PROXY_CLI_ENV)
    assert litellm_executable() != str(other)


def test_a_proxy_cli_that_is_not_there_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-venv" / "bin" / "litellm"
    monkeypatch.setenv(PROXY_CLI_ENV, str(missing))
    assert litellm_executable() is None
    proxy = LiteLLMProxy({"model_list": []}, tmp_path)
    with pytest.raises(ProxyStartError) as caught:
        proxy.launch()
    assert f"{PROXY_CLI_ENV}={str(missing)!r}" in str(caught.value)
    assert proxy.pid is None
