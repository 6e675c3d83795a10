"""``hearth up``: the whole stack on this machine, then your hearth.yaml or the demo."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hearth.cli.options import config_option
from hearth.cli.output import console, fail

#: As the gateway's own setting allows (hearth_webhook_gw.settings.MAX_WORKERS).
MAX_WEBHOOK_WORKERS = 16


@click.command()
@click.option("--nats-port", type=int, default=4223, show_default=True)
@click.option("--postgres-port", type=int, default=5433, show_default=True)
@click.option("--port-offset", type=int, default=0, help="shift every service port by this")
@click.option(
    "--cluster",
    "nodes",
    type=click.IntRange(3, 5),
    default=None,
    help="run N routed NATS servers (ports --nats-port and up) with every stream and "
    "bucket on 3 of them, and two instances of each service (the provisioner once)",
)
@config_option("the hearth.yaml to apply [default: ./hearth.yaml, else the one last used here]")
def up(
    nats_port: int,
    postgres_port: int,
    port_offset: int,
    nodes: int | None,
    config_path: Path | None,
) -> None:
    """Run Hearth on this machine: NATS, PostgreSQL and all six services."""
    from hearth.config import ConfigError, load_config
    from hearth.stack.choice import choose_config
    from hearth.stack.layout import DataDir, data_dir
    from hearth.stack.report import ConsoleReport
    from hearth.stack.run import run_up
    from hearth.stack.up import StackError, UpOptions

    options = UpOptions(
        data_dir=data_dir(),
        nats_url=os.environ.get("HEARTH_NATS_URL") or None,
        database_url=os.environ.get("HEARTH_DATABASE_URL") or None,
        nats_port=nats_port,
        postgres_port=postgres_port,
        port_offset=port_offset,
        cluster=nodes or 1,
        webhook_workers=webhook_workers(),
    )
    try:
        choice = choose_config(config_path, Path.cwd(), DataDir(options.data_dir))
        config = load_config(choice.path) if choice.path is not None else None
        run_up(options, choice, config, ConsoleReport(console.get()))
    except (StackError, ConfigError) as exc:
        fail(str(exc))
    exit_now()


def webhook_workers() -> int:
    """HEARTH_WEBHOOK_WORKERS: how many webhook gateway processes share its port."""
    value = os.environ.get("HEARTH_WEBHOOK_WORKERS", "").strip() or "1"
    if not value.isdigit() or not 1 <= int(value) <= MAX_WEBHOOK_WORKERS:
        fail(
            f"HEARTH_WEBHOOK_WORKERS={value!r} is not a number from 1 to {MAX_WEBHOOK_WORKERS}; "
            "it is how many webhook gateway processes share its port"
        )
    return int(value)


def exit_now() -> None:
    """Leave the moment "stopped" is printed. Everything this run started is stopped and
    reaped by then; what remains is the interpreter tearing down the modules of six
    services' worth of imports, which takes a noticeable moment after the last line."""
    import logging
    import sys

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
