"""``uv run python -m bench``: run every benchmark and print one table."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.table import Table

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


if __name__ == "__main__":
    main()
