"""The device manager's commands on the fleet, through the API: ``hearth devices
discover|adopt|apply|import|backup|restore``. Each waits for the device manager's answer
with a spinner on stderr and prints what it said."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from hearth.cli.api import run_api
from hearth.cli.output import console, emit_json

if TYPE_CHECKING:
    from hearth.client import ApiClient


def device_path(device: str, action: str = "") -> str:
    return f"/api/v1/devices/{quote(device, safe='')}" + (f"/{action}" if action else "")


async def ask(client: ApiClient, path: str, body: dict[str, Any], doing: str) -> dict[str, Any]:
    """POST a command with a spinner on stderr; returns the device manager's answer."""
    with console.status(doing):
        answer: dict[str, Any] = await client.call("POST", path, body)
    result: dict[str, Any] = answer["result"]
    return result


async def write_file(path: Path, text: str) -> None:
    """Write where asked (in a thread: the event loop keeps running), and say so."""
    import asyncio

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    await asyncio.to_thread(write)
    console.print(f"wrote {path}", highlight=False)


def report(result: dict[str, Any], as_json: bool, done: str) -> None:
    """The answer: as JSON, or one line and each of its fields."""
    if as_json:
        emit_json(result)
        return
    from rich.markup import escape

    console.print(f"[green]{escape(done)}[/]", highlight=False)
    for key, value in result.items():
        click.echo(f"{key}: {value}")


@click.command("discover")
@click.argument("cidrs", nargs=-1, required=True)
@click.option("--port", "ports", type=int, multiple=True, help="default: the device manager's")
@click.option("--json", "as_json", is_flag=True)
def discover(cidrs: tuple[str, ...], ports: tuple[int, ...], as_json: bool) -> None:
    """Scan networks for Shelly devices: CIDRS such as 192.168.1.0/24."""

    async def action(client: ApiClient) -> int:
        body: dict[str, Any] = {"cidrs": list(cidrs), **({"ports": list(ports)} if ports else {})}
        result = await ask(
            client, "/api/v1/devices/discover", body, f"scanning {', '.join(cidrs)}…"
        )
        found = result.get("found") or []
        if as_json:
            emit_json(found)
            return 0
        for device in found:
            click.echo(
                " ".join(
                    str(device.get(k) or "-") for k in ("device_id", "model", "address", "name")
                )
            )
        console.print(f"{len(found)} device{'s' if len(found) != 1 else ''} found", highlight=False)
        return 0

    run_api(action)


@click.command("adopt")
@click.argument("device")
@click.option("--name", help="default: the device's id")
@click.option("--password-secret", help="the secret (scope device-manager) with its password")
@click.option("--json", "as_json", is_flag=True)
def adopt(device: str, name: str | None, password_secret: str | None, as_json: bool) -> None:
    """Manage a discovered DEVICE (admin)."""

    async def action(client: ApiClient) -> int:
        body = {k: v for k, v in (("name", name), ("password_secret", password_secret)) if v}
        result = await ask(client, device_path(device, "adopt"), body, f"adopting {device}…")
        report(result, as_json, f"{device} adopted")
        return 0

    run_api(action)


def one_device_command(verb: str, summary: str, doing: str, done: str) -> click.Command:
    @click.command(verb, help=f"{summary} each DEVICE (its id, name or MAC).")
    @click.argument("device_names", metavar="DEVICE...", nargs=-1, required=True)
    @click.option("--json", "as_json", is_flag=True)
    def command(device_names: tuple[str, ...], as_json: bool) -> None:
        async def action(client: ApiClient) -> int:
            results = {}
            for device in device_names:
                path = device_path(device, verb)
                results[device] = await ask(client, path, {}, f"{doing} {device}…")
                if not as_json:
                    report(results[device], False, f"{device}: {done}")
            if as_json:
                emit_json(results)
            return 0

        run_api(action)

    return command


@click.command("import")
@click.argument("device")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="write the TOML here (devices/NAME.toml)",
)
@click.option("--json", "as_json", is_flag=True)
def import_(device: str, output: Path | None, as_json: bool) -> None:
    """Read DEVICE's config as desired-config TOML: printed, or written with -o."""

    async def action(client: ApiClient) -> int:
        result = await ask(client, device_path(device, "import"), {}, f"reading {device}…")
        if as_json:
            emit_json(result)
            return 0
        toml = result.get("toml")
        if not isinstance(toml, str):
            report(result, False, f"{device} imported")
            return 0
        if output is None:
            click.echo(toml, nl=not toml.endswith("\n"))
        else:
            await write_file(output, toml)
        return 0

    run_api(action)


@click.command("restore")
@click.argument("device")
@click.argument("backup_id")
@click.option("--json", "as_json", is_flag=True)
def restore(device: str, backup_id: str, as_json: bool) -> None:
    """Write backup BACKUP_ID back to DEVICE (its own, or one of a device of its model)."""

    async def action(client: ApiClient) -> int:
        result = await ask(
            client,
            device_path(device, "restore"),
            {"backup_id": backup_id},
            f"restoring {backup_id} to {device}…",
        )
        report(result, as_json, f"{backup_id} restored to {device}")
        return 0

    run_api(action)


COMMANDS: tuple[click.Command, ...] = (
    discover,
    adopt,
    one_device_command(
        "apply", "Write the config from Git to", "applying Git's config to", "applied"
    ),
    import_,
    one_device_command("backup", "Take a config snapshot of", "backing up", "backed up"),
    restore,
)
