"""``muxer-litellm modelmuxer prices|rules``: ModelMuxer's price table and routing rules,
written from the proxy's catalog (see :mod:`muxer_litellm.hosts.modelmuxer_files`).

Reads the proxy's URL and key like every other command (``--base-url`` / ``--api-key`` before
the command, ``LITELLM_*``, ``.env``). Needs no ModelMuxer. What was written goes to stdout;
what was left out, and why, to stderr; a failure is one ``error:`` line and exit 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from muxer_litellm import LiteLLMProvider, LiteLLMSettings, ProviderError
from muxer_litellm.cli.render import exit_with_help, one_line, scrub, settings_error_line
from muxer_litellm.hosts.modelmuxer_files import DEFAULT_NAME, SyncResult, write_price_table, write_routing_rules
from muxer_litellm.routing import load_routing_config

__all__ = ["app"]

app = typer.Typer(
    name="modelmuxer",
    help="Write ModelMuxer's price table and routing rules from the proxy's catalog.",
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals would include the API key
)


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    """Write ModelMuxer's price table and routing rules from the proxy's catalog."""
    if ctx.invoked_subcommand is None:
        exit_with_help(ctx)


OutOption = Annotated[
    Path, typer.Option("--out", dir_okay=False, help="File to write (ModelMuxer reads it on every request).")
]
MergeOption = Annotated[
    Path | None,
    typer.Option("--merge", dir_okay=False, help="Existing file to merge with (may be --out itself)."),
]
NameOption = Annotated[str, typer.Option("--name", help="The proxy's key in ModelMuxer's registry.")]


def _settings(ctx: typer.Context) -> tuple[LiteLLMSettings, str | None]:
    """The root command's ``--base-url`` / ``--api-key`` / ``--timeout`` over ``LITELLM_*``."""
    params = ctx.find_root().params
    overrides: dict[str, Any] = {k: params[k] for k in ("base_url", "api_key") if params.get(k) is not None}
    if params.get("timeout") is not None:
        overrides["timeout"] = params["timeout"]
        overrides["connect_timeout"] = min(5.0, params["timeout"])
    settings = LiteLLMSettings(**overrides)
    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    return settings, key


def _scrub(text: str, key: str | None) -> str:
    return one_line(scrub(text, [key]))


def _write(ctx: typer.Context, what: str, write: Callable[[LiteLLMProvider], SyncResult]) -> None:
    key: str | None = None
    try:
        settings, key = _settings(ctx)

        async def work() -> SyncResult:
            async with LiteLLMProvider.from_settings(settings) as provider:
                await provider.refresh_models(force=True)
                return write(provider)

        result = asyncio.run(work())
    except ValidationError as exc:  # a bad LITELLM_* value or option: named, never quoted back
        typer.echo(_scrub(settings_error_line(exc), key), err=True)
        raise typer.Exit(1) from None
    except (ProviderError, ValueError) as exc:  # ValueError: --merge file, routing config
        typer.echo(_scrub(f"error: {exc}", key), err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(_scrub(f"error: cannot write {exc.filename or ''}: {exc.strerror or exc}", key), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {len(result.written)} {what} to {result.path}")
    for model, why in result.left_out.items():
        typer.echo(f"left out {model}: {why}", err=True)
    for entry in result.kept:
        typer.echo(f"kept your {entry} (the proxy has no price for it)", err=True)
    for entry in result.removed:
        typer.echo(f"replaced or removed {entry}", err=True)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)


@app.command()
def prices(ctx: typer.Context, out: OutOption, merge: MergeOption = None, name: NameOption = DEFAULT_NAME) -> None:
    """ModelMuxer's price table: a row per priced chat model.

    Rows are "litellm:<model>" in USD per 1K tokens; point PRICE_TABLE_PATH at the file.
    Models without a known price get no row (they are listed on stderr)."""
    _write(ctx, "price rows", lambda provider: write_price_table(provider, out, merge, name=name))


@app.command()
def rules(
    ctx: typer.Context,
    out: OutOption,
    merge: MergeOption = None,
    name: NameOption = DEFAULT_NAME,
    config: Annotated[
        Path | None,
        typer.Option("--config", dir_okay=False, help="Routing YAML for min_tier, tiers and tier thresholds."),
    ] = None,
) -> None:
    """ModelMuxer's routing rules: each intent to adequate proxy models.

    Cheapest adequate model first, the dearer adequate ones as fallbacks; point
    ROUTING_RULES_PATH at the file. Rules of your own in --merge stay first and win."""

    def write(provider: LiteLLMProvider) -> SyncResult:
        return write_routing_rules(provider, out, merge, name=name, config=load_routing_config(config))

    _write(ctx, "routing rules", write)
