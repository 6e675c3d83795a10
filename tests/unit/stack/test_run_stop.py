"""A step that breaks after Ctrl-C is a stop, said in one line; without Ctrl-C it is an
error. Run in a child process, since ``run_up`` installs its own signal handlers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import contextlib, os, signal, subprocess, sys
    import hearth.stack.run as run

    class Report:
        def step(self, text): return contextlib.nullcontext()
        def say(self, text): print("said:", text, flush=True)

    def start(running, *args):
        if sys.argv[1] == "ctrl-c":
            os.kill(os.getpid(), signal.SIGINT)  # the handler only sets the stop event
        raise subprocess.CalledProcessError(-2, ["git", "commit"])

    run.preflight = lambda options: None
    run.start_servers = lambda options: object()
    run.record_state = lambda stack, pid: {}
    run.migrate_secrets = lambda stack, config: []
    run.stop_servers = lambda stack: print("servers stopped", flush=True)
    run.reap_children = lambda: []
    run._start = start
    choice = type("Choice", (), {"why": "why"})()
    try:
        run.run_up(None, choice, None, Report())
    except subprocess.CalledProcessError as exc:
        print("raised", exc.cmd)
    """
)


def run_script(tmp_path: Path, case: str) -> str:
    (tmp_path / "script.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "script.py", case],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_step_broken_after_ctrl_c_is_a_stop_in_one_line(tmp_path: Path) -> None:
    output = run_script(tmp_path, "ctrl-c")
    assert "said: stopped while starting (CalledProcessError: Command '['git', 'commit']'" in output
    assert "servers stopped" in output and "said: stopped in" in output
    assert "raised" not in output


def test_a_step_broken_without_a_stop_is_an_error(tmp_path: Path) -> None:
    output = run_script(tmp_path, "fail")
    assert "stopped while starting" not in output
    assert "servers stopped" in output and "raised ['git', 'commit']" in output
