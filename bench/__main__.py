"""``uv run python -m bench [N] [bus|ingest|deploy|big|read|scale|cli|devices ...]``: run
benchmarks, print tables.

N is the message count of the bus benchmarks (default 2000); naming parts runs only those.
``bus`` includes ``ingest`` (the webhook gateway; alone with ``ingest``).
``deploy`` includes ``big`` (a 700-file, 300 MB configuration); ``big`` runs it alone.
``scale``: one webhook gateway and query API beside two, on a 3-node NATS cluster.
``python -m bench faults [N]`` runs N kill -9 trials instead (default 20; see bench.faults).
``devices`` simulates ``HEARTH_BENCH_DEVICES`` Gen2 devices (default 5,000): connect, steady
state, a full drift scan and one field applied to 1,000, each beside aioshelly alone.
"""

from __future__ import annotations

import asyncio
import os
import sys

from rich.console import Console
from rich.table import Table

from bench.big import run_big
from bench.cli import run_cli
from bench.consumer import run_consume
from bench.deploy import Timing, run_deploy
from bench.devices import run_devices
from bench.faults import per_component, run_faults, summarize
from bench.ingest import Row, run_ingest
from bench.read_side import run_read_side
from bench.relay import run_relay
from bench.scale import run_scale

PARTS = ("bus", "ingest", "deploy", "big", "read", "scale", "cli", "devices")


def rate_table(title: str, rows: list[Row], unit: str = "msgs/s") -> Table:
    table = Table(title=title)
    for column in ("benchmark", "what", unit, "p50 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for row in rows:
        latency = (f"{row.p50_ms:.2f}", f"{row.p99_ms:.2f}") if row.p99_ms else ("-", "-")
        table.add_row(row.benchmark, row.what, f"{row.rate:,.0f}", *latency)
    return table


def timing_table(
    timings: list[Timing], title: str = "Deployments over real sshd (seconds, lower is better)"
) -> Table:
    table = Table(title=title)
    for column in ("benchmark", "what", "p50 s", "p95 s", "detail"):
        table.add_column(column, justify="left" if column in {"what", "detail"} else "right")
    for timing in timings:
        p95 = "-" if timing.p95_s is None else f"{timing.p95_s:.2f}"
        table.add_row(timing.benchmark, timing.what, f"{timing.p50_s:.2f}", p95, timing.detail)
    return table


def print_faults(trials: int) -> None:
    console = Console(width=max(Console().width, 150))  # whole point names, even in a pipe
    results = asyncio.run(
        run_faults(trials, progress=lambda t: print("." if t.hit else "m", end="", flush=True))
    )
    print()
    table = Table(title=f"kill -9 trials ({trials}): what a crash at each point left behind")
    table.add_column("component")
    table.add_column("point", min_width=36)
    columns = ("trials", "missed kill", "lost", "duplicated", "half-applied", "other failures")
    for column in columns:
        table.add_column(column, justify="right")
    for row in summarize(results):
        table.add_row(row[0], row[1], *(str(value) for value in row[2:]))
    console.print(table)
    timing = Table(title="Time per trial (seconds, this machine)")
    for column in ("component", "trials", "s per trial"):
        timing.add_column(column, justify="left" if column == "component" else "right")
    for component, count, mean in per_component(results):
        timing.add_row(component, str(count), f"{mean:.2f}")
    console.print(timing)
    for result in results:
        for line in result.other:
            console.print(f"{result.point}: {line}")


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "faults":
        print_faults(int(args[1]) if len(args) > 1 and args[1].isdigit() else 20)
        return
    requests = int(args.pop(0)) if args and args[0].isdigit() else 2000
    unknown = [a for a in args if a not in PARTS]
    if unknown:
        raise SystemExit(f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}")
    parts = args or list(PARTS)
    console = Console()
    if "bus" in parts:
        rows = asyncio.run(run_relay(requests)) + asyncio.run(run_consume(requests))
        rows += asyncio.run(run_ingest(requests))
        console.print(rate_table(f"The bus ({requests} messages each)", rows))
    elif "ingest" in parts:
        rows = asyncio.run(run_ingest(requests))
        console.print(rate_table(f"Webhook ingest ({requests} messages each)", rows))
    if "deploy" in parts:
        console.print(timing_table(asyncio.run(run_deploy())))
    if "deploy" in parts or "big" in parts:
        title = "A big configuration over real sshd (seconds, lower is better)"
        console.print(timing_table(asyncio.run(run_big()), title))
    if "read" in parts:
        rows = asyncio.run(run_read_side())
        title = "The read side (query API process; API rows: 32 clients, on the same 2 cores)"
        console.print(rate_table(title, rows, "per s"))
    if "scale" in parts:
        rows = asyncio.run(run_scale(requests))
        title = "One instance beside two, on a 3-node NATS cluster (32 clients, the same 2 cores)"
        console.print(rate_table(title, rows, "per s"))
    if "cli" in parts:
        cli = Table(title="The hearth command, start to exit (ms, lower is better; goal < 500)")
        for column in ("what", "p50 ms", "p95 ms"):
            cli.add_column(column, justify="left" if column == "what" else "right")
        for row in run_cli():
            cli.add_row(row.what, f"{row.p50_ms:.0f}", f"{row.p95_ms:.0f}")
        console.print(cli)
    if "devices" in parts:
        count = int(os.environ.get("HEARTH_BENCH_DEVICES", "5000"))
        fleet = Table(title=f"A fleet of {count:,} simulated Gen2 devices (device manager process)")
        for column in ("benchmark", "what", "value"):
            fleet.add_column(column, justify="right" if column == "value" else "left")
        for fleet_row in asyncio.run(run_devices(count)):
            fleet.add_row(fleet_row.benchmark, fleet_row.what, fleet_row.value)
        console.print(fleet)


if __name__ == "__main__":
    main()
