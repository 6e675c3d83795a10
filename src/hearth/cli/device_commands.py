"""The device manager's commands on the fleet, through the API: ``hearth devices
discover|adopt|release|apply|import|backup|restore``. Each waits for the device manager's answer
with a spinner on stderr and prints what it said."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from hearth.cli.api import run_api
from hearth.cli.output import console, emit_json

if TYPE_CHECKING:
    from hearth.client import ApiClient


PAGE_LIMIT = 200  # the API's largest page


def device_path(device: str, action: str = "") -> str:
    return f"/api/v1/devices/{quote(device, safe='')}" + (f"/{action}" if action else "")


async def all_devices(client: ApiClient, limit: int | None, **query: Any) -> list[dict[str, Any]]:
    """Every page until ``limit`` devices (None: the whole fleet)."""
    found: list[dict[str, Any]] = []
    cursor = None
    while limit is None or len(found) < limit:
        size = PAGE_LIMIT if limit is None else min(PAGE_LIMIT, limit - len(found))
        page = await client.call("GET", "/api/v1/devices", limit=size, cursor=cursor, **query)
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return found


async def ask(client: ApiClient, path: str, body: dict[str, Any], doing: str) -> dict[str, Any]:
    """POST a command with a spinner on stderr; returns the device manager's answer."""
    with console.status(doing):
        answer: dict[str, Any] = await client.call("POST", path, body)
    result: dict[str, Any] = answer["result"]
    return result


async def write_file(path: Path, text: str) -> None:
    """Write where asked (in a thread: the event loop keeps running), and say so."""

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
@click.argument("device_names", metavar="[DEVICE]...", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="every adopted device")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="write one device's TOML here (devices/NAME.toml)",
)
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    help="a clone of the desired-config repository: write devices/NAME.toml into it",
)
@click.option("--folder", default="", help="the device_config path inside --repo ('' = root)")
@click.option(
    "--branch",
    help="commit the files to this branch of --repo (new or existing) instead of writing "
    "them: your checkout, index and files stay as they are",
)
@click.option("--json", "as_json", is_flag=True)
def import_(
    *,
    device_names: tuple[str, ...],
    everything: bool,
    output: Path | None,
    repo: Path | None,
    folder: str,
    branch: str | None,
    as_json: bool,
) -> None:
    """Read devices' config as desired-config TOML: printed, written with -o, written into
    a clone with --repo, or committed to a branch of it with --repo and --branch."""
    problem = import_problem(device_names, everything, output, repo, branch)
    if problem:
        raise click.UsageError(problem)

    async def action(client: ApiClient) -> int:
        names = list(device_names) or await adopted_devices(client)
        results = await import_each(client, names, quiet=as_json)
        if repo is not None:
            files = {
                "/".join(p for p in (folder.strip("/"), r["path"]) if p): r["toml"]
                for r in results.values()
            }
            saved = await asyncio.to_thread(save_imports, repo, branch, files, names)
            if not as_json:
                console.print(saved, highlight=False)
        if as_json:
            emit_json(results if len(names) > 1 or everything else results[names[0]])
            return 0
        if repo is None:
            toml = results[names[0]].get("toml")
            if not isinstance(toml, str):
                report(results[names[0]], False, f"{names[0]} imported")
            elif output is None:
                click.echo(toml, nl=not toml.endswith("\n"))
            else:
                await write_file(output, toml)
        return 0

    run_api(action)


def import_problem(
    names: tuple[str, ...],
    everything: bool,
    output: Path | None,
    repo: Path | None,
    branch: str | None,
) -> str | None:
    """What is wrong with the options given, in one line; None if nothing."""
    if everything == bool(names):
        return "name the devices to import, or give --all"
    if output is not None and (repo is not None or everything or len(names) > 1):
        return "-o writes one device's file; for several, give --repo DIR"
    if (everything or len(names) > 1) and repo is None:
        return "several devices need --repo DIR (a clone of the desired-config repository)"
    if branch is not None and repo is None:
        return "--branch needs --repo DIR (the clone to commit in)"
    return None


async def adopted_devices(client: ApiClient) -> list[str]:
    found = await all_devices(client, None, adopted="true")
    if not found:
        raise click.ClickException("no adopted device to import")
    return [d["name"] or d["device_id"] for d in found]


async def import_each(
    client: ApiClient, names: list[str], *, quiet: bool
) -> dict[str, dict[str, Any]]:
    """Ask for each device's TOML, with a progress bar for several."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    results: dict[str, dict[str, Any]] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    hidden = quiet or len(names) == 1
    with Progress(*columns, console=console.get(), disable=hidden, transient=True) as bar:
        task = bar.add_task("importing", total=len(names))
        for name in names:
            path = device_path(name, "import")
            answer: dict[str, Any] = await client.call("POST", path, {})
            result: dict[str, Any] = answer["result"]
            result.setdefault("path", f"devices/{result.get('name') or name}.toml")
            results[name] = result
            bar.advance(task)
    return results


def save_imports(repo: Path, branch: str | None, files: dict[str, str], names: list[str]) -> str:
    """Write or commit the imported files; what happened, in one line."""
    from hearth.cli.gitcommit import GitProblem, commit_to_branch, write_files

    try:
        if branch is None:
            written = write_files(repo, files)
            return f"wrote {len(written)} file{'s' if len(written) != 1 else ''} into {repo}"
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        message = f"Import {len(names)} device{'s' if len(names) != 1 else ''}: {shown}\n\n"
        message += "Read from the devices by `hearth devices import`.\n"
        commit = commit_to_branch(repo, branch, files, message)
    except GitProblem as exc:
        raise click.ClickException(str(exc)) from None
    if commit is None:
        return f"branch {branch} already holds these files: nothing to commit"
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    return f"committed {count} to {branch} ({commit[:8]}); next: git push origin {branch}"


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
        "release",
        "Stop managing (nothing on the device changes)",
        "releasing",
        "released",
    ),
    one_device_command(
        "apply", "Write the config from Git to", "applying Git's config to", "applied"
    ),
    import_,
    one_device_command("backup", "Take a config snapshot of", "backing up", "backed up"),
    restore,
)
