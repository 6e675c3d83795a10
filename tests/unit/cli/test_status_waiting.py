"""``hearth status`` names the targets that wait for a secret, and the command that ends it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TOKEN = "hth_status-test"
TARGETS = [
    {"name": "ha", "waiting_for": ["ha-ssh-key"], "removed": False},
    {"name": "nginx", "waiting_for": [], "removed": False},
    {"name": "old", "waiting_for": ["gone"], "removed": True},
]


class Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/readyz":
            self.reply(200, {"ready": True, "checks": {"nats": True}})
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.reply(401, {"error": "unauthorized"})
        else:
            self.reply(200, {"items": TARGETS})

    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    state = {"nats_url": "nats://127.0.0.1:9", "services": {"query-api": {"url": url}}}
    (tmp_path / "stack.json").write_text(json.dumps(state))
    yield tmp_path
    server.shutdown()
    server.server_close()


def status(stack_dir: Path, *args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(HEARTH_DATA_DIR=str(stack_dir), XDG_CONFIG_HOME=str(stack_dir / "config"))
    if token:
        env["HEARTH_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "hearth.cli", "status", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_status_names_the_targets_waiting_for_a_secret(stack_dir: Path) -> None:
    shown = status(stack_dir, token=TOKEN)
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if "waits for" in line]
    assert lines == [
        "target ha waits for secret ha-ssh-key: store it with `hearth secret set ha-ssh-key`"
    ]
    as_json = json.loads(status(stack_dir, "--json", token=TOKEN).stdout)
    assert as_json["waiting"] == {"ha": ["ha-ssh-key"]}


def test_status_without_a_token_shows_the_services_only(stack_dir: Path) -> None:
    shown = status(stack_dir, token=None)
    assert shown.returncode == 0, shown.stderr
    assert "waits for" not in shown.stdout
    assert "waiting" not in json.loads(status(stack_dir, "--json", token=None).stdout)
