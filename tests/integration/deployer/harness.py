"""A deployer on real parts: NATS, PostgreSQL, OpenSSH sshd (or, for behavioural tests, a
host in memory: tests/support/memhost.py), a bare Git repository and the Home Assistant
simulator judging the very files the host holds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats

from hearth_deployer.bootstrap import Deployer
from hearth_deployer.remote import Hosts
from hearth_deployer.workflows.context import Timing
from hearth_events import Envelope, EventData, new_event, parse_event
from hearth_events.catalogue import (
    CommitInfo,
    DeploymentCancelRequested,
    PushReceived,
    RepositoryRegistered,
    RepositorySpec,
)
from hearth_events.jetstream import BUCKETS, STREAMS, ensure
from hearth_events.publish import publish_event
from hearth_servicekit import ServiceMetrics, ServiceSettings
from hearth_servicekit.secrets import SecretBox, scope_key
from tests.support.git import GitRemote
from tests.support.services import TEST_SECRET_KEY, scoped_secrets

TERMINAL = {
    "DeploymentSucceeded",
    "DeploymentFailed",
    "DeploymentCancelled",
    "DeploymentSuperseded",
    "RollbackCompleted",
    "RollbackFailed",
}
FAST = Timing(health_interval_s=0.1, restart_settle_s=1.0)


def tree_digest(root: Path, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 and mode of every file, and every directory, under root: the identity of a
    whole tree (a rollback that leaves an empty new folder behind has not restored it)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(rel.startswith(i) for i in ignore):
            continue
        mode = oct(path.stat().st_mode & 0o777)
        if path.is_dir():
            found[f"{rel}/"] = f"directory {mode}"
        elif path.is_file():
            found[rel] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {mode}"
    return found


@dataclass
class World:
    """One test's world; ``start()`` runs a deployer in this process."""

    nats_url: str
    database_url: str
    data_dir: Path
    remote: GitRemote
    nc: Any = None
    js: Any = None
    deployers: list[Deployer] = field(default_factory=list)
    pushes: int = 0
    #: Where the deployers get their hosts; None: over SSH (a ``MemoryHosts`` in fast tests).
    hosts: Hosts | None = None

    async def open(self) -> None:
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        await ensure(self.js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        # Events from earlier tests share the session's NATS server: start after them.
        info = await self.js.stream_info("HEARTH_EVENTS")
        self.first_seq = info.state.last_seq + 1

    async def close(self) -> None:
        for deployer in self.deployers:
            await deployer.stop()
        await self.nc.close()

    async def secret(self, name: str, value: str, *scopes: str) -> None:
        """Store ``name`` in ``scopes`` (the deployer's by default), as the admin would."""
        for scope in scopes or ("deployer",):
            await scoped_secrets(self.js, scope).put(name, value.encode())

    async def publish(self, data: EventData, actor: str = "github:alice") -> Envelope:
        envelope = new_event(data, source="test", actor=actor)
        await publish_event(self.js, envelope)
        return envelope

    async def repository(self, name: str = "home/config") -> RepositorySpec:
        spec = RepositorySpec(name=name, url=self.remote.url)
        await self.publish(RepositoryRegistered(repo=name, spec=spec), actor="hearth apply")
        return spec

    async def start(
        self,
        *,
        instance: str = "deployer-test",
        checkpoint: Callable[[str], Awaitable[None]] | None = None,
        timing: Timing = FAST,
        nats_url: str | None = None,
        data_dir: Path | None = None,
    ) -> Deployer:
        """``nats_url``: reach NATS another way (through a proxy the test can cut);
        ``data_dir``: a data directory of its own (as instances on two machines have)."""
        settings = ServiceSettings(
            nats_url=nats_url or self.nats_url,
            database_url=self.database_url,
            scope_key=scope_key(TEST_SECRET_KEY, "deployer"),
            data_dir=data_dir or self.data_dir,
            instance=instance,
            shutdown_grace_s=5,
        )
        deployer = Deployer(
            settings,
            ServiceMetrics("deployer"),
            SecretBox.for_scope(TEST_SECRET_KEY, "deployer"),
            timing=timing,
            hosts=self.hosts,
        )
        deployer.checkpoint = checkpoint
        await deployer.start()
        self.deployers.append(deployer)
        return deployer

    async def stop(self, deployer: Deployer) -> None:
        await deployer.stop()
        self.deployers.remove(deployer)

    async def apply_targets(self, *targets: dict[str, Any], **options: Any) -> dict[str, Any]:
        body = {"targets": list(targets), **options}
        reply = await self.nc.request(
            "hearth.cmd.target.ApplyTargets", json.dumps(body).encode(), timeout=15
        )
        result: dict[str, Any] = json.loads(reply.data)
        return result

    async def push(
        self, files: Mapping[str, str | None], *, branch: str = "main", repo: str = "home/config"
    ) -> tuple[str, Envelope]:
        try:
            before = self.remote.head(branch) if self.pushes else "0" * 40
        except subprocess.CalledProcessError:
            before = "0" * 40  # the branch's first push
        self.remote.commit(dict(files), message=f"change {self.pushes}")
        after = self.remote.push(branch)
        self.pushes += 1
        changed = [p for p, content in files.items() if content is not None]
        removed = [p for p, content in files.items() if content is None]
        data = PushReceived(
            delivery_id=f"delivery-{after[:8]}-{self.pushes}",
            repo=repo,
            ref=f"refs/heads/{branch}",
            branch=branch,
            before=before,
            after=after,
            pusher="alice",
            commits=(
                CommitInfo(
                    id=after, message="change", added=tuple(changed), removed=tuple(removed)
                ),
            ),
        )
        return after, await self.publish(data)

    async def cancel_running(self, deployer: Deployer, reason: str = "not now") -> str:
        """Ask to cancel the one deployment ``deployer`` runs, as a user would, and wait
        until the deployer stored the request; the deployment's id."""
        dispatcher = deployer.dispatcher
        assert dispatcher is not None
        (target,) = dispatcher.running
        line = await dispatcher.store.read(dispatcher.store.app.line, target)
        deployment_id: str = line.active
        request = DeploymentCancelRequested(
            deployment_id=deployment_id, target=target, reason=reason
        )
        await self.publish(request, actor="token:ops")
        async with asyncio.timeout(30):
            while True:
                fresh = await dispatcher.store.read(dispatcher.store.app.deployment, deployment_id)
                if fresh is not None and fresh.cancel_reason is not None:
                    return deployment_id
                await asyncio.sleep(0.02)

    async def events(self, target: str | None = None) -> list[Envelope]:
        """Every event of this test so far, in stream order."""
        sub = await self.js.subscribe(
            "hearth.evt.>", ordered_consumer=True, config=_from_seq(self.first_seq)
        )
        found = []
        try:
            while True:
                envelope = parse_event((await sub.next_msg(timeout=0.3)).data)
                if target is None or envelope.key == target:
                    found.append(envelope)
        except nats.errors.TimeoutError:
            pass
        await sub.unsubscribe()
        return found

    async def deployment_events(self, deployment_id: str) -> list[Envelope]:
        return [
            e
            for e in await self.events()
            if getattr(e.data, "deployment_id", None) == deployment_id
        ]

    async def wait_terminal(
        self, target: str, count: int = 1, timeout: float = 20
    ) -> list[Envelope]:
        """The first ``count`` terminal events of ``target``."""
        return await self.wait_for(target, TERMINAL, count, timeout=timeout)

    async def wait_for(
        self,
        target: str,
        types: Collection[str],
        count: int = 1,
        *,
        deployment_id: str | None = None,
        timeout: float = 20,
    ) -> list[Envelope]:
        """The first ``count`` events of ``target`` of one of ``types`` (of one deployment
        if given): a test waits for what it depends on, never for a guessed time."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    found = [
                        e
                        for e in await self.events(target)
                        if e.type in types
                        and (
                            deployment_id is None
                            or getattr(e.data, "deployment_id", None) == deployment_id
                        )
                    ]
                    if len(found) >= count:
                        return found
                    await asyncio.sleep(0.3)
        except TimeoutError:
            for task in asyncio.all_tasks():  # where each task waits, for the failure report
                coro: Any = task.get_coro()
                chain = []
                while coro is not None:
                    frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
                    if frame is not None:
                        chain.append(f"{frame.f_code.co_filename.split('/')[-1]}:{frame.f_lineno}")
                    coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
                print("TASK", task.get_name(), " > ".join(chain))
            raise

    async def types(self, deployment_id: str) -> list[str]:
        return [
            e.type
            for e in await self.deployment_events(deployment_id)
            if e.type != "DeploymentLogged"
        ]

    async def logs(self, deployment_id: str) -> list[str]:
        lines: list[str] = []
        for e in await self.deployment_events(deployment_id):
            if e.type == "DeploymentLogged":
                lines.extend(line.message for line in e.data.lines)  # type: ignore[attr-defined]
        return lines


def _from_seq(seq: int) -> Any:
    from nats.js.api import ConsumerConfig, DeliverPolicy

    return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq)


def files_target(sshd: Any, name: str, **overrides: Any) -> dict[str, Any]:
    """A ``files`` target on ``sshd``'s user, fed by home/config."""
    spec = {
        "name": name,
        "kind": "files",
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "key_secret": "ssh-key",
        "known_host_key": sshd.host_key_line,
        "remote_path": str(sshd.remote_root),
        "repo": "home/config",
    }
    spec.update(overrides)
    return spec


def ha_target(sshd: Any, ha_api: str, **overrides: Any) -> dict[str, Any]:
    return (
        files_target(
            sshd,
            "ha",
            kind="homeassistant",
            ha_url=ha_api,
            ha_token_secret="ha-token",
            health_timeout_s=15,
        )
        | overrides
    )
