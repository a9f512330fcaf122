"""The one-command demo (``make demo``, ``muxer-litellm demo``, ``python -m muxer_litellm.demo``).

Starts a real LiteLLM proxy on a free loopback port with ``litellm-demo.yaml``, shipped in the
package (``muxer_litellm/demo/``; mocked answers, real list prices: no keys, no internet), so
an installed wheel runs it from anywhere. Registers :class:`LiteLLMProvider` beside
an in-process native provider, and shows what a host gets: the model table the router sees,
a simple and a code prompt routed to different models with the reason, one answer streamed
as it arrives, and what each call cost. Whatever happens (an error, Ctrl-C, SIGTERM, the
terminal closing), the proxy is stopped before it returns.

Exit codes: 0 done, 1 error (one line on stderr, no traceback), 129 SIGHUP, 130 Ctrl-C,
143 SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._utils import format_usd
from .._version import __version__
from ..errors import DemoError, ProviderTimeoutError, ProxyStartError, ReplyTooLargeError
from ..host import LLMProvider, MessageInput
from ..proxy.process import LiteLLMProxy
from ..proxy.provider import DEFAULT_TIMEOUT, LiteLLMProvider
from ..routing import HeuristicRouter, RoutePlan
from ..routing.candidates import Candidate
from .native import LocalProvider
from .signals import Shutdown, Terminated

__all__ = ["DEMO_CONFIG_NAME", "DemoError", "default_config", "default_console", "demo_config", "main"]

DEMO_CONFIG_NAME = "litellm-demo.yaml"
STRATEGY = "heuristic"

SIMPLE_PROMPT = "What is the capital of France?"
CODE_PROMPT = "Write a Python function that merges two sorted lists in linear time, with unit tests."
JSON_PROMPT = "Give the capitals of France, Germany and Italy."
#: A JSON-schema request: only models that state schema support are sure to honour it.
JSON_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "capitals",
        "schema": {
            "type": "object",
            "properties": {c: {"type": "string"} for c in ("France", "Germany", "Italy")},
            "required": ["France", "Germany", "Italy"],
        },
    },
}

_ANSWER_LINES = 20
_ANSWER_CHARS = 1200
_INDENT = "   "


@dataclass(frozen=True, slots=True)
class DemoCall:
    """One call the demo made (a line of its cost summary; not the metrics hook's ``CallRecord``)."""

    label: str
    provider: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    cost_source: str

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


def default_config() -> Traversable:
    """The demo's proxy config, shipped as package data (the one source of truth: no copy in
    ``config/`` to drift from it)."""
    return resources.files("muxer_litellm.demo") / DEMO_CONFIG_NAME


@contextlib.contextmanager
def demo_config(config: Path | str | None = None) -> Iterator[Path]:
    """The config file to start the proxy with: ``config`` when given, else :func:`default_config`
    as a real file for as long as the context lasts (``litellm --config`` needs a path, and
    a zipped install has none until ``as_file`` makes one)."""
    if config is not None:
        path = Path(config).expanduser()
        if not path.is_file():
            raise DemoError(f"demo config not found: {path}")
        yield path.resolve()
        return
    with resources.as_file(default_config()) as path:
        yield path


# ---------------------------------------------------------------------- formatting


def _per_1k(value: float | None) -> str:
    if value is None:
        return "unknown"
    return "$" + format(Decimal(repr(value)).normalize(), "f")


def _say(console: Console, text: str, style: str | None = None, *, end: str = "\n") -> None:
    """Print text as is: no markup parsing (answers may contain brackets), no hard wrapping
    (long reasons stay one line for the terminal to wrap, and for scripts to parse)."""
    console.print(Text(text, style=style or ""), end=end, soft_wrap=True, highlight=False)


def _clip(text: str) -> str:
    lines = text.strip("\n").splitlines()
    shown = lines[:_ANSWER_LINES]
    out = "\n".join(shown)
    if len(out) > _ANSWER_CHARS:
        out = out[:_ANSWER_CHARS].rstrip() + " ..."
    elif len(lines) > len(shown):
        out += f"\n... ({len(lines) - len(shown)} more lines)"
    return out


def _indented(text: str) -> str:
    return text.replace("\n", "\n" + _INDENT + "  ")


def _capabilities(c: Candidate) -> str:
    flags = {
        "tools": c.supports("supports_function_calling"),
        "vision": c.supports("supports_vision"),
        "json schema": c.supports("supports_response_schema"),
        "reasoning": c.supports("supports_reasoning"),
    }
    if all(v is None for v in flags.values()):
        text = "not stated"
    else:
        text = ", ".join(name for name, has in flags.items() if has) or "none"
        unknown = [name for name, has in flags.items() if has is None]
        if unknown:
            text += f" ({', '.join(unknown)}: ?)"
    good_at = sorted(c.task_types - {"general"})
    if good_at:
        text += f"\ngood at: {', '.join(good_at)}"
    return text


def _upstream(provider: LLMProvider, model: str) -> str:
    if isinstance(provider, LiteLLMProvider):
        card = provider.get_model_info(model)
        return (card.upstream_model or "") if card is not None else ""
    if isinstance(provider, LocalProvider) and model in provider.models:
        return provider.models[model].upstream
    return ""


def _name_cell(key: str, upstream: str) -> Text:
    return Text.assemble(key, "\n", (upstream or "-", "dim"))


def _price_cell(inp: float | None, out: float | None) -> str:
    return f"{_per_1k(inp)}\n{_per_1k(out)}"


def model_table(router: HeuristicRouter, providers: Mapping[str, LLMProvider]) -> Table:
    """Every model the router can pick (plus the proxy's non-chat models), as it sees them.

    Two lines a row (name over upstream, input over output price) so it fits ~100 columns."""
    table = Table(title="Models the router sees", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("model\nupstream", overflow="fold")
    table.add_column("$/1K in\n$/1K out", justify="right", no_wrap=True)
    table.add_column("context", justify="right", no_wrap=True)
    table.add_column("capabilities", min_width=20)
    table.add_column("tier\npriced by", no_wrap=True)
    candidates = router.candidates(providers)
    for c in candidates:
        table.add_row(
            _name_cell(c.key, _upstream(providers[c.provider], c.model)),
            _price_cell(c.input_cost_per_1k, c.output_cost_per_1k),
            f"{c.context_window:,}" if c.context_window else "?",
            _capabilities(c),
            f"{c.tier if c.tier is not None else '?'} ({c.tier_source})\n{c.pricing_source}",
        )
    chat = {c.key for c in candidates}
    for name, provider in providers.items():
        if not isinstance(provider, LiteLLMProvider):
            continue
        for card in provider.model_cards():
            if f"{name}/{card.name}" in chat:
                continue
            table.add_row(
                _name_cell(f"{name}/{card.name}", card.upstream_model or ""),
                _price_cell(card.input_cost_per_1k, card.output_cost_per_1k),
                f"{card.context_window:,}" if card.context_window else "?",
                f"{card.mode or 'non-chat'} model\n(not routed for chat)",
                f"-\n{card.pricing_source}",
            )
    return table


def _fallbacks(plan: RoutePlan) -> str:
    rest = [
        f"{a.key} (est. {format_usd(a.estimated_cost)}{'; ' + a.note if a.note else ''})" for a in plan.candidates[1:]
    ]
    return ", ".join(rest) if rest else "none"


def _cost_line(record: DemoCall) -> str:
    source = {"proxy": "billed by the proxy", "catalog": "from the price table"}.get(
        record.cost_source, record.cost_source
    )
    tokens = (
        f"{record.prompt_tokens} prompt + {record.completion_tokens} completion tokens"
        if record.prompt_tokens is not None and record.completion_tokens is not None
        else "usage not reported"
    )
    return f"{_INDENT}cost: {format_usd(record.cost)} ({source}: {tokens})"


# ---------------------------------------------------------------------- the demo itself


async def _routed(
    console: Console,
    router: HeuristicRouter,
    providers: Mapping[str, LLMProvider],
    number: int,
    label: str,
    prompt: str,
) -> DemoCall:
    messages: list[MessageInput] = [{"role": "user", "content": prompt}]
    _say(console, f"\n{number}. {label} prompt: {prompt!r}", "bold")
    plan = await router.plan(messages, providers, STRATEGY)
    response = await router.route_request(messages, providers, STRATEGY)
    meta = response.router_metadata
    _say(console, f"{_INDENT}routed to {meta.selected_provider}/{meta.selected_model}", "green")
    _say(console, f"{_INDENT}reason: {meta.routing_reason}")
    _say(console, f"{_INDENT}fallbacks: {_fallbacks(plan)}", "dim")
    answer = response.choices[0].message.content if response.choices else None
    _say(console, f"{_INDENT}answer: {_indented(_clip(str(answer or '')))}")
    usage = response.usage
    record = DemoCall(
        label,
        meta.selected_provider,
        meta.selected_model,
        usage.prompt_tokens if usage else None,
        usage.completion_tokens if usage else None,
        meta.estimated_cost,
        meta.cost_source,
    )
    _say(console, _cost_line(record))
    return record


async def _streamed(
    console: Console, router: HeuristicRouter, providers: Mapping[str, LLMProvider], number: int
) -> DemoCall:
    messages: list[MessageInput] = [{"role": "user", "content": JSON_PROMPT}]
    _say(console, f"\n{number}. streamed json prompt: {JSON_PROMPT!r} (response_format: json_schema)", "bold")
    plan = await router.plan(messages, providers, STRATEGY, response_format=JSON_FORMAT)
    first = plan.candidates[0]
    _say(console, f"{_INDENT}routed to {first.key}", "green")
    _say(console, f"{_INDENT}reason: {plan.reason}")
    _say(console, f"{_INDENT}fallbacks: {_fallbacks(plan)}", "dim")
    _say(console, f"{_INDENT}answer (streamed): ", end="")
    chunks = 0
    stream = router.route_stream(messages, providers, STRATEGY, response_format=JSON_FORMAT)
    try:
        async for chunk in stream:
            for choice in chunk.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    chunks += 1
                    _say(console, text, end="")
    finally:
        await stream.aclose()  # at once, even on Ctrl-C
    _say(console, "")
    _say(console, f"{_INDENT}({chunks} chunks, printed as they arrived)", "dim")
    meta, usage = stream.metadata, stream.usage
    provider, model = (meta.selected_provider, meta.selected_model) if meta else (first.provider, first.model)
    if (provider, model) != (first.provider, first.model):
        _say(console, f"{_INDENT}answered by {provider}/{model} after a fallback", "yellow")
    record = DemoCall(
        "streamed json",
        provider,
        model,
        usage.prompt_tokens if usage else None,
        usage.completion_tokens if usage else None,
        stream.cost,
        meta.cost_source if meta else "unknown",
    )
    _say(console, _cost_line(record))
    return record


def _summary(console: Console, records: Sequence[DemoCall]) -> None:
    table = Table(title="Cost of each call", title_justify="left")
    for column in ("#", "prompt", "model", "tokens in/out", "cost", "source"):
        table.add_column(column, justify="right" if column in ("#", "tokens in/out", "cost") else "left")
    for i, r in enumerate(records, start=1):
        tokens = f"{r.prompt_tokens}/{r.completion_tokens}" if r.prompt_tokens is not None else "?"
        table.add_row(str(i), r.label, r.key, tokens, format_usd(r.cost), r.cost_source)
    console.print()
    console.print(table)
    costs = [r.cost for r in records]
    total = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    _say(console, f"total: {format_usd(total)} for {len(records)} calls", "bold")


async def run_demo(proxy: LiteLLMProxy, console: Console) -> list[DemoCall]:
    """Everything after the proxy is up: register, list, route, stream, sum up."""
    async with contextlib.AsyncExitStack() as stack:
        # Loopback only: never send these calls through an HTTP proxy from the environment.
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                trust_env=False, timeout=DEFAULT_TIMEOUT, headers={"User-Agent": f"muxer-litellm-demo/{__version__}"}
            )
        )
        litellm = await stack.enter_async_context(LiteLLMProvider(proxy.base_url, proxy.master_key, http_client=client))
        native = await stack.enter_async_context(LocalProvider())
        providers: dict[str, LLMProvider] = {"litellm": litellm, "native": native}
        _say(console, "Registered providers: litellm (LiteLLMProvider -> the proxy), native (in-process stand-in)")
        _say(
            console,
            "Answers are canned (LiteLLM mock_response); proxy, routing, streaming and billing are real.",
            "dim",
        )
        await litellm.refresh_models()  # raises if the catalog cannot be read (router.refresh would only warn)
        router = HeuristicRouter()
        console.print()
        console.print(model_table(router, providers))
        records = [
            await _routed(console, router, providers, 1, "simple", SIMPLE_PROMPT),
            await _routed(console, router, providers, 2, "code", CODE_PROMPT),
            await _streamed(console, router, providers, 3),
        ]
        _summary(console, records)
        return records


# ---------------------------------------------------------------------- process handling


def _stop(proxy: LiteLLMProxy, console: Console, shutdown: Shutdown) -> None:
    was_running = proxy.pid is not None
    pid = proxy.pid
    with shutdown.held(deliver=False):  # no signal may cut the clean-up short and leave the proxy behind
        proxy.stop()
    if was_running:
        _say_if_possible(console, f"Stopped the LiteLLM proxy (pid {pid}); port {proxy.port} is closed.")


def _say_if_possible(console: Console, text: str, style: str | None = None) -> None:
    """After a hang-up the terminal is gone and writing to it fails (EIO); the proxy is
    stopped either way, so a message that cannot be shown is dropped, not raised."""
    with contextlib.suppress(OSError):
        _say(console, text, style)


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, DemoError):
        return str(exc)
    message = " ".join(str(exc).split()) or "(no message)"
    if isinstance(exc, (ReplyTooLargeError, ProviderTimeoutError)) and getattr(exc, "limit", None):
        # A limit of ours stopped the call: say which setting it was.
        return f"{message[:500]} (setting: LITELLM_{str(exc.limit).upper()})"
    return f"{type(exc).__name__}: {message[:500]}"


def default_console() -> Console:
    """Rich's console, but 120 columns wide when writing to a pipe or CI log (rich would
    assume 80 and squeeze the model table), unless ``COLUMNS`` says otherwise."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120
    return console


def _start_failure(exc: ProxyStartError) -> str:
    where = f"; its log: {exc.log_path}" if exc.log_path is not None else ""
    return f"demo failed: {exc.reason}{where}"


def main(config: Path | None = None, console: Console | None = None, err_console: Console | None = None) -> int:
    """Run the demo; returns the exit code (see the module docstring). Progress goes to
    ``console`` (stdout), failures and interruptions to ``err_console`` (stderr)."""
    console = console or default_console()
    err = err_console or Console(stderr=True)
    shutdown = Shutdown()
    # Installed around the clean-up too, so a signal during it is recorded, never fatal.
    with shutdown.installed():
        try:
            with contextlib.ExitStack() as stack:
                return _main(stack, config, console, err, shutdown)
        except (KeyboardInterrupt, Terminated):  # landed in an error branch: the proxy is stopped already
            _say_if_possible(err, "\nInterrupted.", "yellow")
            return 128 + (shutdown.signum or signal.SIGINT)


def _main(stack: contextlib.ExitStack, config: Path | None, console: Console, err: Console, shutdown: Shutdown) -> int:
    proxy: LiteLLMProxy | None = None
    try:
        path = stack.enter_context(demo_config(config))
        with shutdown.held():  # not mid-Popen: a proxy that was started is always one we know to stop
            proxy = LiteLLMProxy(path)
            proxy.launch()
        _say(console, f"Starting a LiteLLM proxy (pid {proxy.pid}) on {proxy.base_url} with {path}")
        with console.status("waiting for the proxy (/health/liveliness), usually 10-20 s ..."):
            proxy.wait_ready()
        _say(
            console,
            f"LiteLLM proxy up at {proxy.base_url} (port {proxy.port}) after {proxy.started_in or 0.0:.1f} s",
        )
        shutdown.run(run_demo(proxy, console))
        return 0
    except KeyboardInterrupt:
        _say_if_possible(err, "\nInterrupted: stopping everything the demo started.", "yellow")
        return 130
    except Terminated as exc:
        hangup = exc.signum == signal.SIGHUP
        _say_if_possible(
            err, f"\n{'Hung up' if hangup else 'Terminated'}: stopping everything the demo started.", "yellow"
        )
        return 128 + exc.signum
    except ProxyStartError as exc:  # one line naming the cause and where the proxy's own words are
        _say(err, _start_failure(exc), "red")
        return 1
    except Exception as exc:  # DemoError, ProviderError, OSError...: one line, no traceback, proxy stopped
        _say(err, f"demo failed: {_error_line(exc)}", "red")
        return 1
    finally:
        if proxy is not None:
            _stop(proxy, console, shutdown)


def run_from_command_line(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m muxer_litellm.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=None, help=f"proxy config (default: the packaged {DEMO_CONFIG_NAME})"
    )
    args = parser.parse_args(argv)
    return main(args.config)
