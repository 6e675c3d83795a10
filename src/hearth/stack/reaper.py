"""``hearth up`` adopts and reaps every process it starts, daemons included.

pg_ctl starts PostgreSQL as a daemon: its parent exits, so the postmaster would be re-parented
to PID 1 and, once stopped, linger as a zombie until init gets round to it (in a container
whose init reaps slowly, it is a process left behind). As a child subreaper (Linux), hearth
up becomes the parent of such orphans instead, and at the end it waits for every remaining
child and reaps it, so nothing it started outlives it, not even as a zombie.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """Become the subreaper of this process's descendants; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def reap_children(timeout: float = 10.0) -> list[int]:
    """Wait for every child of this process to exit and reap it; after ``timeout``, kill
    what is still running. Returns the pids that had to be killed."""
    deadline = time.monotonic() + timeout
    killed: list[int] = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return killed  # no children left at all
        if pid:
            continue  # reaped one; look again at once
        if time.monotonic() >= deadline:
            for child in _children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
                    killed.append(child)
            deadline = time.monotonic() + timeout
        time.sleep(0.05)


def _children() -> list[int]:
    me = os.getpid()
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:
                found.append(int(stat.parent.name))
    return found


#: Set in ``hearth up``'s environment, so every process it starts, and theirs, carries it.
RUN_TAG = "HEARTH_UP_RUN"


def tag_this_run() -> str:
    """Mark what this run starts from now on (the environment is inherited)."""
    tag = f"{os.getpid()}-{time.time_ns()}"
    os.environ[RUN_TAG] = tag
    return tag


def kill_tagged(tag: str) -> list[tuple[int, str]]:
    """Kill every process still carrying ``tag`` besides this one: started by this run
    but no longer its child (a process that left it some way the subreaper does not
    cover). Returns each one's pid and command line, so the stop can say what it was."""
    marker = f"{RUN_TAG}={tag}".encode()
    killed = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, command.strip()))
    return killed
