"""``hearth secret``: store, list and remove secrets per scope; print a service's key.

Each secret belongs to the scope of the service that reads it (see ``docs/secrets.md``).
Without ``--for``, the scope is inferred from where ``hearth.yaml`` references the name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hearth.cli import options
from hearth.cli.output import console, fail, out
from hearth.cli.state import cli_command

if TYPE_CHECKING:
    from hearth.config import HearthConfig

SCOPES = ("webhook-gw", "deployer", "notifier", "device-manager", "provisioner")
scope_option = click.option(
    "--for",
    "scope",
    type=click.Choice(SCOPES),
    help="the service that reads it; default: inferred from hearth.yaml",
)
config_option = options.config_option(
    "the hearth.yaml to infer scopes from; default: as `hearth up` chooses"
)


@click.group()
def secret() -> None:
    """Secrets (SSH keys, tokens, webhook secrets, Apprise URLs): encrypted per scope."""


def _declared(explicit: Path | None) -> tuple[HearthConfig | None, str]:
    """The hearth.yaml `hearth up` would apply here, and how to name it in a message."""
    from hearth.config import ConfigError, load_config
    from hearth.stack.choice import choose_config
    from hearth.stack.layout import DataDir, data_dir
    from hearth.stack.up import StackError

    try:
        choice = choose_config(explicit, Path.cwd(), DataDir(data_dir()))
        if choice.path is None:
            return None, "any hearth.yaml (none here, none remembered, no --config)"
        return load_config(choice.path), str(choice.path)
    except (ConfigError, StackError) as exc:
        fail(str(exc))
        raise AssertionError from None  # fail() exits


def _scopes(scope: str | None, name: str, config_path: Path | None) -> tuple[str, ...]:
    from hearth.secret_scopes import chosen_scopes
    from hearth_servicekit.secrets import SecretError, check_secret_name

    try:
        check_secret_name(name)
        if scope:
            return chosen_scopes(scope, None, name, "")
        config, where = _declared(config_path)
        return chosen_scopes(None, config, name, where)
    except SecretError as exc:
        fail(str(exc))
        raise AssertionError from None


def _on_bus(action: Any) -> tuple[Any, str]:
    from hearth.stack.bus import on_secrets_anyhow
    from hearth.stack.layout import DataDir, data_dir
    from hearth.stack.up import StackError
    from hearth_servicekit.secrets import SecretError

    try:
        return on_secrets_anyhow(DataDir(data_dir()), action)
    except (SecretError, StackError) as exc:
        fail(str(exc))
        raise AssertionError from None


def _installation_key() -> str:
    from hearth.stack.layout import DataDir, data_dir

    return DataDir(data_dir()).secret_key()


@secret.command("set")
@click.argument("name")
@scope_option
@config_option
def secret_set(name: str, scope: str | None, config_path: Path | None) -> None:
    """Store NAME from standard input (never from the command line)."""
    from hearth.stack.secrets import put_scoped

    scopes = _scopes(scope, name, config_path)
    value = sys.stdin.buffer.read().rstrip(b"\n")
    if not value:
        fail(
            "no value on standard input; e.g. "
            f"`printf %s 'value' | {cli_command()} secret set NAME`"
        )
    key = _installation_key()
    values = {(s, name): value for s in scopes}
    _, where = _on_bus(lambda js: put_scoped(js, key, values))
    console.print(
        f"secret {name!r} stored (encrypted) for {', '.join(scopes)} {where}",
        highlight=False,
        soft_wrap=True,
    )


@secret.command("list")
def secret_list() -> None:
    """List stored secrets by name and scope (never their values)."""
    from rich.table import Table

    from hearth.stack.secrets import stored

    found, _ = _on_bus(stored)
    table = Table()
    table.add_column("name")
    table.add_column("scope")
    for scope, name in found:
        table.add_row(name, scope or "(unscoped: `hearth up` moves it)")
    out.print(table)


@secret.command("rm")
@click.argument("name")
@scope_option
@config_option
def secret_rm(name: str, scope: str | None, config_path: Path | None) -> None:
    """Remove NAME from its scope(s)."""
    from hearth.stack.secrets import remove

    scopes = _scopes(scope, name, config_path)

    async def remove_all(js: Any) -> list[str]:
        return [s for s in scopes if await remove(js, s, name)]

    removed, where = _on_bus(remove_all)
    if not removed:
        fail(
            f"secret {name!r} is not stored for {', '.join(scopes)}; "
            f"see `{cli_command()} secret list`"
        )
    console.print(f"secret {name!r} removed from {', '.join(removed)} {where}", highlight=False)


@secret.command("service-key")
@click.option("--for", "scope", type=click.Choice(SCOPES), required=True)
def secret_service_key(scope: str) -> None:
    """Print the scope key one service needs (HEARTH_SCOPE_KEY), e.g. for compose's .env."""
    from hearth_servicekit.secrets import SecretError, scope_key

    try:
        click.echo(scope_key(_installation_key(), scope))
    except SecretError as exc:
        fail(str(exc))


@secret.command("migrate")
@config_option
def secret_migrate(config_path: Path | None) -> None:
    """Move secrets stored before scopes into their scopes (`hearth up` does it itself)."""
    from hearth.stack.secrets import migrate_unscoped

    config, _ = _declared(config_path)
    key = _installation_key()
    said, where = _on_bus(lambda js: migrate_unscoped(js, key, config))
    for line in said:
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"{len(said)} unscoped secret(s) seen {where}", highlight=False)
