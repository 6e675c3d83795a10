"""Reading through the API: deployments, a deployment's logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from hearth.cli.api import run_api
from hearth.cli.ids import resolve_deployment, short_ids
from hearth.cli.output import emit_json, out

if TYPE_CHECKING:
    from hearth.client import ApiClient

#: Every status a deployment can have (the query API's read model).
STATUSES = (
    "queued",
    "running",
    "rolling_back",
    "succeeded",
    "failed",
    "superseded",
    "cancelled",
    "rolled_back",
    "rollback_failed",
)
MAX_LIMIT = 200  # the API's largest page


@click.command()
@click.option("--target", help="only this target's (it must exist)")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def deployments(target: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Recent deployments, newest first."""

    async def action(client: ApiClient) -> int:
        if target is not None:
            # The list would just be empty: say the name is wrong (404 is exit 2).
            await client.call("GET", f"/api/v1/targets/{quote(target, safe='')}")
        page = await client.call(
            "GET", "/api/v1/deployments", target=target, status=status, limit=limit
        )
        if as_json:
            emit_json(page["items"])
        else:
            print_deployments(page["items"])
        return 0

    run_api(action)


def print_deployments(items: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from hearth.follow import STYLE, TERMINAL

    table = Table(title="deployments")
    for column in ("id", "target", "status", "trigger", "commit", "requested", "took"):
        table.add_column(column, no_wrap=column == "id")
    shown = short_ids(d["id"] for d in items)
    for d in items:
        took = f"{d['duration_ms'] / 1000:.1f}s" if d.get("duration_ms") else ""
        table.add_row(
            shown[d["id"]],
            d["target"],
            f"[{STYLE.get(d['status'], 'red' if d['status'] in TERMINAL else 'cyan')}]"
            f"{d['status']}[/]",
            d["trigger"] + (" (dry run)" if d["dry_run"] else ""),
            (d["commit"] or "")[:12],
            str(d["requested_at"])[:19].replace("T", " "),
            took,
        )
    out.print(table)


@click.command()
@click.argument("deployment_id")
@click.option("-f", "--follow", is_flag=True, help="keep printing until it ends")
@click.option("--json", "as_json", is_flag=True)
def logs(deployment_id: str, follow: bool, as_json: bool) -> None:
    """A deployment's log lines (DEPLOYMENT_ID: the id or a unique prefix of it)."""
    from hearth.follow import exit_code, follow_deployment

    async def action(client: ApiClient) -> int:
        full_id = await resolve_deployment(client, deployment_id)
        path = f"/api/v1/deployments/{quote(full_id)}"
        if as_json:
            detail = await client.call("GET", path)
            emit_json(detail["logs"])
            return 0
        if follow:
            final = await follow_deployment(client, full_id, out.get(), show_steps=False)
            return exit_code(final["status"])
        detail = await client.call("GET", path)
        for line in detail["logs"]:
            click.echo(f"{str(line['at'])[11:19]} {line['level']:<7} {line['message']}")
        return 0

    run_api(action)
