"""The six services as processes: how to start each (once, or twice on a cluster), and a
supervisor that restarts them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth_servicekit import get_logger

log = get_logger("hearth.stack")


@dataclass(frozen=True)
class ServiceDef:
    name: str
    module: str
    port: int
    uses_database: bool = False
    uses_secrets: bool = False


SERVICES = (
    ServiceDef("query-api", "hearth_query_api", 8080, uses_database=True),
    ServiceDef("webhook-gw", "hearth_webhook_gw", 8090, uses_secrets=True),
    ServiceDef("deployer", "hearth_deployer", 8181, uses_database=True, uses_secrets=True),
    ServiceDef(
        "device-manager", "hearth_device_manager", 8182, uses_database=True, uses_secrets=True
    ),
    ServiceDef("provisioner", "hearth_provisioner", 8183, uses_secrets=True),
    ServiceDef("notifier", "hearth_notifier", 8184, uses_secrets=True),
)

MAX_BACKOFF_S = 30.0

#: Where the second instance of a service listens on a cluster: its port plus this.
SECOND_INSTANCE_SHIFT = 100
#: Services that run once even on a cluster: the provisioner is the agent of one site.
SINGLE = frozenset({"provisioner"})


#: The one service that may run as several workers on one port (HEARTH_WEBHOOK_WORKERS).
WORKER_SERVICE = "webhook-gw"


@dataclass(frozen=True)
class Instance:
    """One process of a service: the first keeps the service's name and port, a second is
    ``<name>-2`` on the port plus :data:`SECOND_INSTANCE_SHIFT`. Worker ``k`` > 1 of an
    instance is ``<name>-w<k>`` on the instance's own port (SO_REUSEPORT)."""

    definition: ServiceDef
    number: int = 1
    worker: int = 1

    @property
    def name(self) -> str:
        name = self.definition.name if self.number == 1 else f"{self.definition.name}-{self.number}"
        return name if self.worker == 1 else f"{name}-w{self.worker}"

    @property
    def port(self) -> int:
        return self.definition.port + (self.number - 1) * SECOND_INSTANCE_SHIFT


def instances(copies: int = 1, workers: int = 1) -> list[Instance]:
    """Every service ``copies`` times (at most two), except those in :data:`SINGLE`; the
    webhook gateway as ``workers`` processes per instance."""
    return [
        Instance(s, n, w)
        for s in SERVICES
        for n in range(1, (1 if s.name in SINGLE else copies) + 1)
        for w in range(1, (workers if s.name == WORKER_SERVICE else 1) + 1)
    ]


def inherited_env() -> dict[str, str]:
    """Our environment minus the installation key: a service gets only its scope's key."""
    return {k: v for k, v in os.environ.items() if k != "HEARTH_SECRET_KEY"}


@dataclass
class Supervised:
    definition: ServiceDef
    env: dict[str, str]
    log_path: Path
    #: The instance's name (``deployer-2``); the service's own when empty.
    label: str = ""
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.definition.module],
                env={**inherited_env(), **self.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    @property
    def name(self) -> str:
        return self.label or self.definition.name


@dataclass
class Supervisor:
    services: list[Supervised] = field(default_factory=list)

    def start_all(self) -> None:
        for service in self.services:
            service.start()

    def check(self) -> list[str]:
        """Restart crashed services with backoff; returns what happened, for the console."""
        events = []
        now = time.monotonic()
        for service in self.services:
            process = service.process
            if process is None or process.poll() is None:
                continue
            if service.next_start == 0.0:
                # A service that ran a while before dying starts again at once.
                stable = now - service.started_at > 60
                service.restarts = 0 if stable else service.restarts + 1
                delay = 0.0 if stable else min(2.0**service.restarts, MAX_BACKOFF_S)
                service.next_start = now + delay
                events.append(
                    f"{service.name} exited with {process.returncode}; "
                    f"restarting in {delay:.0f}s (log: {service.log_path})"
                )
                log.warning(
                    "service exited",
                    service=service.name,
                    code=process.returncode,
                    restart_in_s=delay,
                )
            elif now >= service.next_start:
                service.next_start = 0.0
                service.start()
                events.append(f"{service.name} restarted")
        return events

    def stop_all(self, grace_s: float = 20.0) -> None:
        running = [s.process for s in self.services if s.process and s.process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()

    def pids(self) -> dict[str, int]:
        return {s.name: s.process.pid for s in self.services if s.process}


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
