"""ModelMuxer's real app, imported from ``MODELMUXER_SRC``, with the adapter installed and the
session's real LiteLLM proxy (``tests/conftest.py``) behind it.

ModelMuxer reads its settings once, at import, from the environment: this sets what it needs
(an API key for its auth, a SQLite file, the price-table and rule paths, offline tiktoken, no
native provider keys) before importing it, and runs it in a scratch directory, since its cost
tracker writes ``cost_tracker_enhanced.db`` into the working directory. Nothing in the
ModelMuxer source is changed. Its lifespan (database, router, registry cleanup) is run per
test around an httpx ``ASGITransport`` client, as a server would.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from muxer_litellm import LiteLLMProvider
from tests.litellm_proxy import LiteLLMProxy

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SRC = Path("..") / "shared" / "hosts" / "modelmuxer"
IN_CI = os.environ.get("CI") == "true"

#: ModelMuxer's own provider settings: unset, so the registry holds only what the tests install.
NATIVE_PROVIDER_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "GOOGLE_API_KEY",
    "COHERE_API_KEY",
    "TOGETHER_API_KEY",
    "OLLAMA_BASE_URL",
    "API_OPENAI_API_KEY",
    "API_ANTHROPIC_API_KEY",
    "ROUTER_INTENT_MODEL",
    "INTENT_MODEL",
    "PREFER_LOCAL",
    "TEST_MODE",
    "MODELMUXER_MODE",
    "APP_MODE",
)
#: ModelMuxer's auth allows 60 requests a minute per key: each test gets its own key.
API_KEYS = [f"mm-test-key-{i}" for i in range(200)]
_next_key = itertools.count()


def modelmuxer_src() -> Path:
    """``MODELMUXER_SRC`` (relative to the repository root), default ``../shared/hosts/modelmuxer``."""
    path = Path(os.environ.get("MODELMUXER_SRC") or DEFAULT_SRC)
    return path if path.is_absolute() else (REPO / path).resolve()


def missing_reason() -> str | None:
    src = modelmuxer_src()
    if not (src / "app" / "providers" / "base.py").is_file():
        return (
            f"ModelMuxer source not found at {src}: set MODELMUXER_SRC to a ModelMuxer checkout "
            "(the folder holding app/) to run tests/hosts"
        )
    for module in ("structlog", "aiosqlite"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is missing: pip install -r tests/hosts/requirements-modelmuxer.txt (make install does)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing_reason()
    if reason is None or IN_CI:  # under CI the fixture fails instead
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))


def _tiktoken_cache() -> str:
    """The encodings litellm ships, so ModelMuxer's tiktoken never downloads."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        raise RuntimeError("litellm is not installed: make install")
    return str(Path(spec.origin).parent / "litellm_core_utils" / "tokenizers")


@dataclass
class ModelMuxer:
    """The imported ModelMuxer and the files it reads."""

    src: Path
    workdir: Path
    price_table: Path
    routing_rules: Path
    main: ModuleType
    registry: ModuleType
    hosts: ModuleType  # muxer_litellm.hosts.modelmuxer

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(name)


@pytest.fixture(scope="package")
def modelmuxer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelMuxer]:
    reason = missing_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    src = modelmuxer_src()
    work = tmp_path_factory.mktemp("modelmuxer")
    mp = pytest.MonkeyPatch()
    try:
        for name in NATIVE_PROVIDER_VARS:
            mp.delenv(name, raising=False)
        env = {
            "API_KEYS": ",".join(API_KEYS),
            "DATABASE_URL": f"sqlite:///{work / 'modelmuxer.db'}",
            "PRICE_TABLE_PATH": str(work / "prices.json"),
            "ROUTING_RULES_PATH": str(work / "rules.json"),
            "TIKTOKEN_CACHE_DIR": _tiktoken_cache(),
            "REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens: its cost tracker uses its in-memory mock
            "LOG_LEVEL": "WARNING",
            "ENABLE_TRACING": "false",
            # Its PII redaction rewrites ordinary words ("capital", "France") before routing; the
            # tests compare answers with what the upstream saw, so keep prompts as written.
            "FEATURES_REDACT_PII": "false",
        }
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(work)
        mp.syspath_prepend(str(src))
        main = importlib.import_module("app.main")
        registry = importlib.import_module("app.providers.registry")
        hosts = importlib.import_module("muxer_litellm.hosts.modelmuxer")
        yield ModelMuxer(
            src=src,
            workdir=work,
            price_table=Path(env["PRICE_TABLE_PATH"]),
            routing_rules=Path(env["ROUTING_RULES_PATH"]),
            main=main,
            registry=registry,
            hosts=hosts,
        )
    finally:
        mp.undo()


@dataclass
class Gateway:
    """ModelMuxer's app running with the adapter installed, and a client for it."""

    mm: ModelMuxer
    client: httpx.AsyncClient
    adapter: Any  # LiteLLMAdapter
    proxy: LiteLLMProxy

    async def chat(self, content: str, model: str | None = None, **body: Any) -> httpx.Response:
        payload: dict[str, Any] = {"messages": [{"role": "user", "content": content}], **body}
        if model is not None:
            payload["model"] = model
        return await self.client.post("/v1/chat/completions", json=payload)


async def write_tables(mm: ModelMuxer, proxy: LiteLLMProxy, prices_merge: dict[str, Any] | None = None) -> None:
    """The generated price table (merged with ``prices_merge``) and routing rules, where
    ModelMuxer reads them, from the proxy's catalog as the master key sees it."""
    async with LiteLLMProvider(proxy.base_url, proxy.master_key) as provider:
        await provider.refresh_models()
        mm.hosts.write_price_table(provider, mm.price_table, prices_merge)
        mm.hosts.write_routing_rules(provider, mm.routing_rules)


@pytest.fixture
async def gateway_factory(modelmuxer: ModelMuxer, litellm_proxy: LiteLLMProxy) -> AsyncIterator[Any]:
    """``await start(api_key=..., tables=True)``: ModelMuxer's app, started (lifespan, which
    loads the adapter's catalog) with a fresh adapter installed; stopped (lifespan shutdown,
    which closes the adapter) at teardown. ``base_url`` points the adapter elsewhere than the
    proxy; ``startup_wait`` is ``install``'s."""
    stack: list[Any] = []

    async def start(
        api_key: str | None = None,
        tables: bool = True,
        prices_merge: dict[str, Any] | None = None,
        base_url: str | None = None,
        startup_wait: float | None = None,
    ) -> Gateway:
        hosts = modelmuxer.hosts
        adapter = hosts.LiteLLMAdapter(
            base_url=base_url or litellm_proxy.base_url, api_key=api_key or litellm_proxy.master_key
        )
        if tables:
            await write_tables(modelmuxer, litellm_proxy, prices_merge)
        else:
            modelmuxer.price_table.unlink(missing_ok=True)
            modelmuxer.routing_rules.unlink(missing_ok=True)
        stack.append(adapter)
        hosts.install(adapter=adapter, startup_wait=hosts.STARTUP_WAIT if startup_wait is None else startup_wait)
        app = modelmuxer.main.app
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        stack.append(lifespan)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://modelmuxer.test",
            headers={"Authorization": f"Bearer {API_KEYS[next(_next_key) % len(API_KEYS)]}"},
            timeout=30,
        )
        stack.append(client)
        return Gateway(modelmuxer, client, adapter, litellm_proxy)

    yield start
    for item in reversed(stack):
        if isinstance(item, (httpx.AsyncClient, modelmuxer.hosts.LiteLLMAdapter)):
            await item.aclose()  # an adapter replaced by a later install was never in cleanup's registry
        else:
            await item.__aexit__(None, None, None)
    modelmuxer.hosts.uninstall()


@pytest.fixture
async def gateway(gateway_factory: Any) -> Gateway:
    gw: Gateway = await gateway_factory()
    return gw
