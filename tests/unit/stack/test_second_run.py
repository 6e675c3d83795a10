"""A second `hearth up` on a data dir that one is running from is told where the first is,
instead of only that a port is taken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.stack.layout import DataDir
from hearth.stack.up import StackError, UpOptions, preflight, running_state


def _running(root: Path, pid: int) -> None:
    layout = DataDir(root)
    layout.root.mkdir(parents=True)
    layout.write_state({"pid": pid, "services": {"query-api": {"url": "http://127.0.0.1:8080"}}})


def test_a_second_hearth_up_names_the_running_one(tmp_path: Path) -> None:
    root = tmp_path / ".hearth"
    _running(root, os.getpid())  # alive: this very process stands for the first run
    with pytest.raises(StackError) as refused:
        preflight(UpOptions(data_dir=root))
    assert str(refused.value) == (
        f"Hearth is already running from {root} (hearth up, pid {os.getpid()}, dashboard "
        f"http://127.0.0.1:8080); stop it with Ctrl-C in its terminal (or `kill -INT "
        f"{os.getpid()}`) first, or start another with its own HEARTH_DATA_DIR and ports"
    )
    assert DataDir(root).read_state() is not None  # the running one's record is kept


def test_the_record_of_a_run_that_died_is_no_refusal(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    root = tmp_path / ".hearth"
    _running(root, int(ended.stdout))
    assert running_state(DataDir(root)) is None  # that hearth up is gone: no refusal
