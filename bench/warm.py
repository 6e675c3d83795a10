"""Service processes forked from one that has imported the service already.

Importing a service costs seconds of the 2 cores, and a fault trial starts two processes
(the one armed to die, the one that recovers). A ``ForkServer`` imports the service once,
then forks a child per ``start(env)``: the child takes the environment (the fault to arm,
the marker file), sends its output to the log, and runs the service's ``main()`` — a real
process, with its own pid, killed for real. The fork server stays single-threaded (it
polls), so a child never inherits a lock some thread held.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from hearth.embedded.process import free_port

SERVER = r"""
import importlib, json, os, select, sys
entry = importlib.import_module(sys.argv[1] + ".__main__")
log = sys.argv[2]
out = sys.stdout
print("ready", flush=True)
ticks = 0
while True:
    readable, _, _ = select.select([sys.stdin], [], [], 0.05)
    ticks += 1
    if ticks % 10 == 0:
        print("tick", flush=True)  # a reader waiting for an exit may look at its clock
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        print("exit", pid, os.waitstatus_to_exitcode(status), flush=True)
    if not readable:
        continue
    line = sys.stdin.readline()
    if not line:
        break
    env = json.loads(line)
    out.flush()
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.environ.update(env)
        entry.main()
        os._exit(0)
    print("pid", pid, flush=True)
"""


class ForkServer:
    """Forks processes of ``module`` on demand; remembers how each one exited."""

    def __init__(self, module: str, base_env: dict[str, str], log: Path) -> None:
        self.exits: dict[int, int] = {}
        self.started: set[int] = set()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, module, str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **base_env},
            text=True,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"the fork server exited ({self.process.poll()})")
        return line

    def _next(self) -> list[str]:
        words = self._line().split()
        if words[0] == "exit":
            self.exits[int(words[1])] = int(words[2])
        return words

    def _until(self, kind: str) -> list[str]:
        while (words := self._next())[0] != kind:
            pass
        return words

    def start(self, env: dict[str, str]) -> Child:
        assert self.process.stdin is not None
        full = {"HEARTH_HTTP_PORT": str(free_port()), **env}  # never a service's default
        self.process.stdin.write(json.dumps(full) + "\n")
        self.process.stdin.flush()
        pid = int(self._until("pid")[1])
        self.exits.pop(pid, None)  # an earlier child's, whose pid the system gave out again
        self.started.add(pid)
        return Child(self, pid, int(full["HEARTH_HTTP_PORT"]))

    def close(self) -> None:
        """Kill the children still running (a trial cut short), then the server."""
        for pid in self.started - set(self.exits):
            if _parent(pid) == self.process.pid:  # still ours, not a pid given out again
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(30)


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


class Child:
    def __init__(self, server: ForkServer, pid: int, port: int) -> None:
        self.server = server
        self.pid = pid
        self.port = port

    def ready(self) -> bool:
        """Whether ``/readyz`` answers 200 (its streams, consumers and handlers are up)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def wait(self, timeout: float) -> int | None:
        """The exit code (negative: the signal), or None if still running at the timeout."""
        deadline = time.monotonic() + timeout
        while self.pid not in self.server.exits:
            if time.monotonic() >= deadline:
                return None
            self.server._next()  # an exit, or the server's tick
        return self.server.exits[self.pid]

    def alive(self) -> bool:
        return self.pid not in self.server.exits

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it does not go; its exit code."""
        if self.pid not in self.server.exits:
            os.kill(self.pid, signal.SIGTERM)
            code = self.wait(timeout)
            if code is None:
                os.kill(self.pid, signal.SIGKILL)
        code = self.wait(timeout)
        assert code is not None
        return code


def fork_server(module: str, work: Path, instance: str, **env: str) -> ForkServer:
    """A fork server for a bench's service, with the settings every bench shares."""
    from hearth_events.jetstream import SECRET_SCOPES
    from hearth_servicekit.faults import FAULT_ENV
    from hearth_servicekit.secrets import scope_key
    from tests.support.services import TEST_SECRET_KEY

    scopes = [s for s in SECRET_SCOPES if module == f"hearth_{s.replace('-', '_')}"]
    base = {
        "HEARTH_DATA_DIR": str(work / "data"),
        "HEARTH_INSTANCE": instance,
        **({"HEARTH_SCOPE_KEY": scope_key(TEST_SECRET_KEY, scopes[0])} if scopes else {}),
        "HEARTH_LOG_FORMAT": "json",
        FAULT_ENV: "",
        **env,
    }
    return ForkServer(module, base, work / f"{module}.log")
