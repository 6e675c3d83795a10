"""The command server: ``hearth.cmd.device.{Discover,Adopt,ApplyDevices}``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearth_device_manager.adapters.gitrepo import GitError
from hearth_device_manager.adapters.ports import Prober
from hearth_device_manager.adapters.scanner import ScanRefused
from hearth_device_manager.domain.device import Device, Found, normal_mac
from hearth_device_manager.handlers import DeviceHandlers, spec_matches
from hearth_device_manager.workflows.desired_sync import DesiredRepo
from hearth_device_manager.workflows.drift import Convergence
from hearth_events import command_subject
from hearth_events.catalogue import DeviceConfigSource, DeviceSpec, RepositorySpec
from hearth_servicekit.commands import CommandRejected, serve_command
from hearth_servicekit.declarations import ApplyCommand

D = TypeVar("D", Device, Found)
Scan = Callable[[list[str], list[int]], Awaitable[list[Found]]]


class Discover(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cidrs: list[str] = Field(min_length=1)
    ports: list[int] | None = Field(default=None, description="default: the setting")
    actor: str = "hearth"


class Adopt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str
    name: str | None = None
    password_secret: str | None = None
    actor: str = "hearth"


class Release(BaseModel):
    """Stop managing a device (admin). Refused while hearth.yaml or Git names it: they
    would adopt it again at once."""

    model_config = ConfigDict(extra="forbid")

    device_id: str
    actor: str = "hearth"


class ApplyDevices(ApplyCommand):
    devices: list[DeviceSpec]
    device_config: DeviceConfigSource | None = None
    repository: RepositorySpec | None = Field(
        default=None, description="the repository device_config names, as declared"
    )

    @model_validator(mode="after")
    def _repository_named(self) -> ApplyDevices:
        source, repo = self.device_config, self.repository
        if source is not None and (repo is None or repo.name.lower() != source.repo.lower()):
            raise ValueError(
                f"device_config names repository {source.repo!r}; send its declaration too"
            )
        return self


class SyncConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = "hearth"


class Apply(BaseModel):
    """Converge devices to Git now, whatever their group's policy."""

    model_config = ConfigDict(extra="forbid")

    device_id: str | None = None
    device_ids: list[str] = []
    actor: str = "hearth"

    @model_validator(mode="after")
    def _some(self) -> Apply:
        if not self.device_id and not self.device_ids:
            raise ValueError("name the devices: device_id or device_ids")
        return self

    @property
    def ids(self) -> list[str]:
        return list(
            dict.fromkeys([*([self.device_id] if self.device_id else []), *self.device_ids])
        )


def split_host(host: str) -> tuple[str, int]:
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return name.strip("[]"), int(port)
    return host, 80


class DeviceCommands:
    def __init__(
        self,
        handlers: DeviceHandlers,
        scan: Scan,
        prober: Prober,
        ports: list[int],
        probe_concurrency: int = 64,
        *,
        desired: DesiredRepo | None = None,
        convergence: Convergence | None = None,
    ) -> None:
        self.handlers = handlers
        self._scan = scan
        self._prober = prober
        self._ports = ports
        self._probe_concurrency = probe_concurrency
        self._desired = desired
        self._convergence = convergence

    async def discover(self, request: Discover) -> dict[str, Any]:
        try:
            found = await self._scan(request.cidrs, request.ports or self._ports)
        except ScanRefused as exc:
            raise CommandRejected(str(exc)) from None
        devices = [await self.handlers.found(f, request.actor) for f in found]
        return {"found": [_describe(d) for d in devices]}

    async def adopt(self, request: Adopt) -> dict[str, Any]:
        app = self.handlers.store.app
        device = await self.handlers.store.read(app.device_by_id, request.device_id)
        if device is None:
            raise CommandRejected(
                f"no device {request.device_id} was discovered; run Discover first"
            )
        device, changed = await self.handlers.adopt(
            device,
            request.name or device.device_id,
            request.password_secret,
            request.actor,
        )
        return {"device": _describe(device), "changed": changed}

    async def release(self, request: Release) -> dict[str, Any]:
        app = self.handlers.store.app
        device = await self.handlers.store.read(app.device_by_id, request.device_id)
        if device is None or not device.adopted:
            raise CommandRejected(f"no adopted device {request.device_id}; nothing to release")
        index = await self.handlers.store.read(app.index)
        for spec in index.declared.values():
            if spec_matches(DeviceSpec.model_validate(spec), device):
                raise CommandRejected(
                    f"{request.device_id} is declared in hearth.yaml (devices: "
                    f"{spec['name']}); remove it there and run hearth apply instead"
                )
        desired = self._desired.desired_for(device) if self._desired else None
        if desired is not None:
            raise CommandRejected(
                f"{request.device_id} is named by devices/{desired.name}.toml in the "
                "desired-config repository; remove that file and push instead"
            )
        await self.handlers.release_all([(device, "operator", "")], request.actor)
        return {"device": _describe(device, adopted=False)}

    async def apply_devices(self, request: ApplyDevices) -> dict[str, Any]:
        problems = _problems(request.devices)
        if problems:
            raise CommandRejected("; ".join(problems))
        store = self.handlers.store
        declared = {s.name: s.model_dump(mode="json") for s in request.devices}
        index = await store.read(store.app.index)
        previous = [DeviceSpec.model_validate(d) for d in index.declared.values()]
        known = _Known(await store.read(store.app.devices))
        unknown = [s for s in request.devices if known.match(s) is None and s.host]
        found = await self._probe_all(unknown) if unknown and not request.dry_run else []
        answered = _Known(found)
        changes: list[dict[str, Any]] = []
        waiting: list[str] = []
        adopt: list[tuple[Device, str, str | None]] = []
        for spec in request.devices:
            device = known.match(spec)
            if device is None:
                if answered.match(spec) is not None:
                    changes.append({"type": "DeviceAdopted", "name": spec.name})
                else:
                    waiting.append(spec.name)
            elif (device.adopted, device.name, device.password_secret) != (
                True,
                spec.name,
                spec.password_secret,
            ):
                changes.append({"type": "DeviceAdopted", "name": spec.name})
                adopt.append((device, spec.name, spec.password_secret))
        undeclared = self._undeclared(previous, request.devices, known)
        changes.extend({"type": "DeviceReleased", "name": name} for _, name in undeclared)
        reply: dict[str, Any] = {"changes": changes, "waiting": waiting}
        if not request.dry_run:
            await self.handlers.found_all(found, request.actor, declared=request.devices)
            await self.handlers.adopt_all(adopt, request.actor)
            await store.write(store.app.declare, declared)
            reply.update(await self._declare_source(request, changes))
            await self.handlers.release_all(
                [
                    (device, "declaration", f"hearth.yaml devices: no longer has {name}")
                    for device, name in undeclared
                    if self._desired is None or self._desired.desired_for(device) is None
                ],
                request.actor,
            )
        return {**reply, "dry_run": request.dry_run}

    def _undeclared(
        self, previous: list[DeviceSpec], now: list[DeviceSpec], known: _Known[Device]
    ) -> list[tuple[Device, str]]:
        """Adopted devices the last declaration named and this one does not, and Git does
        not name either: (device, the name it was declared under)."""
        gone: list[tuple[Device, str]] = []
        for spec in previous:
            device = known.match(spec)
            if device is None or not device.adopted:
                continue
            if any(spec_matches(s, device) for s in now):
                continue
            if self._desired is not None and self._desired.desired_for(device) is not None:
                continue
            gone.append((device, spec.name))
        return gone

    async def _declare_source(
        self, request: ApplyDevices, changes: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Keep ``device_config:`` and read it now: its errors belong in the reply."""
        if self._desired is None:
            return {}
        if await self._desired.declare(request.device_config, request.repository):
            source = request.device_config
            changes.append({"type": "DeviceConfigSource", "name": source.repo if source else "-"})
        if request.device_config is None:
            return {}
        return {"device_config": await self.sync_config(SyncConfig(actor=request.actor))}

    async def sync_config(self, request: SyncConfig) -> dict[str, Any]:
        if self._desired is None:
            raise CommandRejected("desired config is not available in this device manager")
        try:
            return await self._desired.sync(meta=self.handlers.meta(request.actor))
        except GitError as exc:
            return {"commit": None, "devices": [], "errors": [str(exc)]}

    async def apply(self, request: Apply) -> dict[str, Any]:
        if self._convergence is None:
            raise CommandRejected("apply is not available in this device manager")
        unknown = [i for i in request.ids if i not in self.handlers.live]
        if unknown:
            raise CommandRejected(f"not adopted: {', '.join(unknown)}; adopt them first")
        return {"devices": await self._convergence.apply_now(request.ids)}

    async def _probe_all(self, specs: list[DeviceSpec]) -> list[Found]:
        """``GET /shelly`` at every declared host, as many at once as a scan would."""
        limit = asyncio.Semaphore(self._probe_concurrency)

        async def one(host: str) -> Found | None:
            async with limit:
                return await self._prober.probe(*split_host(host))

        found = await asyncio.gather(*(one(s.host) for s in specs if s.host))
        return [f for f in found if f is not None]

    async def serve(self, nc: Any, queue: str) -> None:
        await serve_command(
            nc, command_subject("device", "Discover"), Discover, self.discover, queue=queue
        )
        await serve_command(nc, command_subject("device", "Adopt"), Adopt, self.adopt, queue=queue)
        await serve_command(
            nc, command_subject("device", "Release"), Release, self.release, queue=queue
        )
        await serve_command(
            nc,
            command_subject("device", "ApplyDevices"),
            ApplyDevices,
            self.apply_devices,
            queue=queue,
        )
        await serve_command(
            nc, command_subject("device", "SyncConfig"), SyncConfig, self.sync_config, queue=queue
        )
        await serve_command(nc, command_subject("device", "Apply"), Apply, self.apply, queue=queue)


class _Known(Generic[D]):
    """Devices (or what discovery found) by MAC and by device id, so a declaration of
    thousands of devices is matched in one pass."""

    def __init__(self, devices: list[D]) -> None:
        self._by_mac: dict[str, D] = {}
        self._by_id: dict[str, D] = {}
        self.add(devices)

    def add(self, devices: list[D]) -> None:
        for device in devices:
            self._by_mac[normal_mac(device.mac)] = device
            self._by_id[device.device_id] = device

    def match(self, spec: DeviceSpec) -> D | None:
        if spec.mac:
            device = self._by_mac.get(normal_mac(spec.mac))
        else:
            device = self._by_id.get(spec.device_id or "")
        return device if device is not None and spec_matches(spec, device) else None


def _problems(specs: list[DeviceSpec]) -> list[str]:
    problems: list[str] = []
    names = [s.name for s in specs]
    problems.extend(
        f"device {n} declared twice" for n in sorted({n for n in names if names.count(n) > 1})
    )
    for spec in specs:
        if spec.mac:
            try:
                normal_mac(spec.mac)
            except ValueError as exc:
                problems.append(f"device {spec.name}: {exc}")
    return problems


def _describe(device: Device, adopted: bool | None = None) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "mac": device.mac,
        "model": device.model,
        "address": device.address,
        "adopted": device.adopted if adopted is None else adopted,
        "name": device.name,
    }
