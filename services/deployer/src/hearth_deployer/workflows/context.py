"""What a deployment needs from the world, gathered once by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hearth_deployer.adapters.homeassistant import HomeAssistantClient
from hearth_deployer.adapters.records import HostRecords
from hearth_deployer.adapters.sources import ConfigSource
from hearth_deployer.adapters.status import State
from hearth_deployer.adapters.store import DeployerStore
from hearth_deployer.domain.validation.cache import ValidationCache
from hearth_deployer.domain.waiting import SecretLookup
from hearth_deployer.remote.port import Hosts
from hearth_deployer.remote.target import SSHTarget
from hearth_events.catalogue import RepositorySpec, TargetSpec


class HttpCheck(Protocol):
    async def __call__(self, url: str) -> str | None:
        """None when the URL answers 2xx; otherwise why not."""


class StatusReporter(Protocol):
    async def __call__(
        self,
        repo: RepositorySpec,
        commit: str,
        *,
        token: str,
        state: State,
        target: str,
        description: str,
        target_url: str | None = None,
    ) -> bool: ...


class MissingSecret(Exception):
    def __init__(self, target: str, name: str, what: str) -> None:
        super().__init__(
            f"target {target}: the secret {name!r} ({what}) does not exist; "
            f"store it with `hearth secret set {name}`"
        )


@dataclass
class Timing:
    """Intervals a test may shorten; the defaults suit real hosts."""

    health_interval_s: float = 2.0
    restart_settle_s: float = 5.0
    #: How often a deployment held for a missing secret looks for it again.
    secret_recheck_s: float = 2.0
    #: How often a health wait records "still waiting" in the deployment's log.
    progress_interval_s: float = 10.0
    #: How long an info line of a deployment's log may wait to be stored with a later
    #: step's event (``DeploymentRun.write``) before it is stored on its own.
    log_held_s: float = 1.0


@dataclass
class DeployContext:
    store: DeployerStore
    #: Where each target's host comes from: SSH in production, memory in fast tests.
    hosts: Hosts
    secrets: SecretLookup
    repository: Callable[[str], RepositorySpec | None]
    source_for: Callable[[RepositorySpec], ConfigSource]
    workdir: Path
    http_check: HttpCheck
    report_status: StatusReporter
    home_assistant: Callable[[str, str], HomeAssistantClient] = HomeAssistantClient
    source_name: str = "deployer"
    public_url: str | None = None
    timing: Timing = field(default_factory=Timing)
    #: What each target held after its last success; None: re-hash everything each time.
    records: HostRecords | None = None
    #: Called between steps; tests use it to stop the process at an exact point.
    checkpoint: Callable[[str], Awaitable[None]] | None = None
    #: Validation reports shared by the targets of a fan-out (same tree, same inputs).
    validations: ValidationCache = field(default_factory=ValidationCache)

    async def secret(self, target: str, name: str, what: str) -> str:
        value = await self.secrets.get(name)
        if value is None:
            raise MissingSecret(target, name, what)
        return value.decode()

    async def ssh_target(self, spec: TargetSpec) -> SSHTarget:
        key = await self.secret(spec.name, spec.key_secret, "the SSH private key")
        return SSHTarget(
            host=spec.host,
            port=spec.port,
            user=spec.user,
            client_key=key.encode(),
            known_host_key=spec.known_host_key,
            trust_on_first_use=spec.trust_on_first_use,
        )
