"""Options more than one command takes, defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def config_option(
    help: str | None = None, *, default: Path | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--config FILE`` (as ``config_path``): the hearth.yaml a command reads."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        default=default,
        show_default=default is not None,
        help=help,
    )
