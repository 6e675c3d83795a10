"""``hearth up``: the whole stack on this machine, then the demo or your hearth.yaml."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hearth.cli.bus import admin_request, store_secrets
from hearth.cli.output import console, fail
from hearth.cli.state import probe

if TYPE_CHECKING:
    from hearth.demo import Demo
    from hearth.stack.layout import DataDir


@click.command()
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
    from hearth.apply import apply_config
    from hearth.config import ConfigError, load_config
    from hearth.demo import start_demo
    from hearth.stack.layout import data_dir
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
    from hearth.demo import POLL_S

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


def wait_ready(state: dict[str, Any], timeout: float) -> dict[str, bool]:
    deadline = time.monotonic() + timeout
    ready = {name: False for name in state["services"]}
    while time.monotonic() < deadline and not all(ready.values()):
        for name, service in state["services"].items():
            if not ready[name]:
                ready[name] = probe(service["url"] + "/readyz")[0] == 200
        time.sleep(0.3)
    return ready


def print_summary(state: dict[str, Any], ready: dict[str, bool], layout: DataDir) -> None:
    from rich.table import Table

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
