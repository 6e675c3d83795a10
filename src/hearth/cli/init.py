"""``hearth init``: a commented hearth.yaml for one Home Assistant host, and what to run next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hearth.cli.output import console, fail


@click.command()
@click.option("--host", prompt="Home Assistant's host (IP or name, reached over SSH)")
@click.option("--repo-url", prompt="Git repository with the configuration (URL)")
@click.option("--name", default="ha", show_default=True, help="the target's name")
@click.option("--user", default="hearth", show_default=True, help="SSH user on the host")
@click.option("--port", type=int, default=22, show_default=True, help="SSH port")
@click.option("--remote-path", default="/config", show_default=True)
@click.option("--branch", default="main", show_default=True)
@click.option("--subdirectory", default="", help="the folder of the repository to deploy")
@click.option("--ha-url", default="", help="[default: http://HOST:8123]")
@click.option(
    "--output", type=click.Path(path_type=Path), default=Path("hearth.yaml"), show_default=True
)
@click.option("--force", is_flag=True, help="overwrite an existing file")
def init(output: Path, force: bool, **answers: Any) -> None:
    """Write a commented hearth.yaml for one Home Assistant host, then say what to run next."""
    from hearth.cli.state import cli_command
    from hearth.config import ConfigError, load_config_text
    from hearth.init import InitAnswers, next_steps, render_config

    if output.exists() and not force:
        fail(f"{output} exists; edit it, or pass --force to overwrite it")
    init_answers = InitAnswers(**answers)
    text = render_config(init_answers)
    try:
        load_config_text(text, str(output))
    except ConfigError as exc:
        fail(f"these answers make an invalid hearth.yaml: {exc}")
    output.write_text(text)
    console.print(f"wrote {output}; next:", highlight=False)
    for line in next_steps(init_answers, str(output), cli_command()):
        click.echo(line)
