"""``hearth status`` names the targets that wait for a secret, and the command that ends it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.cli.stackfake import fake_stack

TOKEN = "hth_status-test"
TARGETS = [
    {"name": "ha", "waiting_for": ["ha-ssh-key"], "removed": False},
    {"name": "nginx", "waiting_for": [], "removed": False},
    {"name": "old", "waiting_for": ["gone"], "removed": True},
]


def answer(path: str, headers: dict[str, str]) -> tuple[int, object]:
    if path == "/readyz":
        return 200, {"ready": True, "checks": {"nats": True}}
    if headers.get("Authorization") != f"Bearer {TOKEN}":
        return 401, {"error": "unauthorized"}
    return 200, {"items": TARGETS}


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    with fake_stack(tmp_path, answer):
        yield tmp_path


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


def test_status_takes_a_token_with_a_pasted_line_end(stack_dir: Path) -> None:
    """As every API command does: a copied token's line end is not part of it."""
    shown = status(stack_dir, token=f"  {TOKEN}\n")
    assert shown.returncode == 0, shown.stderr
    assert "target ha waits for secret ha-ssh-key" in shown.stdout
    assert shown.stderr == ""


def test_status_says_in_one_line_why_a_malformed_token_shows_no_waiting_targets(
    stack_dir: Path,
) -> None:
    shown = status(stack_dir, token=f"{TOKEN}\nhth_another")
    assert shown.returncode == 0, shown.stderr
    assert "waits for" not in shown.stdout
    assert shown.stderr.splitlines() == [
        "note: HEARTH_API_TOKEN holds more than one token (a line break, a space or a "
        "control character); set it to the token alone, as `hearth token create` printed "
        "it; the targets waiting for a secret are not shown"
    ]
    assert "│ query-api │ ready │" in shown.stdout  # the services are shown all the same
