"""``hearth firmware``: which devices can be updated, and staged rollouts followed wave by
wave with a progress bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from hearth.cli.api import run_api
from hearth.cli.output import console, emit_json, out

if TYPE_CHECKING:
    from hearth.client import ApiClient

#: Seconds between two looks at a rollout being followed.
POLL_S = 1.0
FINISHED = ("updated", "failed", "skipped")
STYLE = {"completed": "green", "updated": "green", "halted": "red", "failed": "red"}


@click.group()
def firmware() -> None:
    """Firmware of the Shelly fleet: status, staged rollouts."""


@firmware.command("status")
@click.option("--json", "as_json", is_flag=True)
def firmware_status(as_json: bool) -> None:
    """Devices with an update available or under way, and the latest rollouts."""
    from hearth.cli.device_commands import all_devices

    async def action(client: ApiClient) -> int:
        offered = await all_devices(client, None, update="true")
        rollouts = (await client.call("GET", "/api/v1/rollouts", limit=5))["items"]
        if as_json:
            emit_json({"devices": offered, "rollouts": rollouts})
        else:
            print_status(offered, rollouts)
        return 0

    run_api(action)


def print_status(devices: list[dict[str, Any]], rollouts: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"updates available ({len(devices)})")
    for column in ("name", "id", "model", "installed", "available", "channel", "last error"):
        table.add_column(column)
    for d in devices:
        cells = [d.get(k) for k in ("name", "device_id", "model", "firmware")]
        cells += [d.get("firmware_available"), d.get("firmware_channel"), d.get("firmware_error")]
        table.add_row(*(escape(str(c or "-")) for c in cells))
    out.print(table)
    for r in rollouts:
        progress = ", ".join(f"{n} {state}" for state, n in sorted(r["progress"].items()))
        style = STYLE.get(r["status"], "cyan")
        out.print(
            f"rollout {escape(r['rollout_id'])} [{style}]{r['status']}[/] {escape(progress)}",
            highlight=False,
        )


def pins(given: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pin in given:
        model, sep, version = pin.partition("=")
        if not sep or not model or not version:
            raise click.BadParameter(f"{pin!r}: give MODEL=VERSION", param_hint="--pin")
        found[model] = version
    return found


@firmware.command("rollout")
@click.argument("devices", nargs=-1)
@click.option("--group", help="every device of this group")
@click.option("--channel", type=click.Choice(("stable", "beta")))
@click.option("--wave-size", type=click.IntRange(1))
@click.option("--pause", "pause_s", type=click.FloatRange(0), help="seconds between waves")
@click.option("--canaries-per-model", type=click.IntRange(0))
@click.option("--pin", "pinned", multiple=True, help="MODEL=VERSION (repeatable)")
@click.option("--no-follow", is_flag=True, help="start it and return")
@click.option("--json", "as_json", is_flag=True)
def firmware_rollout(
    devices: tuple[str, ...], pinned: tuple[str, ...], no_follow: bool, as_json: bool, **given: Any
) -> None:
    """Update DEVICES (default: every adopted device with an update) in waves, canaries
    first; halts at the first failure. Exit 0 when it completed, 1 when it halted."""
    body: dict[str, Any] = {**given, "pin": pins(pinned) or None}
    body = {k: v for k, v in body.items() if v is not None}

    async def action(client: ApiClient) -> int:
        if devices:
            body["device_ids"] = [await device_id(client, d) for d in devices]
        with console.status("starting the rollout…"):
            result = (await client.call("POST", "/api/v1/rollouts", body))["result"]
        rollout_id = result.get("rollout_id")
        if no_follow or not rollout_id:
            if as_json:
                emit_json(result)
            else:
                click.echo(rollout_id or result)
            return 0
        final = await follow(client, str(rollout_id), quiet=as_json)
        if as_json:
            emit_json(final)
        return 0 if final["status"] == "completed" else 1

    run_api(action)


async def device_id(client: ApiClient, given: str) -> str:
    """The id of the device ``given`` names (id, name or MAC): the device manager takes ids."""
    found: str = (await client.call("GET", f"/api/v1/devices/{quote(given, safe='')}"))["device_id"]
    return found


async def follow(client: ApiClient, rollout_id: str, *, quiet: bool) -> dict[str, Any]:
    """Poll the rollout until it ends: a progress bar, and a line per device that ended."""
    import asyncio

    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from hearth.client import ApiProblem

    path = f"/api/v1/rollouts/{quote(rollout_id, safe='')}"
    told: set[str] = set()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console.get(), disable=quiet, transient=True) as bar:
        task = bar.add_task(f"rollout {rollout_id}", total=None)
        while True:
            try:
                rollout: dict[str, Any] = await client.call("GET", path)
            except ApiProblem as exc:
                if exc.status != 404:  # 404: not projected yet
                    raise
                await asyncio.sleep(POLL_S)
                continue
            ended = [d for d in rollout["devices"] if d["status"] in FINISHED]
            for d in ended:
                if d["device_id"] not in told and not quiet:
                    told.add(d["device_id"])
                    style = STYLE.get(d["status"], "yellow")
                    reason = f": {d['reason']}" if d.get("reason") else ""
                    bar.console.print(
                        f"wave {d['wave']} {escape(d['name'] or d['device_id'])} "
                        f"[{style}]{d['status']}[/]{escape(reason)}",
                        highlight=False,
                    )
            wave = rollout.get("current_wave")
            description = f"rollout {rollout_id}" + (f" · wave {wave}" if wave is not None else "")
            bar.update(task, total=len(rollout["devices"]), completed=len(ended))
            bar.update(task, description=description)
            if rollout["status"] != "running":
                break
            await asyncio.sleep(POLL_S)
    if not quiet:
        style = STYLE.get(rollout["status"], "yellow")
        why = f" at {rollout['halted_device']}: {rollout['reason']}" if rollout["reason"] else ""
        console.print(f"[{style}]{rollout['status']}[/]{escape(why)}", highlight=False)
    return rollout
