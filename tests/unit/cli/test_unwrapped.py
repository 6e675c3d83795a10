"""Output that is not a terminal is never wrapped: a script or a copy gets whole lines."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.cli.stackfake import fake_stack

CHECKS = {f"a-rather-long-dependency-name-{n}": True for n in range(4)}


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    with fake_stack(tmp_path, lambda path, headers: (200, {"ready": True, "checks": CHECKS})):
        yield tmp_path


def test_a_piped_status_table_keeps_each_row_on_one_line(stack_dir: Path) -> None:
    env = {**os.environ, "HEARTH_DATA_DIR": str(stack_dir)}
    env.pop("COLUMNS", None)
    done = subprocess.run(
        [sys.executable, "-m", "hearth.cli", "status"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    details = ", ".join(f"{name} ok" for name in CHECKS)
    assert len(details) > 80
    (row,) = [line for line in done.stdout.splitlines() if "query-api" in line]
    assert details in row


def test_the_printed_nats_command_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hearth.cli.output import console
    from hearth.stack.layout import DataDir
    from hearth.stack.report import ConsoleReport
    from hearth.stack.up import Stack, UpOptions

    layout = DataDir(tmp_path / ("a-long-folder-name-" * 4) / ".hearth")
    services = {
        name: {"url": f"http://127.0.0.1:{8080 + n}"}
        for n, name in enumerate(("query-api", "webhook-gw"))
    }
    state = {"nats_url": "nats://127.0.0.1:4223", "services": services}
    stack = Stack(UpOptions(data_dir=layout.root), layout, "", "")
    ConsoleReport(console.get()).summary(state, dict.fromkeys(services, True), stack)
    command = f"nats --context {layout.inspector_context} stream ls"
    assert len(command) > 80
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "inspect with" in x]
    assert line.endswith(command)
