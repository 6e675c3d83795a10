"""The command server: ``hearth.cmd.device.{Discover,Adopt,ApplyDevices}``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hearth_device_manager.adapters.scanner import ScanRefused
from hearth_device_manager.domain.device import Device, Found, normal_mac
from hearth_device_manager.handlers import DeviceHandlers, spec_matches
from hearth_device_manager.ports import Prober
from hearth_events import command_subject
from hearth_events.catalogue import DeviceSpec
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


class ApplyDevices(ApplyCommand):
    devices: list[DeviceSpec]


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
    ) -> None:
        self.handlers = handlers
        self._scan = scan
        self._prober = prober
        self._ports = ports
        self._probe_concurrency = probe_concurrency

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

    async def apply_devices(self, request: ApplyDevices) -> dict[str, Any]:
        problems = _problems(request.devices)
        if problems:
            raise CommandRejected("; ".join(problems))
        store = self.handlers.store
        declared = {s.name: s.model_dump(mode="json") for s in request.devices}
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
        if not request.dry_run:
            await self.handlers.found_all(found, request.actor, declared=request.devices)
            await self.handlers.adopt_all(adopt, request.actor)
            await store.write(store.app.declare, declared)
        return {"changes": changes, "waiting": waiting, "dry_run": request.dry_run}

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
            nc,
            command_subject("device", "ApplyDevices"),
            ApplyDevices,
            self.apply_devices,
            queue=queue,
        )


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


def _describe(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "mac": device.mac,
        "model": device.model,
        "address": device.address,
        "adopted": device.adopted,
        "name": device.name,
    }
