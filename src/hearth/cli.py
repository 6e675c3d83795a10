"""The ``hearth`` command: thin entry points over small handlers."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import nats
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hearth.apply import apply_config
from hearth.client import ApiClient, ApiProblem, ApiSettings
from hearth.config import ConfigError, load_config
from hearth.demo import POLL_S, Demo, start_demo
from hearth.follow import STYLE, TERMINAL, exit_code, follow_deployment
from hearth.stack.layout import DataDir, data_dir
from hearth.stack.up import (
    StackError,
    UpOptions,
    preflight,
    record_state,
    start_servers,
    start_services,
    stop_servers,
    supervise_until_stopped,
)

console = Console(stderr=True)
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_CONFIG) -> None:
    console.print(f"[bold red]hearth:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


@click.group()
@click.version_option(package_name="hearth")
def main() -> None:
    """Hearth: GitOps for your homelab."""


@main.command()
@click.option("--nats-port", type=int, default=4223, show_default=True)
@click.option("--postgres-port", type=int, default=5433, show_default=True)
@click.option("--port-offset", type=int, default=0, help="shift every service port by this")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("hearth.yaml"),
    show_default=True,
    help="applied once the services are ready, if the file exists",
)
def up(nats_port: int, postgres_port: int, port_offset: int, config_path: Path) -> None:
    """Run Hearth on this machine: NATS, PostgreSQL and all six services."""
    config = None
    if config_path.exists():
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            fail(str(exc))
            return
    options = UpOptions(
        data_dir=data_dir(),
        nats_url=os.environ.get("HEARTH_NATS_URL") or None,
        database_url=os.environ.get("HEARTH_DATABASE_URL") or None,
        nats_port=nats_port,
        postgres_port=postgres_port,
        port_offset=port_offset,
    )
    try:
        preflight(options)
        with console.status("starting NATS and PostgreSQL…"):
            stack = start_servers(options)
    except StackError as exc:
        fail(str(exc))
        return
    demo: Demo | None = None
    try:
        if config is None:
            with console.status("starting the demo (no hearth.yaml here)…"):
                demo = start_demo(options.data_dir, port_offset)
        with console.status("starting services…"):
            start_services(stack)
            state = record_state(stack, pid=os.getpid())
            ready = wait_ready(state, timeout=60)
        print_summary(state, ready, stack.layout)
        if demo is not None:
            asyncio.run(store_secrets(state, stack.layout, demo.secrets))
            config, config_path = demo.config, Path("demo")
        if config is not None:
            for result in apply_config(config, admin_request, dry_run=False):
                outcome = "applied" if result.get("ok") else f"NOT applied: {result['error']}"
                console.print(f"{config_path} {result['section']}: {outcome}", highlight=False)
        if demo is not None:
            print_demo(demo, state)
        supervise_until_stopped(stack, lambda message: console.print(message, highlight=False))
    except BaseException:
        stop_servers(stack)
        raise
    finally:
        if demo is not None:
            demo.stop()


def print_demo(demo: Demo, state: dict[str, Any]) -> None:
    reply = admin_request(
        "hearth.cmd.query.CreateToken",
        {"name": f"demo-admin-{int(time.time())}", "role": "admin", "actor": "hearth up"},
    )
    token = reply.get("token", "(could not create one: " + reply.get("error", "?") + ")")
    api = state["services"]["query-api"]["url"]
    lines = [
        "[bold]Demo[/] (no hearth.yaml here; write one to use your own hosts)",
        f"  Git repository   {demo.checkout}  (Hearth polls it every {POLL_S} s)",
        f"  SSH host folder  {demo.host_dir}",
        f"  Home Assistant   {demo.ha_url}  (simulated: it checks and 'restarts' the files)",
        f"  admin token      {token}",
        "  try it:          cd " + str(demo.checkout) + " && $EDITOR automations.yaml && "
        "git commit -am 'my change' && git push",
        f"  then watch       {api}/api/v1/deployments  or  "
        "nats sub 'hearth.evt.deploy.>' (inspector context)",
    ]
    lines.extend(f"  [yellow]note[/]            {note}" for note in demo.notes)
    for line in lines:
        console.print(line, highlight=False)


async def store_secrets(state: dict[str, Any], layout: DataDir, values: dict[str, bytes]) -> None:
    from hearth_servicekit.secrets import SecretBox, SecretStore

    credentials = (
        {"user": "admin", "password": layout.bus_passwords()["admin"]}
        if state["embedded_nats"]
        else {}
    )
    nc = await nats.connect(state["nats_url"], connect_timeout=5, **credentials)
    try:
        store = SecretStore(nc.jetstream(), SecretBox(layout.secret_key()))
        for name, value in values.items():
            await store.put(name, value)
    finally:
        await nc.close()


def wait_ready(state: dict[str, Any], timeout: float) -> dict[str, bool]:
    deadline = time.monotonic() + timeout
    ready = {name: False for name in state["services"]}
    while time.monotonic() < deadline and not all(ready.values()):
        for name, service in state["services"].items():
            if not ready[name]:
                ready[name] = probe(service["url"] + "/readyz")[0] == 200
        time.sleep(0.3)
    return ready


def probe(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URLs)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        except ValueError:
            return err.code, {}
    except (OSError, ValueError):
        return 0, {}


def print_summary(state: dict[str, Any], ready: dict[str, bool], layout: DataDir) -> None:
    table = Table(title="Hearth is up", show_header=True, header_style="bold")
    table.add_column("service")
    table.add_column("ready")
    table.add_column("url")
    for name, service in state["services"].items():
        table.add_row(name, "[green]yes[/]" if ready[name] else "[red]no[/]", service["url"])
    console.print(table)
    services = state["services"]
    console.print(f"dashboard & API  {services['query-api']['url']}", highlight=False)
    console.print(
        f"GitHub webhooks  {services['webhook-gw']['url']}/webhooks/github", highlight=False
    )
    console.print(f"NATS             {state['nats_url']}", highlight=False)
    console.print(
        f"inspect with     nats --context {layout.inspector_context} stream ls", highlight=False
    )
    console.print(f"logs             {layout.logs_dir}/", highlight=False)
    console.print("Ctrl-C stops everything.")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(as_json: bool) -> None:
    """Health of every component of the running stack (non-zero exit if one is down)."""
    layout = DataDir(data_dir())
    state = layout.read_state()
    if state is None:
        fail(
            f"Hearth is not running from {layout.root} (no stack.json); start it with `hearth up`",
            code=1,
        )
        return
    rows = {name: probe(service["url"] + "/readyz") for name, service in state["services"].items()}
    report = {
        "nats": {"url": state["nats_url"]},
        "services": {
            name: {
                "ready": code == 200,
                "url": state["services"][name]["url"],
                "checks": body.get("checks", {}),
            }
            for name, (code, body) in rows.items()
        },
    }
    healthy = all(s["ready"] for s in report["services"].values())
    if as_json:
        click.echo(json.dumps({"healthy": healthy, **report}, indent=2))
    else:
        table = Table(title=f"Hearth at {layout.root}")
        table.add_column("component")
        table.add_column("state")
        table.add_column("details")
        for name, info in report["services"].items():
            checks = ", ".join(f"{k} {'ok' if v else 'DOWN'}" for k, v in info["checks"].items())
            table.add_row(
                name,
                "[green]ready[/]" if info["ready"] else "[red]not ready[/]",
                checks or "no answer",
            )
        Console().print(table)
    sys.exit(0 if healthy else 1)


def admin_request(subject: str, body: dict[str, Any], timeout: float = 15) -> dict[str, Any]:
    layout = DataDir(data_dir())
    state = layout.read_state()
    if state is None:
        fail("Hearth is not running here; start it with `hearth up`", code=1)
        raise AssertionError  # unreachable: fail exits
    credentials = (
        {"user": "admin", "password": layout.bus_passwords()["admin"]}
        if state["embedded_nats"]
        else {}
    )

    async def send() -> dict[str, Any]:
        nc = await nats.connect(state["nats_url"], connect_timeout=5, **credentials)
        try:
            reply = await nc.request(subject, json.dumps(body).encode(), timeout=timeout)
        finally:
            await nc.close()
        result: dict[str, Any] = json.loads(reply.data)
        return result

    try:
        return asyncio.run(send())
    except Exception as exc:
        fail(f"no answer on {subject}: {exc or type(exc).__name__}", code=1)
        raise AssertionError from exc


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("hearth.yaml"),
    show_default=True,
)
@click.option("--dry-run", is_flag=True, help="show the changes without making them")
def apply(config_path: Path, dry_run: bool) -> None:
    """Make the running Hearth equal to hearth.yaml (repositories, notification routes)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
        return
    results = apply_config(config, admin_request, dry_run=dry_run)
    table = Table(title="hearth apply" + (" (dry run)" if dry_run else ""))
    for column in ("section", "result", "changes"):
        table.add_column(column)
    for result in results:
        changes = "\n".join(f"{c['type']} {c['name']}" for c in result.get("changes", []))
        table.add_row(
            result["section"],
            "[green]ok[/]" if result.get("ok") else f"[red]{result.get('error', 'failed')}[/]",
            changes or "no changes",
        )
    Console().print(table)
    sys.exit(0 if all(r.get("ok") for r in results) else 1)


@main.group()
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
    Console().print(table)


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token at once."""
    reply = admin_request("hearth.cmd.query.RevokeToken", {"name": name})
    if not reply.get("ok"):
        fail(reply.get("error", "refused"), code=1)
    console.print(f"revoked {name}")


@main.group()
def notify() -> None:
    """Notifications."""


@notify.command("test")
@click.argument("route", required=False)
def notify_test(route: str | None) -> None:
    """Send a test message through ROUTE (or every route) and report per URL."""
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
    Console().print(table)
    sys.exit(0 if all(r["ok"] for r in reply["results"]) else 1)


@main.group()
def secret() -> None:
    """Secrets (webhook secrets, tokens, Apprise URLs): stored encrypted."""


@secret.command("set")
@click.argument("name")
def secret_set(name: str) -> None:
    """Store NAME from standard input (never from the command line)."""
    from hearth_servicekit.secrets import SecretError

    value = sys.stdin.buffer.read().rstrip(b"\n")
    if not value:
        fail("no value on standard input; e.g. `printf %s 'value' | hearth secret set NAME`")
    layout = DataDir(data_dir())
    state = layout.read_state()
    if state is None:
        fail("Hearth is not running here; start it with `hearth up`", code=1)
        return
    try:
        asyncio.run(store_secrets(state, layout, {name: value}))
    except SecretError as exc:
        fail(str(exc))
    console.print(f"secret {name!r} stored (encrypted)")


# -- talking to the query API ------------------------------------------------------------

Action = Callable[[ApiClient], Awaitable[int]]


def run_api(action: Action) -> None:
    """Run ``action`` against the API; problems are one line and exit code 2."""

    async def go() -> int:
        async with ApiClient(ApiSettings.load()) as client:
            return await action(client)

    try:
        code = asyncio.run(go())
    except ApiProblem as exc:
        fail(str(exc))
        return
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


async def _accepted_then_follow(
    client: ApiClient,
    accepted: dict[str, Any],
    *,
    as_json: bool,
    follow: bool,
    good: frozenset[str] = frozenset({"succeeded"}),
) -> int:
    deployment_id = accepted["deployment_id"]
    if not follow:
        if as_json:
            emit_json(accepted)
        else:
            click.echo(deployment_id)
        return 0
    if not as_json:
        console.print(f"deployment {deployment_id} requested; following…", highlight=False)
    final = await follow_deployment(
        client, deployment_id, console, show_steps=not as_json, show_logs=not as_json
    )
    if as_json:
        emit_json({k: v for k, v in final.items() if k not in ("logs", "diff")})
    else:
        status = final["status"]
        style = STYLE.get(status, "red")
        reason = f": {final['reason']}" if final.get("reason") else ""
        console.print(f"[{style}]{status}[/]{escape(reason)}", highlight=False)
    return 0 if final["status"] in good else 1


@main.command()
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
        return await _accepted_then_follow(client, accepted, as_json=as_json, follow=not no_follow)

    run_api(action)


@main.command()
@click.argument("target")
@click.option("--to", "to", help="a backup id or a commit; default: the newest backup")
@click.option("--reason", default="", help="recorded with the rollback")
@click.option("--no-follow", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def rollback(target: str, to: str | None, reason: str, no_follow: bool, as_json: bool) -> None:
    """Roll TARGET back to a kept backup or an earlier commit, and follow it."""

    async def action(client: ApiClient) -> int:
        body = {"to": to, "reason": reason}
        accepted = await client.call("POST", f"/api/v1/targets/{quote(target)}/rollback", body)
        return await _accepted_then_follow(
            client,
            accepted,
            as_json=as_json,
            follow=not no_follow,
            good=frozenset({"succeeded", "rolled_back"}),
        )

    run_api(action)


@main.command()
@click.argument("deployment_id")
@click.option("--reason", default="")
def cancel(deployment_id: str, reason: str) -> None:
    """Cancel a deployment (one that already touched its target is rolled back)."""

    async def action(client: ApiClient) -> int:
        path = f"/api/v1/deployments/{quote(deployment_id)}/cancel"
        await client.call("POST", path, {"reason": reason})
        console.print(f"cancel requested for {deployment_id}", highlight=False)
        return 0

    run_api(action)


@main.command()
@click.option("--target")
@click.option("--status")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def deployments(target: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Recent deployments, newest first."""

    async def action(client: ApiClient) -> int:
        page = await client.call(
            "GET", "/api/v1/deployments", target=target, status=status, limit=limit
        )
        if as_json:
            emit_json(page["items"])
            return 0
        table = Table(title="deployments")
        for column in ("id", "target", "status", "trigger", "commit", "requested", "took"):
            table.add_column(column)
        for d in page["items"]:
            took = f"{d['duration_ms'] / 1000:.1f}s" if d.get("duration_ms") else ""
            table.add_row(
                d["id"],
                d["target"],
                f"[{STYLE.get(d['status'], 'red' if d['status'] in TERMINAL else 'cyan')}]"
                f"{d['status']}[/]",
                d["trigger"] + (" (dry run)" if d["dry_run"] else ""),
                (d["commit"] or "")[:12],
                str(d["requested_at"])[:19].replace("T", " "),
                took,
            )
        Console().print(table)
        return 0

    run_api(action)


@main.command()
@click.argument("deployment_id")
@click.option("-f", "--follow", is_flag=True, help="keep printing until it ends")
@click.option("--json", "as_json", is_flag=True)
def logs(deployment_id: str, follow: bool, as_json: bool) -> None:
    """A deployment's log lines."""

    async def action(client: ApiClient) -> int:
        path = f"/api/v1/deployments/{quote(deployment_id)}"
        if as_json:
            detail = await client.call("GET", path)
            emit_json(detail["logs"])
            return 0
        if follow:
            final = await follow_deployment(client, deployment_id, Console(), show_steps=False)
            return exit_code(final["status"])
        detail = await client.call("GET", path)
        for line in detail["logs"]:
            click.echo(f"{str(line['at'])[11:19]} {line['level']:<7} {line['message']}")
        return 0

    run_api(action)


@main.group()
def events() -> None:
    """The event stream."""


@events.command("tail")
@click.option("--type", "types", multiple=True, help="event type (repeatable)")
@click.option("--target")
@click.option("--device")
@click.option("--json", "as_json", is_flag=True, help="one JSON envelope per line")
def events_tail(
    types: tuple[str, ...], target: str | None, device: str | None, as_json: bool
) -> None:
    """Print events as they happen (Ctrl-C stops)."""

    async def action(client: ApiClient) -> int:
        params = {"type": ",".join(types) or None, "target": target, "device": device}

        def connected(resumed_after: str | None) -> None:
            # On stderr, so that --json output stays one envelope per line.
            if resumed_after is None:
                click.echo(f"following events at {client.settings.url} (Ctrl-C stops)", err=True)
            else:
                click.echo(f"reconnected; resuming after event {resumed_after}", err=True)

        async for event in client.events(connected, **params):
            if as_json:
                click.echo(json.dumps(event))
            else:
                click.echo(
                    f"{event['seq']:>7} {str(event['occurred_at'])[11:19]} "
                    f"{event['type']:<22} {event['key']:<20} {event['actor']}"
                )
        return 0

    run_api(action)


@main.group()
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


if __name__ == "__main__":
    main()
