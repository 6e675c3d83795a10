"""``uv run python -m bench``: run every benchmark and print one table."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.table import Table

from bench.deploy import run_deploy
from bench.ingest import run_ingest
from bench.relay import run_relay


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rows = asyncio.run(run_relay(requests)) + asyncio.run(run_ingest(requests))
    table = Table(title=f"Hearth benchmarks ({requests} messages each)")
    for column in ("benchmark", "what", "msgs/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for row in rows:
        latency = (f"{row.p50_ms:.2f}", f"{row.p99_ms:.2f}") if row.p99_ms else ("-", "-")
        table.add_row(row.benchmark, row.what, f"{row.rate:,.0f}", *latency)
    Console().print(table)
    deploy = Table(title="Deployments over real sshd (seconds, lower is better)")
    for column in ("benchmark", "what", "seconds"):
        deploy.add_column(column, justify="left" if column == "what" else "right")
    for timing in asyncio.run(run_deploy()):
        deploy.add_row(timing.benchmark, timing.what, f"{timing.seconds:.2f}")
    Console().print(deploy)


if __name__ == "__main__":
    main()
