"""``hearth up`` as a process in tests: started like a person starts it, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from hearth.embedded.process import port_in_use

HEARTH = [sys.executable, "-m", "hearth.cli"]


def api_get(base: str, path: str, token: str) -> Any:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def api_post(base: str, path: str, token: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def api_until(
    base: str, path: str, token: str, holds: Callable[[Any], bool], timeout: float = 30
) -> Any:
    """The API's answer once ``holds`` is true of it: the read side follows the event stream,
    so what a command just changed shows there a moment later, not in the same instant."""
    deadline = time.monotonic() + timeout
    while True:
        answer = api_get(base, path, token)
        if holds(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def clean_env(data_dir: Path | None) -> dict[str, str]:
    """This machine's environment without HEARTH_* settings, plus the data dir if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    if data_dir is not None:
        env["HEARTH_DATA_DIR"] = str(data_dir)
    return env


def hearth(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HEARTH, *args],
        input=input,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def free_ports(nats_block: int = 1) -> dict[str, int]:
    """Free ports for NATS and PostgreSQL, and an offset whose service ports are all free
    (a second instance's too). ``nats_block``: consecutive free ports from ``nats`` on
    (``hearth up --cluster 3`` takes six: three for clients, three for routes)."""
    from hearth.stack.services import instances

    rng = random.Random()
    for _ in range(100):
        # Below the kernel's ephemeral range (32768+), so no outgoing connection can take
        # one of these ports between this check and the services binding them.
        offset = rng.randint(10000, 22000)
        demo = (8123 + offset, 2222 + offset)
        if not any(port_in_use("127.0.0.1", i.port + offset) for i in instances(2)) and not any(
            port_in_use("127.0.0.1", port) for port in demo
        ):
            # NATS and PostgreSQL below the ephemeral range too: an ephemeral port found
            # free here was taken by an outgoing connection before `hearth up` bound it.
            nats = free_block(nats_block, rng)
            postgres = free_block(1, rng)
            while nats <= postgres < nats + nats_block:
                postgres = free_block(1, rng)
            return {"nats": nats, "postgres": postgres, "offset": offset}
    raise AssertionError("no free range of service ports found")


def free_block(size: int, rng: random.Random) -> int:
    """The first of ``size`` consecutive free ports, between the services' ranges and the
    kernel's ephemeral ports."""
    for _ in range(100):
        first = rng.randint(24000, 32000 - size)
        if not any(port_in_use("127.0.0.1", first + n) for n in range(size)):
            return first
    raise AssertionError(f"no {size} consecutive free ports found")


def port_args(ports: dict[str, int]) -> list[str]:
    return [
        "--nats-port",
        str(ports["nats"]),
        "--postgres-port",
        str(ports["postgres"]),
        "--port-offset",
        str(ports["offset"]),
    ]


class Up:
    """One ``hearth up`` in its own session, as a terminal runs it (Ctrl-C hits the group)."""

    def __init__(
        self,
        data_dir: Path | None,
        ports: dict[str, int] | None,
        *,
        command: list[str] | None = None,
        args: tuple[str, ...] = (),
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.ports = ports
        self.env = clean_env(data_dir)
        self.marker = str(data_dir if data_dir is not None else (cwd or Path.cwd()))
        self.started: dict[int, str] = {}
        self.env.update(env or {})
        log_dir = data_dir.parent if data_dir is not None else (cwd or Path.cwd())
        self.log = (log_dir / f"up-{time.monotonic_ns()}.log").open("wb")
        full = command or [*HEARTH, "up", *(port_args(ports) if ports else [])]
        self.process = subprocess.Popen(
            [*full, *args],
            env=self.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Another hearth command beside this one, on the same data dir."""
        return hearth(self.env, *args, input=input)

    def status(self) -> tuple[int, dict[str, Any]]:
        result = self.run("status", "--json")
        try:
            return result.returncode, json.loads(result.stdout)
        except ValueError:
            return result.returncode, {}

    def wait_healthy(self, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            code, report = self.status()
            if code == 0 and report.get("healthy"):
                return report
            time.sleep(0.5)
        raise AssertionError(f"not healthy: {self.status()}\n{self.output()}")

    def wait_output(self, pattern: str, timeout: float = 180) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.output(full=True))):
            assert self.process.poll() is None, f"exited: {self.output()}"
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.output()}"
            time.sleep(0.3)
        return found

    def output(self, *, full: bool = False) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return text if full else text[-4000:]

    def family(self) -> list[psutil.Process]:
        """Every process this run started: its own children and the detached servers."""
        return list(psutil.Process(self.process.pid).children(recursive=True))

    def ctrl_c(self, timeout: float = 90) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group.

        First it notes every process of this run (its descendants, and the daemons that name
        its folder), so ``survivors`` can tell afterwards which of them still exist."""
        return self._signal_group(signal.SIGINT, timeout)

    def hang_up(self, timeout: float = 90) -> int:
        """The terminal closed: SIGHUP to the whole foreground process group."""
        return self._signal_group(signal.SIGHUP, timeout)

    def _signal_group(self, sig: signal.Signals, timeout: float) -> int:
        self.started = {p.pid: _cmdline(p) for p in self.family()}
        self.started.update(running_with(self.marker))
        os.killpg(self.process.pid, sig)
        return self.process.wait(timeout)

    def survivors(self) -> list[str]:
        """The processes noted at Ctrl-C that still exist in any state, zombies included: a
        zombie left to PID 1 is a process left behind where init reaps slowly."""
        found = []
        for pid, cmdline in self.started.items():
            try:
                state = psutil.Process(pid).status()
            except psutil.NoSuchProcess:
                continue
            found.append(f"{pid} ({state}): {cmdline}")
        return found


def _cmdline(process: psutil.Process) -> str:
    """A process's command line; a zombie (a child killed a moment ago, not yet reaped by
    its parent) has none left, so its name stands in."""
    try:
        return " ".join(process.cmdline())
    except psutil.ZombieProcess:
        return f"{process.name()} (zombie)"
    except psutil.NoSuchProcess:
        return "(exited)"


def running_with(marker: str) -> dict[int, str]:
    """Live processes that mention ``marker`` (a data dir, a clone) in their command line or
    environment: the servers name their folders in arguments, the services in HEARTH_*."""
    found = {}
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        if p.info["pid"] == os.getpid() or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            environ = " ".join(p.environ().values())
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            environ = ""
        cmdline = " ".join(p.info["cmdline"] or [])
        if marker in cmdline or marker in environ:
            found[p.info["pid"]] = cmdline
    return found


def leftovers(marker: str) -> list[str]:
    """``running_with(marker)`` as lines, for an assertion's message."""
    return [f"{pid}: {cmdline}" for pid, cmdline in running_with(marker).items()]
