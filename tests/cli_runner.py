"""Run ``muxer-litellm`` in-process exactly as its console script does (``cli.main``), with
typer's ``CliRunner`` isolating stdin, stdout, stderr and the environment.

``CliRunner.invoke(app, ...)`` would call the command in typer's standalone mode, which
formats usage errors itself; going through ``main`` tests the one-line usage errors and exit
codes users get."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from typer.testing import CliRunner

from muxer_litellm.cli.commands import main

__all__ = ["CliRun", "run_cli"]


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    stdout: str
    stderr: str
    #: stdout and stderr interleaved, as a terminal shows them.
    output: str
    #: An exception that escaped ``main`` (only with ``--debug``), else None.
    exception: BaseException | None
    #: stdout exactly as written (answers must be byte-exact: tabs, ``\r\n``).
    stdout_bytes: bytes


def run_cli(args: Sequence[str], env: Mapping[str, str | None] | None = None) -> CliRun:
    exception: BaseException | None = None
    with CliRunner().isolation(env=env) as (out, err, both):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except Exception as exc:
            exception, code = exc, 1
        else:  # pragma: no cover - main always exits
            code = 0
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        raw = [stream.getvalue() for stream in (out, err, both)]
    texts = [data.decode("utf-8", "replace").replace("\r\n", "\n") for data in raw]
    return CliRun(code, texts[0], texts[1], texts[2], exception, raw[0])
