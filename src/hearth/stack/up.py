"""``hearth up``: check, start the servers, declare the bus, run and supervise services."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import nats
import psycopg

from hearth.embedded.nats import EmbeddedNats, NatsUser
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import EmbeddedServerError, port_in_use, port_is_open
from hearth.stack.cluster import (
    declare_replicated,
    layout_problem,
    node_ports,
    replicas_for,
    start_cluster,
)
from hearth.stack.layout import DataDir, nats_servers, write_private
from hearth.stack.services import (
    WORKER_SERVICE,
    Instance,
    ServiceDef,
    Supervised,
    Supervisor,
    instances,
)
from hearth_events.permissions import all_users
from hearth_servicekit.database import describe_connect_error
from hearth_servicekit.secrets import scope_key

if TYPE_CHECKING:
    from hearth.config import HearthConfig

DATABASE = "hearth"
T = TypeVar("T")


class StackError(Exception):
    """A problem a person must fix before Hearth can start; the message says how."""


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    nats_url: str | None = None
    database_url: str | None = None
    nats_port: int = 4223
    postgres_port: int = 5433
    port_offset: int = 0
    host: str = "127.0.0.1"
    #: NATS servers to run: 1, or 3 to 5 for a cluster (then two instances of each service).
    cluster: int = 1
    #: Webhook gateway processes per instance, sharing its port (HEARTH_WEBHOOK_WORKERS).
    webhook_workers: int = 1

    @property
    def copies(self) -> int:
        """How many instances of each service run."""
        return 2 if self.cluster > 1 else 1


@dataclass
class Stack:
    options: UpOptions
    layout: DataDir
    nats_url: str
    database_url: str
    nats: EmbeddedNats | None = None  # the embedded server (a cluster's first node)
    cluster_nodes: list[EmbeddedNats] = field(default_factory=list)
    postgres: EmbeddedPostgres | None = None
    supervisor: Supervisor | None = None
    other_pids: dict[str, int] = field(default_factory=dict)  # the demo's processes
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)  # the demo's, by service

    def service_port(self, base: int) -> int:
        return base + self.options.port_offset


def clean_up_after_a_crash(options: UpOptions) -> None:
    """Stop the NATS and PostgreSQL a killed ``hearth up`` left running on this data dir."""
    layout = DataDir(options.data_dir.resolve())
    state = layout.read_state()
    if state is None or alive(state.get("pid")):
        return
    nats_pids = [p for p in state.get("nats_pids") or [state.get("nats_pid")] if alive(p)]
    for nats_pid in nats_pids:
        os.kill(nats_pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in nats_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    if state.get("embedded_postgres"):
        EmbeddedPostgres(layout.postgres_dir, port=options.postgres_port).stop()
    for pid in state.get("pids", {}).values():
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for pid in state.get("other_pids", {}).values():
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    layout.state_file.unlink(missing_ok=True)


def running_state(layout: DataDir) -> dict[str, Any] | None:
    """The state of a ``hearth up`` that is alive on this data dir, else None."""
    state = layout.read_state()
    if state is None or not alive(state.get("pid")):
        return None
    return state


def _refuse_a_second_run(layout: DataDir) -> None:
    """One ``hearth up`` per data dir: a second is told where the first is (its ports
    would only say that something already listens)."""
    state = running_state(layout)
    if state is None:
        return
    api = (state.get("services") or {}).get("query-api", {}).get("url", "?")
    raise StackError(
        f"Hearth is already running from {layout.root} (hearth up, pid {state['pid']}, "
        f"dashboard {api}); stop it with Ctrl-C in its terminal (or `kill -INT "
        f"{state['pid']}`) first, or start another with its own HEARTH_DATA_DIR and ports"
    )


def alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists (zombies included)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def preflight(options: UpOptions) -> None:
    clean_up_after_a_crash(options)
    _refuse_a_second_run(DataDir(options.data_dir.resolve()))
    if options.cluster > 1 and options.nats_url:
        raise StackError(
            "--cluster starts its own NATS servers, but HEARTH_NATS_URL points at one; "
            "unset HEARTH_NATS_URL, or leave out --cluster"
        )
    problem = layout_problem(DataDir(options.data_dir.resolve()).nats_dir, options.cluster)
    if problem and not options.nats_url:
        raise StackError(problem)
    taken = [(name, port) for name, port in _ports(options) if port_in_use(options.host, port)]
    if taken:
        name, port = taken[0]
        raise StackError(
            f"port {options.host}:{port} for {name} is already taken; stop what "
            f"uses it (`ss -ltnp 'sport = :{port}'`), or is Hearth already up?"
        )
    if options.nats_url:
        parts = urlsplit(options.nats_url.split(",")[0])
        if not port_is_open(parts.hostname or "127.0.0.1", parts.port or 4222, timeout=3):
            raise StackError(
                f"NATS at {options.nats_url} is not reachable; start it, or unset "
                "HEARTH_NATS_URL to run the embedded one"
            )
    if options.database_url:
        try:
            with psycopg.connect(options.database_url, connect_timeout=5):
                pass
        except psycopg.Error as exc:
            raise StackError(describe_connect_error(exc)) from None


def _ports(options: UpOptions) -> list[tuple[str, int]]:
    ports = [(i.name, i.port + options.port_offset) for i in instances(options.copies)]
    if not options.nats_url:
        clients, routes = node_ports(options.nats_port, options.cluster)
        ports += [("NATS", port) for port in clients]
        ports += [("NATS cluster routes", port) for port in routes if options.cluster > 1]
    if not options.database_url:
        ports.append(("PostgreSQL", options.postgres_port))
    return ports


def start_servers(options: UpOptions) -> Stack:
    layout = DataDir(options.data_dir.resolve())
    passwords = layout.bus_passwords()
    nats_url = options.nats_url or f"nats://{options.host}:{options.nats_port}"
    stack = Stack(options, layout, nats_url, options.database_url or "")
    try:
        if options.cluster > 1:
            _start_nats_cluster(stack, passwords)
        elif not options.nats_url:
            stack.nats = EmbeddedNats(
                layout.nats_dir,
                port=options.nats_port,
                host=options.host,
                users=_nats_users(passwords),
            )
            stack.nats.start()
        if not options.database_url:
            stack.postgres = EmbeddedPostgres(
                layout.postgres_dir, port=options.postgres_port, host=options.host
            )
            stack.postgres.start()
            _create_database(stack.postgres.dsn(), DATABASE)
            stack.database_url = stack.postgres.dsn(DATABASE)
    except EmbeddedServerError as exc:
        stop_servers(stack)
        raise StackError(str(exc)) from None
    asyncio.run(_declare_bus(stack, passwords))
    _write_inspector_context(stack, passwords)
    return stack


def _nats_users(passwords: dict[str, str]) -> list[NatsUser]:
    return [
        NatsUser(
            u.name,
            passwords[u.name],
            u.publish_allow,
            u.subscribe_allow,
            u.publish_deny,
            u.allow_responses,
        )
        for u in all_users()
    ]


def _start_nats_cluster(stack: Stack, passwords: dict[str, str]) -> None:
    options = stack.options
    stack.cluster_nodes = start_cluster(
        stack.layout.nats_dir,
        options.nats_port,
        options.cluster,
        options.host,
        _nats_users(passwords),
        route_password=stack.layout.route_password(),
    )
    stack.nats = stack.cluster_nodes[0]
    stack.nats_url = ",".join(node.url for node in stack.cluster_nodes)


def _create_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def _bus_credentials(stack: Stack, passwords: dict[str, str], user: str) -> dict[str, Any]:
    return {"user": user, "password": passwords[user]} if stack.nats else {}


async def _declare_bus(stack: Stack, passwords: dict[str, str]) -> None:
    replicas = replicas_for(stack.options.cluster)
    await _as_admin(stack, passwords, lambda js: declare_replicated(js, replicas))


def migrate_secrets(stack: Stack, config: HearthConfig | None) -> list[str]:
    """Move secrets stored before scopes into their scopes (see ``hearth.stack.secrets``)."""
    from hearth.stack.secrets import migrate_unscoped

    key = stack.layout.secret_key()
    return asyncio.run(
        _as_admin(stack, stack.layout.bus_passwords(), lambda js: migrate_unscoped(js, key, config))
    )


async def _as_admin(
    stack: Stack, passwords: dict[str, str], action: Callable[[Any], Awaitable[T]]
) -> T:
    try:
        nc = await nats.connect(
            nats_servers(stack.nats_url),
            connect_timeout=5,
            max_reconnect_attempts=2,
            inbox_prefix="_INBOX_admin",
            **_bus_credentials(stack, passwords, "admin"),
        )
    except Exception as exc:
        raise StackError(f"cannot connect to NATS at {stack.nats_url}: {exc}") from None
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


def _write_inspector_context(stack: Stack, passwords: dict[str, str]) -> None:
    context: dict[str, Any] = {"url": stack.nats_url, "description": "Hearth, read-only"}
    if stack.nats:
        context.update(user="inspector", password=passwords["inspector"])
    # The inspector may receive replies only on its own inbox prefix, never `_INBOX.>`.
    context["inbox_prefix"] = "_INBOX_inspector"
    write_private(stack.layout.inspector_context, json.dumps(context, indent=2))


def service_env(
    stack: Stack, passwords: dict[str, str], service: ServiceDef, number: int = 1, worker: int = 1
) -> dict[str, str]:
    """The environment of instance ``number`` (its worker ``worker``) of ``service``: its
    own port, data dir and instance name (leases and event sources tell them apart by it)."""
    instance = Instance(service, number, worker)
    name, port = service.name, stack.service_port(instance.port)
    env = {
        "HEARTH_NATS_URL": stack.nats_url,
        "HEARTH_HTTP_HOST": stack.options.host,
        "HEARTH_HTTP_PORT": str(port),
        "HEARTH_DATA_DIR": str(stack.layout.root / "services" / instance.name),
        "HEARTH_INSTANCE": f"{instance.name}-embedded",
        "HEARTH_LOG_FORMAT": "json",
        "HEARTH_PUBLIC_URL": f"http://{stack.options.host}:{stack.service_port(8080)}",
    }
    if stack.nats:
        env.update(HEARTH_NATS_USER=name, HEARTH_NATS_PASSWORD=passwords[name])
    if service.name == WORKER_SERVICE:  # every worker listens on the instance's one port
        env["HEARTH_WEBHOOK_WORKERS"] = str(stack.options.webhook_workers)
        env["HEARTH_WEBHOOK_WORKER"] = str(worker)
    if service.uses_database:
        env["HEARTH_DATABASE_URL"] = stack.database_url
    if service.uses_secrets:  # its own scope's key only; the installation key stays here
        env["HEARTH_SCOPE_KEY"] = scope_key(stack.layout.secret_key(), name)
    env.update(stack.extra_env.get(name, {}))
    return env


def start_services(stack: Stack) -> Supervisor:
    passwords = stack.layout.bus_passwords()
    supervisor = Supervisor(
        [
            Supervised(
                i.definition,
                service_env(stack, passwords, i.definition, i.number, i.worker),
                stack.layout.logs_dir / f"{i.name}.log",
                label=i.name,
            )
            for i in instances(stack.options.copies, stack.options.webhook_workers)
        ]
    )
    supervisor.start_all()
    stack.supervisor = supervisor
    return supervisor


def record_state(stack: Stack, pid: int) -> dict[str, Any]:
    state = {
        "pid": pid,
        "nats_url": stack.nats_url,
        "embedded_nats": stack.nats is not None,
        "nats_pid": stack.nats.pid if stack.nats else None,
        "nats_pids": [node.pid for node in stack.cluster_nodes],
        "embedded_postgres": stack.postgres is not None,
        "database": _without_credentials(stack.database_url),
        "services": {
            i.name: {
                "port": stack.service_port(i.port),
                "url": f"http://{stack.options.host}:{stack.service_port(i.port)}",
            }
            for i in instances(stack.options.copies)  # workers share their first's port
        },
        "pids": stack.supervisor.pids() if stack.supervisor else {},
        "other_pids": stack.other_pids,
        "inspector_context": str(stack.layout.inspector_context),
    }
    stack.layout.write_state(state)
    return state


def _without_credentials(url: str) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")
    return parts._replace(netloc=host).geturl()


def stop_servers(stack: Stack) -> None:
    if stack.supervisor is not None:
        stack.supervisor.stop_all()
    if stack.postgres is not None:
        stack.postgres.stop()
    for node in stack.cluster_nodes or ([stack.nats] if stack.nats else []):
        node.stop()
    if stack.layout.state_file.exists():
        stack.layout.state_file.unlink()
