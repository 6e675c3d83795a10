"""hearth up adopts the daemons it starts and reaps every child before it exits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import os, subprocess, time
    from hearth.stack.reaper import adopt_orphans, reap_children

    assert adopt_orphans()
    # A daemon as pg_ctl makes one: its parent exits at once, it lives on for a moment.
    subprocess.run(["sh", "-c", "sleep 0.5 & echo $!"], check=True, stdout=open("pid", "w"))
    daemon = int(open("pid").read())
    assert open(f"/proc/{daemon}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())
    stubborn = subprocess.Popen(["sleep", "60"]).pid
    killed = reap_children(timeout=1.5)
    print("killed", killed == [stubborn])
    print("daemon reaped", not os.path.exists(f"/proc/{daemon}"))
    print("stubborn reaped", not os.path.exists(f"/proc/{stubborn}"))
    """
)


def test_daemons_are_adopted_and_every_child_is_reaped(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == [
        "killed True",
        "daemon reaped True",
        "stubborn reaped True",
    ]


ESCAPED = textwrap.dedent(
    """
    import os, subprocess
    from hearth.stack.reaper import kill_tagged, tag_this_run

    tag = tag_this_run()  # no subreaper here: the daemon below leaves this process tree
    daemonize = "sleep 60 >/dev/null 2>&1 & echo $!"
    out = subprocess.run(["sh", "-c", daemonize], check=True, capture_output=True)
    daemon = int(out.stdout)
    parent = open(f"/proc/{daemon}/stat").read().rsplit(")", 1)[1].split()[1]
    print("escaped", parent != str(os.getpid()))
    print("killed", kill_tagged(tag) == [(daemon, "sleep 60")])
    print("others left alone", kill_tagged("another-run") == [])
    """
)


def test_a_process_that_left_the_run_is_found_by_its_tag_and_killed(tmp_path: Path) -> None:
    """Whatever this run started carries its tag, so the stop finds it even where the
    subreaper does not (a user trial's Ctrl-C left a process behind)."""
    done = subprocess.run(
        [sys.executable, "-c", ESCAPED], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["escaped True", "killed True", "others left alone True"]
