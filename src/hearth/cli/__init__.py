"""The ``hearth`` command: a group that loads each command's module only when it runs.

Each module here imports only ``click`` at its top; NATS, aiohttp, rich, pydantic and the
embedded stack are imported inside the commands that need them, so ``hearth --help`` and
``hearth status`` answer in a fraction of a second (``python -m bench cli`` measures it).
"""

from __future__ import annotations

import importlib

import click

#: command name -> "module:attribute" under this package, in the order of ``--help``.
COMMANDS = {
    "up": "up:up",
    "init": "init:init",
    "status": "status:status",
    "apply": "apply:apply",
    "targets": "targets:targets",
    "deploy": "deploy:deploy",
    "rollback": "deploy:rollback",
    "cancel": "deploy:cancel",
    "deployments": "read:deployments",
    "logs": "read:logs",
    "events": "events:events",
    "devices": "devices:devices",
    "firmware": "firmware:firmware",
    "token": "admin:token",
    "secret": "secrets:secret",
    "notify": "admin:notify",
    "projections": "admin:projections",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, attribute = where.split(":")
        command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="hearth")
def main() -> None:
    """Hearth: GitOps for your homelab."""
