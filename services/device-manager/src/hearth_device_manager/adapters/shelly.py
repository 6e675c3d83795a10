"""aioshelly behind the ``Connector`` port: one WebSocket per Gen2+ device (``RpcDevice``,
outbound, no ``WsServer``), status pushed by ``NotifyStatus``/``NotifyFullStatus``.
aioshelly's errors become the device manager's few domain errors here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

from hearth_device_manager.domain.errors import (
    DeviceBusy,
    DeviceError,
    OtherDeviceError,
    Unreachable,
    WrongCredentials,
    WrongDevice,
)
from hearth_device_manager.ports import LinkTarget

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


class RpcLink:
    def __init__(self, device: RpcDevice) -> None:
        self._device = device

    @property
    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._device.status
        return status

    async def close(self) -> None:
        await self._device.shutdown()


class ShellyConnector:
    """Opens Gen2+ devices with aioshelly's ``RpcDevice`` (WebSocket ``/rpc``)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def open(
        self,
        target: LinkTarget,
        on_status: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> RpcLink:
        if target.generation < 2:
            raise OtherDeviceError(
                f"{target.device_id}: Gen1 devices are not managed yet (Gen2+ only)"
            )
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

        def on_update(dev: RpcDevice, kind: RpcUpdateType) -> None:
            nonlocal closed
            if kind is RpcUpdateType.DISCONNECTED:
                if not closed:
                    closed = True
                    on_closed()
            elif kind in (RpcUpdateType.STATUS, RpcUpdateType.ONLINE):
                on_status(dev.status)

        device.subscribe_updates(on_update)
        if not device.connected:  # lost between initialize and subscribe
            closed = True
            on_closed()
        return RpcLink(device)
