"""docs/native-providers.md's example is a real program: run as written, it prints what the page
shows. The same provider routed beside a real proxy: tests/integration/test_native_routing.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from muxer_litellm.errors import ModelNotFoundError, ProviderClosedError
from muxer_litellm.host import CatalogProvider, LLMProvider

PAGE = Path(__file__).resolve().parents[2] / "docs" / "native-providers.md"


def blocks(language: str) -> list[str]:
    """The page's fenced code blocks in ``language``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def example_source() -> str:
    """The complete minimal provider (the page's first Python block)."""
    return blocks("python")[0]


def load_example() -> ModuleType:
    """The example as a module (its ``main()`` not run): ``AcmeProvider``, ``PRICES``..."""
    module = ModuleType("native_provider_example")
    exec(compile(example_source(), str(PAGE), "exec"), module.__dict__)  # the docs' own code
    return module


def test_the_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    script = tmp_path / "acme_provider.py"
    script.write_text(example_source(), encoding="utf-8")

    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == blocks("text")[0]


async def test_the_example_provider_raises_the_contracts_errors() -> None:
    acme = load_example().AcmeProvider()
    assert isinstance(acme, LLMProvider)
    assert not isinstance(acme, CatalogProvider)
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(ModelNotFoundError) as unknown:
        await acme.chat_completion(messages, "acme-maxi")
    assert (unknown.value.provider, unknown.value.model, unknown.value.status_code) == ("acme", "acme-maxi", 404)
    await acme.aclose()
    assert await acme.health_check() is False
    with pytest.raises(ProviderClosedError):
        await acme.chat_completion(messages, "acme-mini")
