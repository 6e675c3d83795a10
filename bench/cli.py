"""How long ``hearth`` takes to answer, beside ``python -c pass`` in the same run.

``hearth status`` is timed against nothing running (no ``stack.json``) and against a stack
whose six services answer ``/readyz`` (small local HTTP servers standing in for them: this
measures the CLI, not the services).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SERVICES = ("webhook-gw", "deployer", "device-manager", "provisioner", "notifier", "query-api")
HEARTH = [sys.executable, "-m", "hearth.cli"]


@dataclass(frozen=True)
class CliTiming:
    what: str
    p50_ms: float
    p95_ms: float


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"ready": True, "checks": {"nats": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def ready_stack(root: Path) -> Iterator[None]:
    """A ``stack.json`` whose services all answer ready."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Ready) for _ in SERVICES]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    services = {
        name: {"url": f"http://127.0.0.1:{server.server_address[1]}"}
        for name, server in zip(SERVICES, servers, strict=True)
    }
    state = {"nats_url": "nats://127.0.0.1:9", "embedded_nats": True, "services": services}
    (root / "stack.json").write_text(json.dumps(state))
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def time_command(argv: list[str], env: dict[str, str], repeats: int) -> tuple[float, float]:
    """p50 and p95 wall time in ms of running ``argv`` to its end."""
    took = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        took.append((time.perf_counter() - start) * 1000)
    p95 = statistics.quantiles(took, n=20)[18] if len(took) > 1 else took[0]
    return statistics.median(took), p95


def run_cli(repeats: int = 10) -> list[CliTiming]:
    rows = []
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as running:
        env = {**os.environ, "HEARTH_DATA_DIR": empty}
        cases = [
            ("baseline: python -c pass", [sys.executable, "-c", "pass"]),
            ("hearth --help", [*HEARTH, "--help"]),
            ("hearth status (nothing running)", [*HEARTH, "status"]),
        ]
        for what, argv in cases:
            rows.append(CliTiming(what, *time_command(argv, env, repeats)))
        with ready_stack(Path(running)):
            env = {**env, "HEARTH_DATA_DIR": running}
            argv = [*HEARTH, "status"]
            timing = time_command(argv, env, repeats)
            rows.append(CliTiming("hearth status (6 services ready)", *timing))
    return rows
