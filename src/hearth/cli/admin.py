"""Admin commands over NATS: tokens, notifications, the read models."""

from __future__ import annotations

import sys

import click

from hearth.cli.bus import admin_request
from hearth.cli.output import console, fail, out


@click.group()
def token() -> None:
    """API tokens (viewer, operator, admin)."""


@token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer")
def token_create(name: str, role: str) -> None:
    """Create a token; it is shown once."""
    reply = admin_request(
        "hearth.cmd.query.CreateToken", {"name": name, "role": role, "actor": "cli"}
    )
    if not reply.get("ok"):
        fail(reply.get("error", "refused"), code=1)
    click.echo(reply["token"])
    console.print(f"token {name!r} ({role}); shown once — store it now", highlight=False)


@token.command("ls")
def token_ls() -> None:
    """List tokens (never their values)."""
    from rich.table import Table

    reply = admin_request("hearth.cmd.query.ListTokens", {})
    table = Table()
    for column in ("name", "role", "created_at", "last_used_at", "revoked_at"):
        table.add_column(column)
    for t in reply.get("tokens", []):
        table.add_row(
            *(
                str(t.get(c) or "")
                for c in ("name", "role", "created_at", "last_used_at", "revoked_at")
            )
        )
    out.print(table)


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token at once."""
    reply = admin_request("hearth.cmd.query.RevokeToken", {"name": name})
    if not reply.get("ok"):
        fail(reply.get("error", "refused"), code=1)
    console.print(f"revoked {name}")


@click.group()
def notify() -> None:
    """Notifications."""


@notify.command("test")
@click.argument("route", required=False)
def notify_test(route: str | None) -> None:
    """Send a test message through ROUTE (or every route) and report per URL."""
    from rich.table import Table

    reply = admin_request("hearth.cmd.notify.TestNotification", {"route": route} if route else {})
    if not reply.get("ok"):
        fail(reply.get("error", "refused"), code=1)
    table = Table(title="hearth notify test")
    for column in ("route", "secret", "service", "result"):
        table.add_column(column)
    for result in reply["results"]:
        table.add_row(
            result["route"],
            result["secret"],
            result["scheme"],
            "[green]sent[/]" if result["ok"] else f"[red]{result['reason']}[/]",
        )
    out.print(table)
    sys.exit(0 if all(r["ok"] for r in reply["results"]) else 1)


@click.group()
def projections() -> None:
    """The query API's read models."""


@projections.command("rebuild")
def projections_rebuild() -> None:
    """Empty every read model and replay the whole event stream into it."""
    with console.status("rebuilding the read models from the event stream…"):
        reply = admin_request(
            "hearth.cmd.query.RebuildProjections", {"actor": "hearth cli"}, timeout=3600
        )
    if not reply.get("ok"):
        fail(reply.get("error", "refused"), code=1)
    console.print(
        f"rebuilt from {reply['events']:,} events in {reply['seconds']:.1f}s", highlight=False
    )
