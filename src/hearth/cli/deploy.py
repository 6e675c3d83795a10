"""Changing targets through the API: deploy, rollback, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import click

from hearth.cli.api import accepted_then_follow, run_api
from hearth.cli.ids import resolve_backup, resolve_deployment
from hearth.cli.output import console, fail

if TYPE_CHECKING:
    from hearth.client import ApiClient


@click.command()
@click.argument("target")
@click.option("--commit", help="an exact commit (7-64 hex digits)")
@click.option("--branch", help="the head of this branch (default: the target's branch)")
@click.option("--dry-run", is_flag=True, help="fetch, validate and plan only")
@click.option(
    "--full-check",
    is_flag=True,
    help="re-hash every file on the host instead of trusting unchanged size and mtime; "
    "files changed behind Hearth's back are reported as drift",
)
@click.option("--no-follow", is_flag=True, help="print the deployment id and return")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def deploy(
    target: str,
    *,
    commit: str | None,
    branch: str | None,
    dry_run: bool,
    full_check: bool,
    no_follow: bool,
    as_json: bool,
) -> None:
    """Deploy TARGET now and follow it; the exit code says how it ended."""
    if commit and branch:
        fail("give --commit or --branch, not both")

    async def action(client: ApiClient) -> int:
        body = {"target": target, "commit": commit, "branch": branch, "dry_run": dry_run}
        if full_check:
            body["full_check"] = True
        accepted = await client.call("POST", "/api/v1/deployments", body)
        return await accepted_then_follow(client, accepted, as_json=as_json, follow=not no_follow)

    run_api(action)


@click.command()
@click.argument("target")
@click.option(
    "--to", "to", help="a backup id (or a unique prefix) or a commit; default: the newest backup"
)
@click.option("--reason", default="", help="recorded with the rollback")
@click.option("--no-follow", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def rollback(target: str, to: str | None, reason: str, no_follow: bool, as_json: bool) -> None:
    """Roll TARGET back to a kept backup or an earlier commit, and follow it."""

    async def action(client: ApiClient) -> int:
        # A backup id may be given by a unique prefix (a commit is passed on as it is).
        backup = to if to is None else await resolve_backup(client, target, to)
        body = {"to": backup, "reason": reason}
        accepted = await client.call("POST", f"/api/v1/targets/{quote(target)}/rollback", body)
        return await accepted_then_follow(
            client,
            accepted,
            as_json=as_json,
            follow=not no_follow,
            good=frozenset({"succeeded", "rolled_back"}),
        )

    run_api(action)


@click.command()
@click.argument("deployment_id")
@click.option("--reason", default="")
def cancel(deployment_id: str, reason: str) -> None:
    """Cancel a deployment (one that already touched its target is rolled back).

    DEPLOYMENT_ID is the id or a unique prefix of it."""

    async def action(client: ApiClient) -> int:
        full_id = await resolve_deployment(client, deployment_id)
        path = f"/api/v1/deployments/{quote(full_id)}/cancel"
        await client.call("POST", path, {"reason": reason})
        console.print(f"cancel requested for {full_id}", highlight=False)
        return 0

    run_api(action)
