"""Printing for every command: tables on stdout, messages on stderr, one-line errors.

rich is imported on first use. Output that is not a terminal is never wrapped (rich would
wrap at 80 columns, splitting commands and ids someone copies or a script parses).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

EXIT_CONFIG = 2
#: The width given to rich when the output is not a terminal: wide enough never to wrap.
UNWRAPPED = 100_000


def make_console(*, stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(stderr=stderr, soft_wrap=not tty, width=None if tty else UNWRAPPED)


@cache
def stderr_console() -> Console:
    return make_console(stderr=True)


@cache
def stdout_console() -> Console:
    return make_console(stderr=False)


class LazyConsole:
    """A rich Console made (and rich imported) when first used."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr

    def get(self) -> Console:
        return stderr_console() if self._stderr else stdout_console()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


#: Messages, progress and errors (stderr); stdout stays for what a script reads.
console = LazyConsole(stderr=True)
#: Tables and results (stdout).
out = LazyConsole(stderr=False)


def fail(message: str, code: int = EXIT_CONFIG) -> None:
    """Print one line on stderr and exit (``None`` for mypy: callers ``return`` after it)."""
    from rich.markup import escape

    console.print(f"[bold red]hearth:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))
