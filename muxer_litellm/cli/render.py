"""Pure rendering for the ``muxer-litellm`` CLI: data in, rich tables or strings out.

Kept apart from the commands so every display rule (an unknown price is "unknown", never
$0; a failure is one line naming cause and fix; the key never appears) is testable without
a proxy or a terminal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from .._utils import format_usd, redact, strip_url_credentials
from ..errors import (
    AuthenticationError,
    FallbackExhaustedError,
    ModelNotFoundError,
    NotAProxyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ReplyTooLargeError,
)
from ..host import ModelCard, ModelHealth, RouteAttempt, RouterMetadata, Usage
from ..routing import Candidate, RoutePlan

__all__ = [
    "CostRow",
    "RouteRow",
    "attempts_table",
    "capability_tags",
    "chunk_text",
    "cost_record",
    "cost_table",
    "exit_with_help",
    "failure_line",
    "health_failure_line",
    "health_table",
    "model_record",
    "models_table",
    "no_api_line",
    "no_chat_models_line",
    "wrong_url",
    "one_line",
    "route_rows",
    "route_table",
    "scrub",
    "settings_error_line",
    "sort_costs",
    "usage_line",
]

_CHAT_MODES = (None, "chat", "completion", "responses")
_CAPABILITIES = (
    ("tools", "supports_function_calling"),
    ("vision", "supports_vision"),
    ("json", "supports_response_schema"),
    ("reasoning", "supports_reasoning"),
)
_OPTIONS = ("base_url", "api_key", "timeout")  # settings the CLI also takes as options
_START_HINT = "start it (litellm --config config.yaml --port 4000) or set LITELLM_BASE_URL"
#: Paths every LiteLLM proxy serves: a 404 there means the base URL is wrong, not the model.


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` fit to print: the key (and keys the proxy echoes) masked, URL credentials removed."""
    return strip_url_credentials(redact(text, secrets))


def chunk_text(chunk: Mapping[str, Any]) -> str:
    """The text a stream chunk adds (first choice's ``delta.content``), else ""."""
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def usage_line(usage: Usage | None, metadata: RouterMetadata | None, model: str) -> str:
    """``tokens: 12 in, 5 out | cost: $0.0000052 (proxy)`` from a stream's typed results
    (``ChatStream.usage`` / ``.metadata``); an unpriced call says "cost: unknown", and why:
    the proxy sent no usage to price, or the model has no price."""
    tokens = "tokens: unknown"
    if usage is not None:
        tokens = f"tokens: {usage.prompt_tokens} in, {usage.completion_tokens} out"
    cost = metadata.estimated_cost if metadata is not None else None
    if cost is not None and math.isfinite(cost):
        return f"{tokens} | cost: {format_usd(cost)} ({metadata.cost_source if metadata else '?'})"
    if tokens == "tokens: unknown":
        return f"{tokens} | cost: unknown (the proxy reported no usage)"
    return f"{tokens} | cost: unknown (no price for {model!r} on the proxy)"


def settings_error_line(exc: ValidationError) -> str:
    """A bad ``LITELLM_*`` value or option, named the way the user set it."""
    problems = []
    for e in exc.errors():
        name = ".".join(str(p) for p in e["loc"])
        where = f"LITELLM_{name.upper()}"
        if name in _OPTIONS:
            where += f" / --{name.replace('_', '-')}"
        problems.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return one_line("error: invalid setting " + "; ".join(problems))


def exit_with_help(ctx: typer.Context) -> None:
    """A group called without a command: its help, as a usage error (exit 2)."""
    text = ctx.get_help()  # with rich, typer prints the help itself and returns ""
    if text:
        typer.echo(text)
    raise typer.Exit(2)


def one_line(text: str) -> str:
    """Collapse newlines and runs of spaces: a failure must read as exactly one line."""
    return " ".join(text.split())


# ---------------------------------------------------------------------- models


def capability_tags(card: ModelCard) -> str:
    """Short tags: ``tools``, ``vision``, ``json``, ``reasoning``; ``tag?`` when the proxy did
    not say (unknown is not "no"), ``?`` when it said nothing at all, the mode for non-chat."""
    if card.mode not in _CHAT_MODES:
        return str(card.mode)
    states = [(tag, getattr(card, attr)) for tag, attr in _CAPABILITIES]
    if all(value is None for _, value in states):
        return "?"
    return " ".join(tag if value else f"{tag}?" for tag, value in states if value is not False) or "-"


def model_record(card: ModelCard) -> dict[str, Any]:
    """One model as ``models --json`` prints it (and the table shows it): prices are numbers
    or null, capabilities true/false/null. No breaker or cooldown state: a one-shot CLI
    process has no routing history, so it could only ever say "closed" (``health --deep``
    is what tells whether a deployment answers)."""
    return {
        "name": card.name,
        "upstream_model": card.upstream_model,
        "mode": card.mode,
        "input_cost_per_1k": card.input_cost_per_1k,
        "output_cost_per_1k": card.output_cost_per_1k,
        "context_window": card.context_window,
        "capabilities": {tag: getattr(card, attr) for tag, attr in _CAPABILITIES},
        "capability_tags": capability_tags(card),
        "pricing_source": card.pricing_source,
    }


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _add(table: Table, *cells: str) -> None:
    """Cells as plain Text: a model name or an upstream error like ``a[b]`` is not markup."""
    table.add_row(*(Text(cell) for cell in cells))


def _table(*columns: str, title: str | None = None, numbers: Iterable[str] = ()) -> Table:
    """Text columns fold (never cut: a model name must stay whole); ``numbers`` (prices,
    counts) never wrap, since "$0.0001" over "5" reads as a different price."""
    fixed = set(numbers)
    table = Table(title=title, title_justify="left")
    for name in columns:
        if name in fixed:
            table.add_column(name, no_wrap=True)
        else:
            table.add_column(name, overflow="fold")
    return table


def models_table(records: Sequence[Mapping[str, Any]]) -> Table:
    table = _table(
        "model",
        "upstream model",
        "$/1K in",
        "$/1K out",
        "context",
        "capabilities",
        "pricing",
        numbers=("$/1K in", "$/1K out", "context"),
    )
    for r in records:
        _add(
            table,
            r["name"],
            r["upstream_model"] or "?",
            format_usd(r["input_cost_per_1k"]),
            format_usd(r["output_cost_per_1k"]),
            _count(r["context_window"]),
            r["capability_tags"],
            r["pricing_source"],
        )
    return table


def _short_id(model_id: str | None) -> str:
    """Deployment ids are 64-hex hashes; 12 characters tell them apart in a table."""
    if model_id is None:
        return "?"
    return model_id if len(model_id) <= 13 else model_id[:12] + "…"


def health_table(results: Sequence[ModelHealth]) -> Table:
    table = _table("model", "upstream model", "deployment", "status", "error", title="Deep health (proxy /health)")
    for r in results:
        _add(
            table,
            r.model_name or "?",
            r.upstream_model or "?",
            _short_id(r.model_id),
            "healthy" if r.healthy else "unhealthy",
            r.error or "",
        )
    return table


# ---------------------------------------------------------------------- cost


@dataclass(frozen=True, slots=True)
class CostRow:
    model: str
    cost: float | None
    input_cost_per_1k: float | None
    output_cost_per_1k: float | None
    pricing_source: str


def sort_costs(rows: Iterable[CostRow]) -> list[CostRow]:
    """Cheapest first, unknown prices last (in catalog order): unknown is not cheap."""
    return sorted(rows, key=lambda r: (r.cost is None, r.cost or 0.0))


def cost_record(row: CostRow, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "model": row.model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": row.cost,
        "input_cost_per_1k": row.input_cost_per_1k,
        "output_cost_per_1k": row.output_cost_per_1k,
        "pricing_source": row.pricing_source,
    }


def cost_table(rows: Sequence[CostRow], input_tokens: int, output_tokens: int) -> Table:
    title = f"Cost of {input_tokens:,} input + {output_tokens:,} output tokens, cheapest first"
    table = _table(
        "#",
        "model",
        "cost",
        "$/1K in",
        "$/1K out",
        "pricing",
        title=title,
        numbers=("#", "cost", "$/1K in", "$/1K out"),
    )
    for i, r in enumerate(rows, 1):
        _add(
            table,
            str(i),
            r.model,
            format_usd(r.cost),
            format_usd(r.input_cost_per_1k),
            format_usd(r.output_cost_per_1k),
            r.pricing_source,
        )
    return table


# ---------------------------------------------------------------------- route


@dataclass(frozen=True, slots=True)
class RouteRow:
    candidate: str
    tier: int | None
    estimated_cost: float | None
    status: str


def route_rows(
    plan: RoutePlan, candidates: Sequence[Candidate], estimates: Mapping[str, float | None]
) -> list[RouteRow]:
    """Every candidate once: the plan's candidates in call order, then eligible ones the plan
    leaves out, then the excluded ones with why."""
    tiers = {c.key: c.tier for c in candidates}
    rows: list[RouteRow] = []
    for i, t in enumerate(plan.candidates):
        if i == 0:
            status = "chosen"
        elif plan.kind == "cascade":
            status = f"step {i + 1}, if the answer scores < {plan.quality_threshold:g}"
        else:
            status = f"fallback {i}"
        rows.append(RouteRow(t.key, t.tier, t.estimated_cost, status))
    seen = {r.candidate for r in rows}
    decision = plan.decision
    for alt in decision.alternatives if decision is not None else ():
        if alt.key not in seen:
            why = "beyond max_attempts" if plan.kind == "single" else f"not a {plan.kind} step"
            rows.append(RouteRow(alt.key, alt.tier, alt.estimated_cost, f"eligible ({why})"))
            seen.add(alt.key)
    for key, why in plan.excluded.items():
        if key not in seen:
            rows.append(RouteRow(key, tiers.get(key), estimates.get(key), f"excluded: {why}"))
            seen.add(key)
    for c in candidates:
        if c.key not in seen:
            rows.append(RouteRow(c.key, c.tier, estimates.get(c.key), f"not in {plan.kind} {plan.strategy!r}"))
    return rows


def route_table(rows: Sequence[RouteRow], prompt_tokens: int, output_tokens: int) -> Table:
    title = f"Candidates (est. for ~{prompt_tokens:,} prompt + {output_tokens:,} output tokens)"
    table = _table("candidate", "tier", "est. cost", "status", title=title, numbers=("tier", "est. cost"))
    for r in rows:
        _add(table, r.candidate, "?" if r.tier is None else str(r.tier), format_usd(r.estimated_cost), r.status)
    return table


def attempts_table(attempts: Sequence[RouteAttempt]) -> Table:
    table = _table("#", "candidate", "outcome", "cost", "ms", "detail", title="Attempts", numbers=("#", "cost", "ms"))
    for i, a in enumerate(attempts, 1):
        detail = " ".join(x for x in (a.error, a.detail) if x)
        ms = "" if a.duration_ms is None else f"{a.duration_ms:,.0f}"
        cost = "" if a.outcome in ("failed", "skipped") else format_usd(a.cost)
        _add(table, str(i), f"{a.provider}/{a.model}", a.outcome, cost, ms, one_line(detail))
    return table


# ---------------------------------------------------------------------- failures


def _unreachable(base_url: str) -> str:
    return f"error: LiteLLM proxy not reachable at {strip_url_credentials(base_url)} — {_START_HINT}"


def _key_rejected(base_url: str) -> str:
    return (
        f"error: the proxy at {strip_url_credentials(base_url)} rejected the API key — "
        "set LITELLM_API_KEY to its master key "
        "or a valid virtual key"
    )


def _no_key(base_url: str) -> str:
    return (
        f"error: the proxy at {strip_url_credentials(base_url)} needs an API key and none was sent — "
        "set LITELLM_API_KEY "
        "(or --api-key) to its master key or a virtual key"
    )


def _timeout(base_url: str, setting: str) -> str:
    return (
        f"error: the proxy at {strip_url_credentials(base_url)} did not answer in time — "
        f"check it is up, or raise {setting} "
        "(--timeout)"
    )


def _for_model(exc: ProviderError) -> str:
    return f" for model {exc.model!r}" if exc.model else ""


def _limit_fired(base_url: str, exc: ProviderTimeoutError) -> str:
    """A deadline of ours fired: which one, and the setting that changes it."""
    setting = f"LITELLM_{(exc.limit or 'timeout').upper()}"
    what = {
        "deadline": "did not finish the reply within its deadline",
        "timeout": "sent no data within the timeout",
        "stream_timeout": "streamed past the stream timeout",
    }.get(exc.limit or "", "did not answer in time")
    return (
        f"error: the proxy at {strip_url_credentials(base_url)} {what}{_for_model(exc)}; "
        f"the call was stopped — check the proxy and its upstream, or raise {setting}"
    )


def wrong_url(base_url: str, exc: ProviderError) -> str | None:
    """The no-API line when ``exc`` says the base URL serves no LiteLLM API (a wrong host, port
    or path that still reaches some HTTP server), else None."""
    if not isinstance(exc, NotAProxyError) or exc.url is None:
        return None
    return no_api_line(base_url, _relative_path(base_url, exc.url), exc.status_code)


def _relative_path(base_url: str, url: str) -> str:
    path = urlsplit(url).path
    base = urlsplit(base_url).path.rstrip("/")
    return path[len(base) :] if base and path.startswith(base + "/") else path


_NO_API = re.compile(r"no LiteLLM API at (\S+?); .*\((\d{3}):")


def no_api_line(base_url: str, path: str, status: int | None = 404) -> str:
    """A wrong base URL (host, port or path) that still reaches some HTTP server."""
    return (
        f"error: no LiteLLM proxy API at {strip_url_credentials(base_url)} ({status} on {path}) — "
        "check LITELLM_BASE_URL "
        "(host, port and path)"
    )


def no_chat_models_line(base_url: str) -> str:
    return f"error: the proxy at {strip_url_credentials(base_url)} serves no chat models — add one to its model_list"


def _connect_failed(exc: ProviderError) -> bool:
    """A failure to open the connection (nothing listens there), not a dropped stream."""
    cause = exc.__cause__
    if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    return cause is None and exc.status_code is None and str(exc).startswith("LiteLLM proxy not reachable")


def failure_line(
    exc: ProviderError,
    *,
    base_url: str,
    key_sent: bool,
    available: Sequence[str] | None = None,
    secrets: Iterable[str | None] = (),
) -> str:
    """The one line a CLI user sees for ``exc``: the cause and the fix. ``available`` is the
    proxy's chat models when its catalog was read and lacks the model of a ModelNotFoundError:
    only then is "not on the proxy" a fact (None: the proxy's own words are shown)."""
    cause = exc.last_error if isinstance(exc, FallbackExhaustedError) else exc
    text = str(cause)
    no_api = wrong_url(base_url, cause)
    if no_api is not None:
        line = no_api
    elif isinstance(cause, (ProviderUnavailableError, ProviderTimeoutError)) and _connect_failed(cause):
        line = _unreachable(base_url)
    elif isinstance(cause, AuthenticationError):
        line = _key_rejected(base_url) if key_sent else _no_key(base_url)
    elif isinstance(cause, ProviderUnavailableError) and "set LITELLM_API_KEY" in text:
        line = _no_key(base_url)
    elif isinstance(cause, ProviderTimeoutError) and cause.limit is not None:
        line = _limit_fired(base_url, cause)
    elif isinstance(cause, ProviderTimeoutError) and cause.status_code is None:
        line = _timeout(base_url, "LITELLM_TIMEOUT")
    elif isinstance(cause, ReplyTooLargeError):
        setting = f"LITELLM_{cause.limit.upper()}"
        line = (
            f"error: the proxy at {strip_url_credentials(base_url)} sent a reply past {setting} "
            f"({cause.limit_bytes:,} bytes decoded){_for_model(cause)}; the call was stopped — "
            f"raise {setting} if such replies are expected"
        )
    elif isinstance(cause, ModelNotFoundError) and cause.model and available is not None:
        line = f"error: model {cause.model!r} is not on the proxy"
        line += f"; available: {', '.join(available)}" if available else " (it lists no chat models)"
    else:
        line = f"error: {exc}"
    return one_line(scrub(line, secrets))


def health_failure_line(
    reason: str | None, *, base_url: str, key_sent: bool, secrets: Iterable[str | None] = ()
) -> str:
    """The line for a failed ``health_check()``, from ``provider.last_health_error``."""
    text = reason or "unhealthy"
    no_api = _NO_API.search(text)  # NotAProxyError's own words (proxy/errors.py)
    if no_api is not None:
        line = no_api_line(base_url, _relative_path(base_url, no_api.group(1)), int(no_api.group(2)))
    elif text.startswith("LiteLLM proxy not reachable") or "ConnectTimeout" in text:
        line = _unreachable(base_url)
    elif "rejected the API key" in text or "key rejected" in text:
        line = _key_rejected(base_url) if key_sent else _no_key(base_url)
    elif "set LITELLM_API_KEY" in text:
        line = _no_key(base_url)
    elif "did not answer in time" in text or text.startswith("no answer within"):
        line = _timeout(base_url, "LITELLM_HEALTH_TIMEOUT")
    else:
        line = f"error: the proxy at {strip_url_credentials(base_url)} is not healthy: {text}"
    return one_line(scrub(line, secrets))
