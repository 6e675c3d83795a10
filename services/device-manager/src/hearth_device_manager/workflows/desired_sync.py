"""Desired device config from Git: where it lives, and what a push to it does.

``device_config:`` of hearth.yaml names a folder of a declared repository (kept in the
device index). A ``PushReceived`` on that repository and branch, a declaration, a start or
the ``SyncConfig`` command reads the folder at the branch's head (so a redelivered old push
cannot take the config back), loads it with
``load_repository`` and records ``DesiredConfigChanged`` on every adopted device whose
resolved config changed (secret names only). A load with errors changes nothing: the
previous desired config stays, every error is logged as ``file:line: message``, and each
device the refused files concern gets one ``DeviceConfigApplyFailed`` naming the commit and
the first error (once per commit).

A device it named before and no longer names is released (``DeviceReleased``, reason
``repository``), unless hearth.yaml's ``devices:`` declares it: that one stays managed and
loses its desired config and its drift (``DesiredConfigRemoved``). So does every declared
device when ``device_config:`` leaves hearth.yaml.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hearth_device_manager.domain.desired import ConfigError, DesiredDevice, load_repository
from hearth_device_manager.domain.device import Device, ReleaseReason, normal_mac
from hearth_device_manager.handlers import DeviceHandlers, spec_matches
from hearth_events import Envelope
from hearth_events.catalogue import (
    DeviceConfigSource,
    DeviceSpec,
    PushReceived,
    RepositorySpec,
)
from hearth_eventstore.store import Meta
from hearth_servicekit import get_logger

log = get_logger("hearth.device_manager")


class Trees(Protocol):
    async def read(
        self, repo: RepositorySpec, branch: str, folder: str, commit: str | None = None
    ) -> tuple[str, dict[str, bytes]]: ...


@dataclass
class Loaded:
    """The last desired config that loaded without errors."""

    commit: str | None = None
    devices: dict[str, DesiredDevice] = field(default_factory=dict)
    by_mac: dict[str, DesiredDevice] = field(default_factory=dict)
    by_id: dict[str, DesiredDevice] = field(default_factory=dict)


def desired_json(desired: DesiredDevice) -> dict[str, Any]:
    """What ``DesiredConfigChanged`` carries: the resolved fields, secrets by name only."""
    config: dict[str, Any] = desired.config.model_dump(mode="json", exclude_none=True)
    return config


class DesiredRepo:
    def __init__(
        self,
        devices: DeviceHandlers,
        trees: Trees,
        on_changed: Callable[[list[str]], None] = lambda ids: None,
    ) -> None:
        self._devices = devices
        self._trees = trees
        self.on_changed = on_changed  # device ids to compare now (reason: push)
        self.source: DeviceConfigSource | None = None
        self.repository: RepositorySpec | None = None
        self.loaded = Loaded()
        self.errors: list[ConfigError] = []
        self._refused: str | None = None
        self._syncing = asyncio.Lock()

    @property
    def store(self) -> Any:
        return self._devices.store

    async def start(self) -> None:
        index = await self.store.read(self.store.app.index)
        if index.source and index.repository:
            self.source = DeviceConfigSource.model_validate(index.source)
            self.repository = RepositorySpec.model_validate(index.repository)

    async def declare(
        self, source: DeviceConfigSource | None, repository: RepositorySpec | None
    ) -> bool:
        changed: bool = await self.store.write(
            self.store.app.declare_source,
            source.model_dump(mode="json") if source else None,
            repository.model_dump(mode="json") if repository else None,
        )
        self.source, self.repository = source, repository
        if source is None:
            self.loaded = Loaded()
            if changed:
                await self._release_unnamed(
                    self._devices.meta(), "hearth.yaml has no device_config", None
                )
        return changed

    # -- what the desired config says of a device ------------------------------------------
    def desired_for(self, device: Device) -> DesiredDevice | None:
        return self.loaded.by_mac.get(device.mac) or self.loaded.by_id.get(device.device_id)

    async def channel_of(self, device_id: str) -> str | None:
        """The firmware channel the device's groups give it (``channel`` in
        ``groups/*.toml``, else stable): a rollout that names no channel takes it."""
        live = self._devices.live.get(device_id)
        if live is not None:
            desired = self.desired_for(live.device)
        else:
            desired = self.loaded.by_id.get(device_id)
        return desired.channel if desired is not None else None

    def claim(self, device: Device) -> tuple[str, str | None] | None:
        """Adopt a device the repository names, under its file's name. Its
        ``password_secret`` is the password to *set* (by apply), not yet the one to use."""
        desired = self.desired_for(device)
        return (desired.name, None) if desired is not None else None

    # -- pushes --------------------------------------------------------------------------------
    def follows(self, push: PushReceived) -> bool:
        source, repo = self.source, self.repository
        if source is None or repo is None or push.deleted or push.branch != source.branch:
            return False
        return push.repo.lower() == repo.name.lower() or push.repo == repo.url

    async def handle(self, envelope: Envelope) -> None:
        data = envelope.data
        if isinstance(data, PushReceived) and self.follows(data):
            meta = Meta(
                actor=envelope.actor,
                correlation_id=envelope.correlation_id,
                causation_id=str(envelope.event_id),
            )
            try:  # the branch head, not data.after: a late redelivery never goes back
                await self.sync(None, meta)
            except Exception as exc:  # Git unreachable: the next push or sync tries again
                log.warning("desired config not read", commit=data.after, reason=str(exc))

    async def sync(self, commit: str | None = None, meta: Meta | None = None) -> dict[str, Any]:
        """Read the folder at ``commit`` (else the branch head) and take it as desired."""
        source, repo = self.source, self.repository
        if source is None or repo is None:
            return {"commit": None, "devices": [], "errors": ["no device_config is declared"]}
        async with self._syncing:  # one at a time: the newest read is the one that stays
            return await self._sync(source, repo, commit, meta or self._devices.meta())

    async def _sync(
        self, source: DeviceConfigSource, repo: RepositorySpec, commit: str | None, meta: Meta
    ) -> dict[str, Any]:
        resolved, files = await self._trees.read(repo, source.branch, source.folder, commit)
        result = load_repository(files)
        if result.errors:
            self.errors = list(result.errors)
            await self._refuse(resolved, result.errors, meta)
            return {"commit": resolved, "devices": [], "errors": [str(e) for e in result.errors]}
        self.errors, self._refused = [], None
        self.loaded = _index(resolved, result.devices)
        changed = await self._desire_all(repo.name, resolved, meta)
        if changed:
            log.info("desired config changed", commit=resolved, devices=len(changed))
        self.on_changed(changed)
        return {"commit": resolved, "devices": sorted(result.devices), "errors": []}

    async def _desire_all(self, repo: str, commit: str, meta: Meta) -> list[str]:
        """Adopt what the repository names, record each changed desired config, and
        release what it named before and no longer does (unless hearth.yaml declares it)."""
        known: list[Device] = await self.store.read(self.store.app.devices)
        compare: list[str] = []
        await self._release_unnamed(
            meta, f"no devices/*.toml names it at {commit[:12]}", commit, known
        )
        for found in known:
            desired = self.desired_for(found)
            if desired is None:
                continue
            device = found
            if not device.adopted:
                device, _ = await self._devices.adopt(device, desired.name, None, meta.actor)
            await self.desire(device, desired, commit, meta)
            compare.append(device.device_id)
        return compare

    async def _release_unnamed(
        self, meta: Meta, detail: str, commit: str | None, known: list[Device] | None = None
    ) -> None:
        """The devices Git gave a desired config that it no longer names (at ``commit``;
        None: no repository is declared): released, unless hearth.yaml's ``devices:``
        declares them; those stay managed without a desired config."""
        if known is None:
            known = await self.store.read(self.store.app.devices)
        index = await self.store.read(self.store.app.index)
        declared = [DeviceSpec.model_validate(d) for d in index.declared.values()]
        kept: list[Device] = []
        gone: list[tuple[Device, ReleaseReason, str]] = []
        for device in known:
            named = self.desired_for(device) is not None
            if not device.adopted or device.desired is None or named:
                continue
            if any(spec_matches(spec, device) for spec in declared):
                kept.append(device)
            else:
                gone.append((device, "repository", detail))
        await self._devices.release_all(gone, meta.actor)
        for device in kept:
            await self._remove_desired(device, commit, meta)

    async def _remove_desired(self, device: Device, commit: str | None, meta: Meta) -> None:
        """Forget what Git wanted of a device hearth.yaml still declares, and what was
        compared of it: nothing is compared against a file that is gone."""
        repo, detail = device.desired_repo or "", self._gone(device, commit)

        def remove(d: Device) -> bool:
            if not d.adopted or self.desired_for(d) is not None:
                return False  # released meanwhile, or named again by a later sync
            return d.remove_desired(repo, commit, meta, detail)

        if await self.store.write(self.store.app.act, device.mac, remove):
            log.info("desired config removed", device=device.device_id, detail=detail)
        if self._devices.watch is not None:
            self._devices.watch.released(device.device_id)

    def _gone(self, device: Device, commit: str | None) -> str:
        """What ``DesiredConfigRemoved.detail`` says: which file left which repository."""
        source, repo = self.source, self.repository
        if commit is None or source is None or repo is None:
            return "hearth.yaml no longer names a device_config repository"
        where = f"{repo.name}@{source.branch}"
        own = [f for f in device.desired_sources.values() if f.startswith("devices/")]
        if not own:
            return f"no devices/*.toml in {where} names it at {commit[:12]}"
        path = f"{source.folder}/{own[0]}" if source.folder else own[0]
        return f"{path} is no longer in {where} (at {commit[:12]})"

    async def desire(
        self, device: Device, desired: DesiredDevice, commit: str, meta: Meta
    ) -> Device:
        config, groups, sources = desired_json(desired), desired.groups, dict(desired.sources)
        if (device.desired, device.desired_groups, device.desired_sources) == (
            config,
            groups,
            sources,
        ):
            return device
        repo = self.repository.name if self.repository else ""

        def desire(d: Device) -> bool:
            if self.desired_for(d) is not desired:
                return False  # a sync since changed or removed it, and wrote its own
            return d.desire(config, repo, commit, meta, groups=groups, sources=sources)

        await self.store.write(self.store.app.act, device.mac, desire)
        updated: Device = await self.store.read(self.store.app.device, device.mac)
        return updated

    async def _refuse(self, commit: str, errors: list[ConfigError], meta: Meta) -> None:
        for error in errors:
            log.warning("desired config refused", commit=commit, error=str(error))
        if self._refused == commit:
            return  # a redelivered push: reported once
        self._refused = commit
        first = f"{errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        reason = f"desired config at {commit[:12]} refused, nothing changed: {first}"
        own = {e.file for e in errors}
        shared = any(not e.file.startswith("devices/") for e in errors)
        known: list[Device] = await self.store.read(self.store.app.devices)
        for device in known:
            concerned = f"devices/{device.name}.toml" in own or (
                shared and device.desired is not None
            )
            if device.adopted and concerned:
                await self.store.write(
                    self.store.app.act, device.mac, lambda d: d.apply_failed(reason, meta)
                )


def _index(commit: str, devices: dict[str, DesiredDevice]) -> Loaded:
    loaded = Loaded(commit, dict(devices))
    for desired in devices.values():
        if desired.mac:
            loaded.by_mac[normal_mac(desired.mac)] = desired
        if desired.device_id:
            loaded.by_id[desired.device_id] = desired
    return loaded
