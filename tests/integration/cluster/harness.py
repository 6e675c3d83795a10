"""Hearth on a 3-node NATS cluster with two processes of every service, for kill tests.

The parts are real: three routed nats-server processes (JetStream, replicas 3), one
PostgreSQL, OpenSSH sshd targets, a bare Git repository, and each service as its own
process started like ``hearth up --cluster 3`` starts it (its own instance name, data dir
and port; every server URL in ``HEARTH_NATS_URL``). Webhooks are signed GitHub pushes
POSTed to a gateway; a delivery the gateway did not accept (it died) is sent again to the
other one, as a person redelivers it from GitHub.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats
import nats.errors
import psycopg

from hearth.embedded.nats import EmbeddedNats
from hearth.stack.cluster import declare_replicated
from hearth_events import Envelope, new_event, parse_event
from hearth_events.catalogue import RepositoryRegistered, RepositorySpec
from hearth_events.jetstream import EVENTS_STREAM, LOCKS_BUCKET, unavailable
from hearth_events.publish import publish_event
from hearth_query_api.adapters.schema import READ_TABLES, SCHEMA
from tests.support.git import GitRemote
from tests.support.github import delivery_headers, encode, push_payload
from tests.support.ports import quiet_port
from tests.support.services import ServiceProcess, scoped_secrets

WEBHOOK_SECRET = "cluster-webhook-secret"
#: A lease lapses this long after its holder died (the bucket's TTL; 30 s in production).
LEASE_TTL_S = 10.0
#: Two processes of each; the provisioner is an agent of one site and runs once anyway.
PAIRED = ("deployer", "webhook-gw", "query-api", "notifier", "device-manager")


@dataclass
class Cluster:
    nodes: list[EmbeddedNats]
    database_url: str
    work: Path
    start_service: Callable[..., ServiceProcess]
    nc: Any = None
    js: Any = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    async def open(self) -> None:
        self.nc = await nats.connect(
            [node.url for node in self.nodes], max_reconnect_attempts=-1, reconnect_time_wait=0.2
        )
        self.js = self.nc.jetstream(timeout=10)
        await declare_replicated(self.js, 3)
        locks = await self.js.stream_info(f"KV_{LOCKS_BUCKET}")
        await self.js.update_stream(
            locks.config.evolve(max_age=LEASE_TTL_S, duplicate_window=LEASE_TTL_S)
        )

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()

    # -- services ---------------------------------------------------------------------
    def start(self, name: str, number: int, **extra: str) -> ServiceProcess:
        """Instance ``number`` of service ``name``, as ``hearth up --cluster`` starts it."""
        label = name if number == 1 else f"{name}-{number}"
        env = {
            "HEARTH_HTTP_PORT": str(quiet_port()),
            "HEARTH_NATS_URL": self.url,
            "HEARTH_INSTANCE": f"{label}-cluster",
            "HEARTH_DATA_DIR": str(self.work / "services" / label),
        }
        if name in ("deployer", "query-api", "device-manager"):
            env["HEARTH_DATABASE_URL"] = self.database_url
        env.update(extra)
        self.services[label] = self.start_service(name, **env)
        return self.services[label]

    def start_all(self) -> None:
        for name in PAIRED:
            for number in (1, 2):
                self.start(name, number)
        for service in self.services.values():
            service.wait_for("/readyz", 200, timeout=120)

    def kill(self, label: str) -> None:
        process = self.services[label].process
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    async def events_leader(self) -> EmbeddedNats:
        name = await self._leader()
        return next(node for node in self.nodes if node.server_name == name)

    async def _leader(self) -> str:
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(nats.errors.Error):
                    info = await self.js.stream_info(EVENTS_STREAM)
                    if info.cluster is not None and info.cluster.leader:
                        return str(info.cluster.leader)
                await asyncio.sleep(0.2)

    # -- configuration ----------------------------------------------------------------
    async def publish(self, data: Any) -> Envelope:
        envelope = new_event(data, source="test", actor="hearth apply")
        await publish_event(self.js, envelope)
        return envelope

    async def register(self, name: str, remote: GitRemote) -> None:
        spec = RepositorySpec(name=name, url=remote.url, webhook_secret="webhook")
        await self.publish(RepositoryRegistered(repo=name, spec=spec))

    async def secrets(self, ssh_key: str) -> None:
        await scoped_secrets(self.js, "deployer").put("ssh-key", ssh_key.encode())
        await scoped_secrets(self.js, "webhook-gw").put("webhook", WEBHOOK_SECRET.encode())

    async def command(self, subject: str, body: dict[str, Any], timeout: float = 60) -> Any:
        async with asyncio.timeout(timeout * 2):
            while True:
                with contextlib.suppress(nats.errors.NoRespondersError, nats.errors.TimeoutError):
                    reply = await self.nc.request(subject, json.dumps(body).encode(), timeout)
                    return json.loads(reply.data)
                await asyncio.sleep(0.3)

    # -- the stream -------------------------------------------------------------------
    async def events(self, timeout: float = 60) -> list[Envelope]:
        """Every event in the stream, in stream order (read from whichever node leads).
        A node killed moments before leaves the stream electing or catching up a
        replica: a read that meets "temporarily unavailable" is asked again, whole."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    return await self._read_events()
                except nats.errors.Error as exc:
                    if not unavailable(exc):
                        raise
                await asyncio.sleep(0.2)

    async def _read_events(self) -> list[Envelope]:
        info = await self.js.stream_info(EVENTS_STREAM)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await self.js.get_msg(EVENTS_STREAM, seq)
            assert message.data is not None
            found.append(parse_event(message.data))
        return found

    async def wait_events(
        self, holds: Callable[[list[Envelope]], bool], what: str, timeout: float = 150
    ) -> list[Envelope]:
        """The stream once ``holds`` is true of it: waits for a state, never a time."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    with contextlib.suppress(nats.errors.Error):
                        events = await self.events()
                        if holds(events):
                            return events
                    await asyncio.sleep(0.5)
        except TimeoutError:
            raise AssertionError(f"never: {what}\n{await self.state()}\n{self.logs()}") from None

    async def state(self) -> str:
        """What the deployers and the lease bucket say, for a failure's message."""
        lines = [
            f"{label}: {service.get('/readyz')}"
            for label, service in self.services.items()
            if label.startswith("deployer") and service.process.poll() is None
        ]
        with contextlib.suppress(Exception):
            kv = await self.js.key_value(LOCKS_BUCKET)
            for key in await kv.keys():
                entry = await kv.get(key)
                lines.append(f"lease {key}: {entry.value!r} (revision {entry.revision})")
        return "\n".join(lines)

    def logs(self) -> str:
        return "\n".join(
            f"--- {label}\n{service.output()[-1500:]}" for label, service in self.services.items()
        )

    # -- read models ------------------------------------------------------------------
    def projected_position(self) -> int:
        with psycopg.connect(self.database_url, options=f"-c search_path={SCHEMA}") as conn:
            row = conn.execute("SELECT position FROM projection_position WHERE name = 'main'")
            found = row.fetchone()
            return int(found[0]) if found else -1

    def read_models(self) -> dict[str, list[tuple[Any, ...]]]:
        with psycopg.connect(self.database_url, options=f"-c search_path={SCHEMA}") as conn:
            return {
                table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                for table in READ_TABLES
            }


@dataclass
class Webhooks:
    """Signed GitHub push deliveries to the gateways; each is sent until one accepts it."""

    http: aiohttp.ClientSession
    gateways: list[ServiceProcess]
    accepted: list[str] = field(default_factory=list)
    retried: int = 0

    async def push(self, repo: str, before: str, after: str, files: list[str], via: int) -> str:
        body = encode(
            push_payload(
                repo,
                before=before,
                after=after,
                files={"added": [], "modified": files, "removed": []},
            )
        )
        headers = delivery_headers("push", body, WEBHOOK_SECRET.encode())
        for attempt in range(60):
            gateway = self.gateways[(via + attempt) % len(self.gateways)]
            if gateway.process.poll() is None:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    url = f"http://127.0.0.1:{gateway.port}/webhooks/github"
                    async with self.http.post(url, data=body, headers=headers) as reply:
                        if reply.status == 202:
                            self.accepted.append(headers["X-GitHub-Delivery"])
                            return headers["X-GitHub-Delivery"]
            self.retried += 1
            await asyncio.sleep(0.2)
        raise AssertionError(f"no gateway accepted delivery {headers['X-GitHub-Delivery']}")
