"""``hearth targets``: every target, what it runs and how its last deployment ended."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from hearth.cli.api import run_api
from hearth.cli.ids import short_ids
from hearth.cli.output import emit_json, out

if TYPE_CHECKING:
    from hearth.client import ApiClient

COLOUR = {"green": "green", "amber": "yellow", "red": "red", "grey": "dim"}


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def targets(ctx: click.Context, as_json: bool) -> None:
    """Every target: host, status, the commit it runs, its last deployment."""
    if ctx.invoked_subcommand is not None:
        return

    async def action(client: ApiClient) -> int:
        listed = await client.call("GET", "/api/v1/targets")
        if as_json:
            emit_json(listed["items"])
        else:
            print_targets(listed["items"])
        return 0

    run_api(action)


@targets.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def targets_show(name: str, as_json: bool) -> None:
    """One target, every field."""

    async def action(client: ApiClient) -> int:
        target = await client.call("GET", f"/api/v1/targets/{quote(name, safe='')}")
        if as_json:
            emit_json(target)
            return 0
        from rich.markup import escape

        for key, value in target.items():
            out.print(f"[bold]{key:<17}[/] {escape(describe(value))}", highlight=False)
        return 0

    run_api(action)


def describe(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def last_deployment(target: dict[str, Any], shown: dict[str, str]) -> str:
    deployment_id = target.get("last_deployment_id")
    if not deployment_id:
        return "never"
    when = str(target.get("last_finished_at") or "")[:19].replace("T", " ")
    return " ".join(p for p in (shown[deployment_id], target.get("last_status"), when) if p)


def print_targets(items: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    waiting = any(t.get("waiting_for") for t in items)
    columns = ["name", "kind", "host", "status", "commit", "last deployment"]
    table = Table(title="targets")
    for column in [*columns, *(["waiting for"] if waiting else [])]:
        table.add_column(column)
    shown = short_ids(t["last_deployment_id"] for t in items if t.get("last_deployment_id"))
    for t in items:
        status = "removed" if t.get("removed") else t["status"]
        plain = [t["name"], t["kind"], t["host"]]
        after = [(t.get("current_commit") or "")[:12] or "-", last_deployment(t, shown)]
        if waiting:
            after.append(describe(t.get("waiting_for")))
        colour = COLOUR.get(t["status"], "red")
        table.add_row(*map(escape, plain), f"[{colour}]{status}[/]", *map(escape, after))
    out.print(table)
