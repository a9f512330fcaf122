"""``muxer-litellm``: look at and try a LiteLLM proxy from the terminal.

Commands: ``models``, ``health``, ``chat``, ``route``, ``cost``, ``demo``. Each builds one
:class:`LiteLLMProvider` from ``LITELLM_*`` / ``.env`` / the global options, runs one
``asyncio.run`` and closes it. Output goes to stdout, spinners and failures to stderr (so
``--json`` stays parseable); a failure, a bad option included, is one line naming the cause
and the fix, never a traceback or a usage box, and never the key or URL credentials. Only
typer's public API is used: :func:`main` runs the app non-standalone and prints the usage
errors typer hands back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.status import Status

from .._utils import format_usd
from ..errors import FallbackExhaustedError, ModelNotFoundError, NotAProxyError, ProviderError, RoutingConfigError
from ..host import ChatCompletionResponse, LLMProvider
from ..proxy.provider import LiteLLMProvider
from ..routing import HeuristicRouter, RoutePlan, RoutingConfig, load_routing_config
from ..routing.config import RoutingSettings
from ..routing.select import expected_output_tokens
from ..settings import LiteLLMSettings
from .modelmuxer import app as modelmuxer_app
from .render import (
    CostRow,
    attempts_table,
    chunk_text,
    cost_record,
    cost_table,
    exit_with_help,
    failure_line,
    health_failure_line,
    health_table,
    model_record,
    models_table,
    no_chat_models_line,
    one_line,
    route_rows,
    route_table,
    scrub,
    settings_error_line,
    sort_costs,
    usage_line,
)

__all__ = ["app", "main"]

NON_ASCII_KEY = "error: LITELLM_API_KEY contains non-ASCII characters (check --api-key, the environment and .env)"


app = typer.Typer(
    name="muxer-litellm",
    help="Inspect and try a LiteLLM proxy: its models, health, prices and routing decisions.",
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals would include the API key
)
app.add_typer(modelmuxer_app, name="modelmuxer")


def _write(text: str) -> None:
    """Answer text exactly as the model sent it: rich's ``Console.out`` expands tabs and
    drops carriage returns, which would change code and Makefiles. Flushed, so a stream
    shows as it arrives."""
    sys.stdout.write(text)
    sys.stdout.flush()


def _usd_limit(value: float | None) -> float | None:
    """``--max-cost``, checked before any request (NaN included, which ``min=`` lets through)."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"must be a finite number of USD >= 0, got {value:g}")
    return value


def _seconds(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a number of seconds > 0, got {value:g}")
    return value


@dataclass
class _State:
    """The global options, for the commands."""

    base_url: str | None = None
    api_key: str | None = None
    timeout: float | None = None
    debug: bool = False
    #: Set from the resolved settings (options, env or .env) when a command starts.
    key: str | None = None
    out: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True))

    def secrets(self) -> list[str | None]:
        return [self.api_key, self.key]

    def fail(self, line: str, code: int = 1) -> typer.Exit:
        """Print one error line to stderr; the caller raises what this returns."""
        self.err.print(one_line(scrub(line, self.secrets())), style="red", soft_wrap=True, markup=False)
        return typer.Exit(code)

    def status(self, message: str) -> Status:
        return self.err.status(message, spinner="dots")

    def settings(self) -> LiteLLMSettings:
        """``LITELLM_*`` / ``.env``, with the options given on the command line winning."""
        overrides: dict[str, Any] = {}
        if self.base_url is not None:
            overrides["base_url"] = self.base_url
        if self.api_key is not None:
            overrides["api_key"] = self.api_key
        if self.timeout is not None:
            overrides.update(timeout=self.timeout, health_timeout=self.timeout, deep_health_timeout=self.timeout)
        settings = LiteLLMSettings(**overrides)
        if self.timeout is not None and settings.connect_timeout > self.timeout:
            settings = settings.model_copy(update={"connect_timeout": self.timeout})
        return settings


async def _session(state: _State, work: Callable[[LiteLLMProvider], Awaitable[int]]) -> int:
    """Run ``work`` with a provider; turn a ProviderError into its one-line explanation."""
    settings = state.settings()
    state.key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    if state.key is not None and not state.key.isascii():  # httpx cannot send it as a header
        raise state.fail(NON_ASCII_KEY)
    async with LiteLLMProvider.from_settings(settings) as provider:
        try:
            return await work(provider)
        except ProviderError as exc:
            raise state.fail(await _explain(state, provider, exc)) from None


async def _explain(state: _State, provider: LiteLLMProvider, exc: ProviderError) -> str:
    """The failure line for ``exc``. A URL that is no LiteLLM API (``NotAProxyError``) is named
    as such; an unknown model is claimed only when the catalog was read and lacks it."""
    cause = exc.last_error if isinstance(exc, FallbackExhaustedError) else exc
    available: list[str] | None = None
    if isinstance(cause, ModelNotFoundError) and cause.model:
        try:
            await provider.refresh_models(force=True)
        except NotAProxyError as refresh_error:
            exc = refresh_error
        except ProviderError:
            pass
        else:
            if provider.get_model_info(cause.model) is None:
                available = provider.get_supported_models()
    return failure_line(
        exc, base_url=provider.base_url, key_sent=state.key is not None, available=available, secrets=state.secrets()
    )


def _routing_config(path: Path | None) -> RoutingConfig:
    """``load_routing_config``, with a file that is not text named instead of a bare
    ``'utf-8' codec can't decode`` (the file may come from MUXER_ROUTING_CONFIG)."""
    try:
        return load_routing_config(path)
    except UnicodeDecodeError as exc:
        source = path if path is not None else RoutingSettings().routing_config
        raise RoutingConfigError(
            f"routing config {source} is not UTF-8 text ({exc.reason} at byte {exc.start}): is it the right file?"
        ) from None


def _run(ctx: typer.Context, work: Callable[[LiteLLMProvider], Awaitable[int]]) -> None:
    """One ``asyncio.run`` per command; every failure ends as one line and exit code 1."""
    state: _State = ctx.obj
    try:
        code = asyncio.run(_session(state, work))
    except typer.Exit:
        raise
    except ValidationError as exc:
        raise state.fail(settings_error_line(exc)) from None
    except ValueError as exc:  # RoutingConfigError, bad max_cost, ...
        raise state.fail(f"error: {exc}") from None
    except KeyboardInterrupt:
        raise state.fail("error: interrupted", 130) from None
    except Exception as exc:
        if state.debug:
            raise
        raise state.fail(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)") from None
    raise typer.Exit(code)


def _quiet_library_logs(debug: bool) -> None:
    """The library logs warnings for hosts; here each failure already gets its one line, so
    keep Python's last-resort handler from printing them too (``--debug`` shows them)."""
    log = logging.getLogger("muxer_litellm")
    if debug:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        log.setLevel(logging.DEBUG)
    elif not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())


@app.callback(invoke_without_command=True)
def _options(
    ctx: typer.Context,
    base_url: Annotated[
        str | None, typer.Option("--base-url", envvar="LITELLM_BASE_URL", help="The proxy's root URL.")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="LITELLM_API_KEY", show_default=False, help="Master or virtual key (never printed)."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", callback=_seconds, help="Seconds to wait for any request (overrides LITELLM_*TIMEOUT)."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")] = False,
) -> None:
    """Reads LITELLM_BASE_URL / LITELLM_API_KEY (or .env) unless given here."""
    if ctx.invoked_subcommand is None:
        exit_with_help(ctx)
    _quiet_library_logs(debug)
    ctx.obj = _State(base_url=base_url, api_key=api_key, timeout=timeout, debug=debug)


@app.command()
def models(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False
) -> None:
    """The proxy's model catalog: prices per 1K tokens, context, capabilities, pricing source."""
    state: _State = ctx.obj

    async def work(provider: LiteLLMProvider) -> int:
        with state.status("Reading the model catalog…"):
            cards = await provider.refresh_models(force=True)
        records = [model_record(c) for c in cards]
        if as_json:
            typer.echo(json.dumps(records, indent=2))
        elif records:
            state.out.print(models_table(records))
        else:
            url = scrub(provider.base_url)
            state.out.print(f"The proxy at {url} lists no models.", markup=False, soft_wrap=True)
        return 0

    _run(ctx, work)


@app.command()
def health(
    ctx: typer.Context,
    deep: Annotated[
        bool, typer.Option("--deep", help="Ask the proxy to call every deployment (slow, billable).")
    ] = False,
) -> None:
    """Cheap check: the proxy is ready and accepts the key. Exit 1 when it is not."""
    state: _State = ctx.obj

    async def work(provider: LiteLLMProvider) -> int:
        key_sent = state.key is not None
        url = scrub(provider.base_url)
        with state.status(f"Checking {url}…"):
            ok = await provider.health_check()
        if not ok:
            line = health_failure_line(
                provider.last_health_error, base_url=provider.base_url, key_sent=key_sent, secrets=state.secrets()
            )
            raise state.fail(line)
        how = "the API key was accepted" if key_sent else "no API key sent"
        if provider.proxy_version is not None:
            how = f"LiteLLM {provider.proxy_version}, {how}"
        state.out.print(f"OK: LiteLLM proxy at {url} is ready ({how})", markup=False, soft_wrap=True)
        if not deep:
            return 0
        with state.status("Deep health check (one call per deployment)…"):
            results = await provider.model_health()
        state.out.print(health_table(results))
        unhealthy = sum(1 for r in results if not r.healthy)
        if unhealthy:
            state.err.print(f"{unhealthy} of {len(results)} deployment(s) unhealthy", style="red", soft_wrap=True)
            return 1
        return 0

    _run(ctx, work)


@app.command()
def chat(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    model: Annotated[str, typer.Option("--model", "-m", help="A model_name on the proxy (see `models`).")],
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1)] = None,
    system: Annotated[str | None, typer.Option("--system", help="A system message.")] = None,
) -> None:
    """Stream one answer; then tokens and cost (to stderr, so stdout is the answer)."""
    state: _State = ctx.obj
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})

    async def work(provider: LiteLLMProvider) -> int:
        tail = "\n"
        stream = provider.stream_chat_completion(list(messages), model, max_tokens=max_tokens)
        status = state.status(f"Waiting for {model}…")
        status.start()
        try:
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                first = None
            except ProviderError as exc:
                line = None if isinstance(exc, ModelNotFoundError) else await _non_chat_model_line(provider, model)
                if line is None:
                    raise
                raise state.fail(line) from None
            async for chunk in _chain(first, stream):
                text = chunk_text(chunk)
                if text:
                    status.stop()
                    _write(text)
                    tail = text
        finally:
            status.stop()
            await stream.aclose()  # frees the connection at once if we stopped early
        if not tail.endswith("\n"):
            _write("\n")
        line = usage_line(stream.usage, stream.metadata, model)
        state.err.print(line, soft_wrap=True, markup=False, highlight=False)
        return 0

    _run(ctx, work)


async def _non_chat_model_line(provider: LiteLLMProvider, model: str) -> str | None:
    """After a failed chat call: the line saying ``model`` is served for another mode (the
    catalog's ``mode``, e.g. embeddings), whose own error from the proxy names no cause; None
    when it is a chat model, unknown, or the catalog cannot be read now."""
    try:
        await provider.refresh_models(force=True)
    except ProviderError:
        return None
    card = provider.get_model_info(model)
    if card is None or card.mode in (None, "chat"):
        return None
    chat_models = ", ".join(provider.get_supported_models()) or "none"
    article = "an" if card.mode[:1] in "aeiou" else "a"
    return (
        f"error: {model} is {article} {card.mode} model (its mode in the proxy's catalog), not a chat model; "
        f"chat models: {chat_models}"
    )


async def _chain(first: dict[str, Any] | None, rest: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """``first`` (when the stream had one), then the rest of the stream."""
    if first is None:
        return
    yield first
    async for chunk in rest:
        yield chunk


@app.command()
def route(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The user message to route.")],
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="heuristic, cost_optimized, cascade, hybrid, or a combo.")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", callback=_usd_limit, help="USD limit per call (or cascade).")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Routing YAML (else MUXER_ROUTING_CONFIG).")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1)] = None,
    run: Annotated[bool, typer.Option("--run", help="Also send it and show the answer and attempts.")] = False,
) -> None:
    """Which model the router would choose and why, with every candidate's estimated cost."""
    state: _State = ctx.obj
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    request: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}

    async def work(provider: LiteLLMProvider) -> int:
        routing = _routing_config(config)
        name = strategy or routing.default_strategy
        if name not in routing.strategy_names():  # plan() says the same, but only after a round trip
            raise RoutingConfigError(
                f"unknown routing strategy {name!r}; use one of {', '.join(routing.strategy_names())}"
            )
        async with HeuristicRouter(routing) as router:  # closes a Redis store, if configured
            providers: dict[str, LLMProvider] = {"litellm": provider}
            with state.status("Reading the model catalog…"):
                await provider.refresh_models(force=True)  # surfaces a dead proxy or bad key; plan() would hide it
            if not provider.get_supported_models():
                raise state.fail(no_chat_models_line(provider.base_url))
            for where, why in router.check_config(providers).items():  # routing leaves these out
                state.err.print(f"warning: {where}: {why}", style="yellow", markup=False, soft_wrap=True)
            with state.status("Planning…"):
                plan = await router.plan(messages, providers, strategy, max_cost, **request)
            _print_plan(state, router, plan, providers, max_tokens)
            if not run:
                state.out.print("No call made; add --run to send it.", style="dim")
                return 0
            with state.status(f"Calling {plan.candidates[0].key}…"):
                response = await router.route_request(messages, providers, strategy, max_cost, **request)
            _print_routed_answer(state, response)
            return 0

    _run(ctx, work)


def _print_plan(
    state: _State,
    router: HeuristicRouter,
    plan: RoutePlan,
    providers: Mapping[str, LLMProvider],
    max_tokens: int | None,
) -> None:
    """The route's first target, why, and every candidate's estimate for this prompt."""
    prompt_tokens = plan.profile.prompt_tokens
    out_tokens = expected_output_tokens(plan.profile, max_tokens, router.config)
    candidates = router.candidates(providers)
    estimates = {c.key: c.estimate(providers.get(c.provider), prompt_tokens, out_tokens) for c in candidates}
    first = plan.candidates[0]
    out = state.out
    out.print(
        f"route: {first.key} (strategy {plan.strategy}, est. {format_usd(first.estimated_cost)})",
        markup=False,
        soft_wrap=True,
    )
    out.print(f"why: {plan.reason}", markup=False, soft_wrap=True)
    out.print(route_table(route_rows(plan, candidates, estimates), prompt_tokens, out_tokens))


def _print_routed_answer(state: _State, response: ChatCompletionResponse) -> None:
    """Who answered, the answer, its cost and every attempt."""
    meta = response.router_metadata
    answer = response.choices[0].message.content if response.choices else None
    out = state.out
    out.print(
        f"answer from {meta.selected_provider}/{meta.selected_model}:",
        style="bold",
        markup=False,
        soft_wrap=True,
    )
    text = answer if isinstance(answer, str) else json.dumps(answer)
    _write(text if text.endswith("\n") else text + "\n")
    total = f"; total {format_usd(meta.total_cost)} over {len(meta.attempts)} attempt(s)"
    out.print(f"cost: {format_usd(meta.estimated_cost)} ({meta.cost_source}){total}", markup=False, soft_wrap=True)
    out.print(attempts_table(meta.attempts))


@app.command()
def cost(
    ctx: typer.Context,
    input_tokens: Annotated[int, typer.Option("--in", min=0, help="Input (prompt) tokens.")],
    output_tokens: Annotated[int, typer.Option("--out", min=0, help="Output (completion) tokens.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """What that many tokens cost on every chat model, cheapest first, unknown prices last."""
    state: _State = ctx.obj

    async def work(provider: LiteLLMProvider) -> int:
        with state.status("Reading the model catalog…"):
            await provider.refresh_models(force=True)
        rows = []
        for name in provider.get_supported_models():
            card = provider.get_model_info(name)
            price = provider.calculate_cost(input_tokens, output_tokens, name)
            rows.append(
                CostRow(
                    name,
                    price if math.isfinite(price) else None,
                    card.input_cost_per_1k if card else None,
                    card.output_cost_per_1k if card else None,
                    card.pricing_source if card else "unknown",
                )
            )
        ordered = sort_costs(rows)
        if as_json:
            typer.echo(json.dumps([cost_record(r, input_tokens, output_tokens) for r in ordered], indent=2))
        else:
            state.out.print(cost_table(ordered, input_tokens, output_tokens))
        return 0

    _run(ctx, work)


@app.command()
def demo(
    config: Annotated[
        Path | None, typer.Option("--config", help="A LiteLLM proxy config (default: the packaged demo models).")
    ] = None,
) -> None:
    """Start a local proxy with demo models and show models, routing, streaming and cost."""
    from ..demo import main as run_demo

    # The demo handles its own errors and Ctrl-C (one line, exit 1 / 130) and picks a console
    # that stays readable in a pipe; its exit code is ours.
    raise typer.Exit(run_demo(config=config))


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``muxer-litellm``); ``argv`` defaults to ``sys.argv[1:]``.

    The app runs in non-standalone mode, so a usage error (a bad option value, a missing
    option, an unknown command) comes back as a ``typer.TyperException`` instead of being
    printed as typer's usage text and boxed panel: it is shown here as one line, exit 2."""
    try:
        code = app(args=argv, prog_name="muxer-litellm", standalone_mode=False)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    except typer.TyperException as exc:
        sys.exit(_show_usage_error(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _show_usage_error(exc: typer.TyperException) -> int:
    """``exc`` as one ``error: ...`` line on stderr; its exit code (2 for usage errors)."""
    hint = ""
    if exc.exit_code == 2:  # a usage error names the command it was for: point at its help
        path = getattr(getattr(exc, "ctx", None), "command_path", None)
        hint = f" (see '{path} --help')" if isinstance(path, str) and path else ""
    typer.echo(one_line(f"error: {exc.format_message()}{hint}"), err=True)
    return exc.exit_code
