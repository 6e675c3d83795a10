"""Composition root of the deployer service: real adapters by default, fakes in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from eventsourcing.postgres import PostgresApplicationRecorder

from hearth_deployer.adapters.dispatcher import Dispatcher
from hearth_deployer.adapters.httpcheck import http_check
from hearth_deployer.adapters.lease import LeaseTiming, open_locks
from hearth_deployer.adapters.records import HostRecords
from hearth_deployer.adapters.sharedrecords import PostgresSharedRecords
from hearth_deployer.adapters.sources import ConfigSource, GitHubTarballs, GitMirrors
from hearth_deployer.adapters.status import report_commit_status
from hearth_deployer.adapters.store import SCHEMA, DeployerApplication, DeployerStore
from hearth_deployer.domain.pushes import LatestPushes
from hearth_deployer.domain.waiting import SecretLookup
from hearth_deployer.entrypoints.commands import serve_target_commands
from hearth_deployer.entrypoints.driftcheck import DriftChecks
from hearth_deployer.handlers import SERVICE, DeployerHandlers, fed_by
from hearth_deployer.remote.host import SSHHosts
from hearth_deployer.remote.pool import HostPool
from hearth_deployer.remote.port import Hosts
from hearth_deployer.remote.target import SSHTarget
from hearth_deployer.settings import DeployerSettings, set_ssh_log_level
from hearth_deployer.workflows.context import DeployContext, Timing
from hearth_events import Envelope, event_filter, new_event
from hearth_events.catalogue import (
    DeployRequested,
    RepositoryRegistered,
    RepositoryRemoved,
    RepositorySpec,
    RepositoryUpdated,
    TargetSpec,
)
from hearth_events.publish import publish_event
from hearth_eventstore.relay import Relay
from hearth_eventstore.service import open_when_reachable, start_relay
from hearth_servicekit import BusService, ServiceMetrics, ServiceSettings, get_logger
from hearth_servicekit.bus import when_available
from hearth_servicekit.declarations import DeclarationEvents, Declarations
from hearth_servicekit.follower import StreamFollower
from hearth_servicekit.secret_watch import WatchedSecrets
from hearth_servicekit.secrets import SecretBox, service_box

REPOSITORY_EVENTS = DeclarationEvents(
    RepositoryRegistered, RepositoryUpdated, RepositoryRemoved, "repo", case_insensitive=True
)
FOLLOWED = [
    event_filter("git", "RepositoryRegistered"),
    event_filter("git", "RepositoryUpdated"),
    event_filter("git", "RepositoryRemoved"),
    event_filter("git", "PushReceived"),  # the newest push, for a target declared after it
]
log = get_logger("hearth.deployer")


class Deployer(BusService):
    name: ClassVar[str] = SERVICE
    streams: ClassVar[tuple[str, ...]] = ("HEARTH_EVENTS",)
    buckets: ClassVar[tuple[str, ...]] = ("hearth_locks", "hearth_secrets")
    consumers: ClassVar[tuple[str, ...]] = ("deployer",)
    uses_database: ClassVar[bool] = True

    def __init__(
        self,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        box: SecretBox,
        *,
        timing: Timing | None = None,
        secrets: SecretLookup | None = None,
        ssh_log_level: str = "warning",
        hosts: Hosts | None = None,
    ) -> None:
        super().__init__(settings, metrics)
        set_ssh_log_level(ssh_log_level)
        self.repositories: Declarations[RepositorySpec] = Declarations(REPOSITORY_EVENTS)
        self.pushes = LatestPushes()
        self._follower: StreamFollower | None = None
        self._box = box
        self._timing = timing or Timing()
        self._secrets = secrets
        self.app: DeployerApplication | None = None
        self.relay: Relay | None = None
        self.dispatcher: Dispatcher | None = None
        self.handlers: DeployerHandlers | None = None
        self.pool = HostPool(on_host_key_learned=self._host_key_learned)
        #: The targets' hosts: over SSH through ``pool`` unless a test passes fakes.
        self.hosts: Hosts = hosts or SSHHosts(self.pool)
        self._store: DeployerStore | None = None
        self._secrets_watch: WatchedSecrets | None = None
        self._mirrors = GitMirrors(settings.data_dir / "deployer" / "mirrors")
        self._github = GitHubTarballs(settings.data_dir / "deployer" / "github-trees")
        #: Mirrors and trees being prepared for newly declared targets.
        self.preparing: set[asyncio.Task[None]] = set()
        #: Called between steps with the step's name; tests stop a run at an exact point.
        self.checkpoint: Callable[[str], Awaitable[None]] | None = None

    @property
    def source(self) -> str:
        return f"{self.name}/{self.settings.instance}"

    def _source_for(self, repo: RepositorySpec) -> ConfigSource:
        return self._github if repo.provider == "github" else self._mirrors

    async def on_start(self) -> None:
        follower = self._follower = StreamFollower(self.js, FOLLOWED, self._follow)
        await follower.catch_up()
        self.spawn(follower.run(self.stopping), "follow-repositories")
        self.app = await open_when_reachable(self, DeployerApplication, SCHEMA)
        self.relay = start_relay(self, self.app)
        store = self._store = DeployerStore(self.app)
        self.pool.learned_host_keys.update(await store.read(self.app.known_hosts))
        recorder = self.app.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)  # postgres_env's
        shared = PostgresSharedRecords(recorder.datastore, SCHEMA)
        await asyncio.to_thread(shared.create_table)
        records = HostRecords(Path(self.settings.data_dir) / "deployer" / "records", shared)
        ctx = DeployContext(
            store=store,
            hosts=self.hosts,
            secrets=self._secrets or self._watch_secrets(),
            repository=self.repositories.get,
            source_for=self._source_for,
            workdir=Path(self.settings.data_dir) / "deployer" / "work",
            http_check=http_check,
            report_status=report_commit_status,
            source_name=self.source,
            public_url=self.settings.public_url,
            timing=self._timing,
            checkpoint=self.checkpoint,
            records=records,
        )
        locks = await when_available(lambda: open_locks(self.js), what="locks bucket")
        timing = await when_available(lambda: LeaseTiming.of_bucket(locks), what="lease timing")
        self.dispatcher = Dispatcher(ctx, locks, self.settings.instance, timing)
        handlers = self.handlers = DeployerHandlers(store, self.dispatcher, self.repositories.get)

        await serve_target_commands(
            self.nc,
            store,
            self._prepare,
            queue=self.name,
            newest_push=self._newest_pushes,
            kick=self.dispatcher.kick,
        )
        self.consume("deployer", handlers.handle)
        self.spawn(self.dispatcher.sweep_forever(self.stopping), "sweep")
        changed = self._secrets_watch.changed if self._secrets_watch is not None else None
        self.spawn(self.dispatcher.recheck_held_forever(self.stopping, changed), "secret-recheck")
        drift = DriftChecks(store, records, self._request_deploy)
        self.spawn(drift.run_forever(self.stopping), "drift-checks")

    def _follow(self, envelope: Envelope) -> None:
        self.repositories.apply(envelope)
        self.pushes.apply(envelope)

    async def _newest_pushes(self, specs: list[TargetSpec]) -> list[Envelope | None]:
        """The newest push of each target's branch; first every event the stream already
        holds is taken in, so a push this deployer's consumer passed over a moment ago
        (before the target existed) is known here."""
        if self._follower is not None and not await self._follower.settle():
            log.warning("newest pushes may be behind the stream", targets=len(specs))
        return [self._newest_push(spec) for spec in specs]

    def _newest_push(self, spec: TargetSpec) -> Envelope | None:
        return self.pushes.newest(
            spec.branch, lambda repo: fed_by(spec, repo, self.repositories.get)
        )

    async def _request_deploy(self, data: DeployRequested) -> None:
        await publish_event(self.js, new_event(data, source=self.source, actor="hearth:timer"))

    def _prepare(self, spec: TargetSpec) -> None:
        """Mirror a declared target's repository and build its branch head's tree in the
        background: its first deployment then starts from a warm cache."""
        repo = self.repositories.get(spec.repo)
        if repo is None or repo.provider == "github":
            return

        async def prepare() -> None:
            try:
                await self._mirrors.prepare(
                    repo, branch=spec.branch, subdirectory=spec.subdirectory
                )
            except Exception as exc:  # the deployment reports it, with context
                log.info("not prepared ahead of time", target=spec.name, reason=str(exc))

        task = asyncio.create_task(prepare(), name=f"prepare:{spec.name}")
        self.preparing.add(task)
        task.add_done_callback(self.preparing.discard)

    def _watch_secrets(self) -> WatchedSecrets:
        """The scope's secrets held in memory and kept current from the bucket: a
        deployment's SSH key and token cost no bucket read each (two a deployment, twenty
        of each for a push to twenty targets); read from the bucket while the watch is not
        current."""
        watch = self._secrets_watch = WatchedSecrets(self.nc, self.js, self._box)
        self.spawn(watch.run(self.stopping), "watch-secrets")
        return watch

    def _host_key_learned(self, target: SSHTarget, line: str) -> None:
        """Keep a key trusted on first use pinned across restarts."""
        if self._store is not None:
            store = self._store
            self.spawn(
                store.write(store.app.learn_host_key, target.host, target.port, line),
                "pin-host-key",
            )

    async def on_stop(self) -> None:
        for task in list(self.preparing):
            task.cancel()
        await asyncio.gather(*self.preparing, return_exceptions=True)
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.pool.close()

    def details(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.relay is not None:
            found["relay"] = {"leader": self.relay.leader.is_set(), "position": self.relay.position}
        if self.dispatcher is not None:
            found["running"] = sorted(self.dispatcher.running)
        return found


def bootstrap(settings: ServiceSettings, metrics: ServiceMetrics) -> Deployer:
    box = service_box(settings.scope_key, Deployer.name, "SSH keys and tokens")
    ssh_log_level = settings.ssh_log_level if isinstance(settings, DeployerSettings) else "warning"
    return Deployer(
        settings,
        metrics,
        box,
        ssh_log_level=ssh_log_level,
    )
