"""``hearth devices``: the Shelly fleet through the API: list, show, export, and the
device manager's commands (discover, adopt, apply, import, backup, restore)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hearth.cli.api import run_api
from hearth.cli.device_commands import COMMANDS, all_devices, device_path, write_file
from hearth.cli.output import emit_json, out

if TYPE_CHECKING:
    from hearth.client import ApiClient

FORMATS = ("json", "csv", "hosts", "dnsmasq", "dhcpd", "kea")
STATUS_STYLE = {"online": "green", "offline": "red", "unknown": "dim"}


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The fleet's filters, as ``ls`` and ``export`` take them."""
    for option in reversed(
        (
            click.option("--model", help="e.g. SNSW-001P16EU"),
            click.option("--group"),
            click.option("--site"),
            click.option("--status", type=click.Choice(("online", "offline", "unknown"))),
            click.option("--drifted", "drift", is_flag=True, default=None, help="only drifted"),
            click.option(
                "--update", is_flag=True, default=None, help="only with a firmware update"
            ),
            click.option("--find", "q", help="part of the name, id, MAC or address"),
        )
    ):
        command = option(command)
    return command


def filters(given: dict[str, Any]) -> dict[str, Any]:
    return {k: ("true" if v is True else v) for k, v in given.items() if v is not None}


def emit(value: Any, as_json: bool, printer: Callable[[Any], None]) -> int:
    """JSON for scripts, else the table."""
    if as_json:
        emit_json(value)
    else:
        printer(value)
    return 0


@click.group()
def devices() -> None:
    """The Shelly fleet: list, show, export; discover, adopt, apply, import, back up, restore."""


@devices.command("ls")
@filter_options
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--all", "everything", is_flag=True, help="the whole fleet, page after page")
@click.option("--json", "as_json", is_flag=True)
def devices_ls(limit: int, everything: bool, as_json: bool, **given: Any) -> None:
    """Devices, newest first."""

    async def action(client: ApiClient) -> int:
        found = await all_devices(client, None if everything else limit, **filters(given))
        return emit(found, as_json, print_devices)

    run_api(action)


def config_state(d: dict[str, Any]) -> str:
    if d.get("drifted"):
        return f"[yellow]drifted ({len(d.get('differences') or ())})[/]"
    if d.get("last_apply_error"):
        return "[red]apply failed[/]"
    return "[green]in sync[/]" if d.get("desired_commit") else "-"


def firmware_state(d: dict[str, Any]) -> str:
    from rich.markup import escape

    text = escape(d.get("firmware") or "-")
    if d.get("firmware_updating"):
        return f"{text} [cyan]→ {escape(d['firmware_updating'])}[/]"
    if d.get("firmware_available"):
        return f"{text} [cyan]↑ {escape(d['firmware_available'])}[/]"
    return text


def print_devices(items: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"devices ({len(items)})")
    for column in ("name", "id", "model", "address", "status", "config", "firmware"):
        table.add_column(column)
    for d in items:
        name = d.get("name") or "-"
        if not d.get("adopted"):
            name += " (not adopted)"
        table.add_row(
            escape(name),
            escape(d["device_id"]),
            escape(d.get("model") or "-"),
            escape(d.get("address") or "-"),
            f"[{STATUS_STYLE.get(d['status'], 'dim')}]{d['status']}[/]",
            config_state(d),
            firmware_state(d),
        )
    out.print(table)


@devices.command("show")
@click.argument("device")
@click.option("--json", "as_json", is_flag=True)
def devices_show(device: str, as_json: bool) -> None:
    """One device (DEVICE: its id, name or MAC): fields, live status, drift, backups."""

    async def action(client: ApiClient) -> int:
        return emit(await client.call("GET", device_path(device)), as_json, print_device)

    run_api(action)


def print_device(d: dict[str, Any]) -> None:
    import json

    from rich.markup import escape
    from rich.table import Table

    skip = {"differences", "desired", "backups", "live"}
    for key, value in d.items():
        if key not in skip and value not in (None, [], ""):
            out.print(f"[bold]{key:<21}[/] {escape(str(value))}", highlight=False)
    if d.get("live"):
        out.print(f"[bold]{'live':<21}[/] {escape(json.dumps(d['live'], sort_keys=True))}")
    if d.get("differences"):
        table = Table(title="drift: Git vs the device")
        for column in ("field", "in Git", "on the device", "comes from"):
            table.add_column(column)
        for diff in d["differences"]:
            source = diff.get("source") or diff.get("from") or "-"
            cells = (diff["path"], json.dumps(diff.get("desired")), json.dumps(diff.get("actual")))
            table.add_row(*(escape(str(c)) for c in (*cells, source)))
        out.print(table)
    for backup in d.get("backups") or ():
        when = str(backup["taken_at"])[:19].replace("T", " ")
        out.print(f"backup {escape(backup['backup_id'])}  {when}  {backup['reason']}")


@devices.command("export")
@filter_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write here, not stdout")
def devices_export(fmt: str, output: Path | None, **given: Any) -> None:
    """The inventory: JSON, CSV, a hosts file or DHCP reservations (dnsmasq, dhcpd, Kea)."""

    async def action(client: ApiClient) -> int:
        import json

        body = await client.call("GET", "/api/v1/devices/export", format=fmt, **filters(given))
        text = body if isinstance(body, str) else json.dumps(body, indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            await write_file(output, text)
        return 0

    run_api(action)


for command in COMMANDS:
    devices.add_command(command)
