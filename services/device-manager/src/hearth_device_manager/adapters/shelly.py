"""aioshelly behind the ``Connector`` port: one WebSocket per Gen2+ device (``RpcDevice``,
outbound, no ``WsServer``), status pushed by ``NotifyStatus``/``NotifyFullStatus``.
aioshelly's errors become the device manager's few domain errors here."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from aioshelly.common import ConnectionOptions
from aioshelly.exceptions import (
    DeviceConnectionError,
    InvalidAuthError,
    MacAddressMismatchError,
    RpcCallError,
    ShellyError,
)
from aioshelly.rpc_device import RpcDevice, RpcUpdateType

from hearth_device_manager.adapters.ports import Call, Connector, DeviceLink, LinkTarget
from hearth_device_manager.domain.errors import (
    DeviceBusy,
    DeviceError,
    OtherDeviceError,
    Unreachable,
    WrongCredentials,
    WrongDevice,
)

T = TypeVar("T")

#: JSON-RPC codes a busy device answers (-108 resource exhausted, 503 unavailable).
BUSY_CODES = {-108, 503, 429}


def domain_error(exc: BaseException, device_id: str) -> DeviceError:
    """aioshelly's exception (or a socket's) as a domain error naming the device."""
    if isinstance(exc, InvalidAuthError):
        return WrongCredentials(
            f"{device_id}: the device refused the password (set password_secret in "
            "hearth.yaml devices: and store it with `hearth secret set --scope device-manager`)"
        )
    if isinstance(exc, MacAddressMismatchError):
        return WrongDevice(f"{device_id}: another device answers at its address")
    if isinstance(exc, DeviceConnectionError | OSError | TimeoutError | aiohttp.ClientError):
        return Unreachable(f"{device_id}: unreachable ({type(exc).__name__})")
    if isinstance(exc, RpcCallError):
        if exc.code in BUSY_CODES:
            return DeviceBusy(f"{device_id}: busy ({exc.code} {exc.message})")
        return OtherDeviceError(f"{device_id}: RPC error {exc.code} {exc.message}")
    return OtherDeviceError(f"{device_id}: {type(exc).__name__}: {exc}")


async def guarded(call: Awaitable[T], device_id: str) -> T:
    """Await an aioshelly call; its failure becomes the domain error naming the device."""
    try:
        return await call
    except (ShellyError, OSError, TimeoutError, aiohttp.ClientError) as exc:
        raise domain_error(exc, device_id) from None
    except RuntimeError as exc:  # aioshelly's "Not connected": the socket just closed
        raise Unreachable(f"{device_id}: unreachable ({exc})") from None


def digest_ha1(device_id: str, password: str) -> str:
    """What ``Shelly.SetAuth`` takes: SHA-256 of ``admin:<device id>:<password>``."""
    return hashlib.sha256(f"admin:{device_id}:{password}".encode()).hexdigest()


class RpcLink:
    def __init__(self, device: RpcDevice, device_id: str) -> None:
        self._device = device
        self._device_id = device_id

    @property
    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._device.status
        return status

    @property
    def info(self) -> dict[str, Any]:
        return dict(self._device.shelly)

    async def _guard(self, call: Awaitable[T]) -> T:
        return await guarded(call, self._device_id)

    async def _rpc(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply: dict[str, Any] = await self._guard(self._device.call_rpc(method, params))
        return reply

    async def read_config(self) -> dict[str, Any]:
        return await self._rpc("Shelly.GetConfig")

    async def send(self, calls: Sequence[Call]) -> bool:
        restart = False
        for method, params in calls:
            reply = await self._rpc(method, params)
            restart = restart or bool(reply.get("restart_required"))
        return restart

    async def reboot(self) -> None:
        await self._rpc("Shelly.Reboot")

    async def set_password(self, password: str | None) -> None:
        ha1 = digest_ha1(self._device_id, password) if password else None
        await self._rpc("Shelly.SetAuth", {"user": "admin", "realm": self._device_id, "ha1": ha1})

    async def check_firmware(self) -> dict[str, str]:
        reply = await self._rpc("Shelly.CheckForUpdate")
        return {
            channel: str(offer["version"])
            for channel, offer in reply.items()
            if isinstance(offer, dict) and offer.get("version")
        }

    async def update_firmware(self, channel: str) -> None:
        await self._rpc("Shelly.Update", {"stage": channel})

    async def close(self) -> None:
        await self._device.shutdown()


class ShellyConnector:
    """Opens Gen2+ devices with aioshelly's ``RpcDevice`` (WebSocket ``/rpc``) and hands Gen1
    devices to ``gen1`` (``adapters.gen1.Gen1Connector``: ``BlockDevice``, CoIoT, polling)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        gen1: Connector | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._session = session
        self._gen1 = gen1
        #: Gets every ``NotifyEvent`` event (``ota_progress``, ``config_changed``, ...)
        #: with the device's id.
        self._on_event = on_event

    async def open(
        self,
        target: LinkTarget,
        on_status: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> DeviceLink:
        if target.generation < 2:
            if self._gen1 is None:
                raise OtherDeviceError(f"{target.device_id}: no Gen1 connector configured")
            return await self._gen1.open(target, on_status, on_closed)
        options = ConnectionOptions(
            target.host,
            "admin" if target.password else None,
            target.password,
            port=target.port,
            device_mac=target.mac,
        )
        device = await RpcDevice.create(self._session, None, options)
        try:
            await device.initialize()
        except (ShellyError, OSError, TimeoutError, aiohttp.ClientError) as exc:
            await device.shutdown()
            raise domain_error(exc, target.device_id) from None
        closed = False

        def on_closed_once() -> None:
            nonlocal closed
            if not closed:
                closed = True
                on_closed()

        device.subscribe_updates(self._listener(target.device_id, on_status, on_closed_once))
        if not device.connected:  # lost between initialize and subscribe
            on_closed_once()
        return RpcLink(device, target.device_id)

    def _listener(
        self,
        device_id: str,
        on_status: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> Callable[[RpcDevice, RpcUpdateType], None]:
        """aioshelly's update callback: status, loss (once) and device events."""

        def on_update(dev: RpcDevice, kind: RpcUpdateType) -> None:
            if kind is RpcUpdateType.DISCONNECTED:
                on_closed()
            elif kind in (RpcUpdateType.STATUS, RpcUpdateType.ONLINE):
                on_status(dev.status)
            elif kind is RpcUpdateType.EVENT and self._on_event is not None:
                for item in (dev.event or {}).get("events", []):
                    self._on_event(device_id, item)

        return on_update
