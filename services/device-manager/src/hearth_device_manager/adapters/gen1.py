"""Gen1 devices behind the ``DeviceLink`` port, with aioshelly's ``BlockDevice``.

HTTP (port 80 only, basic auth as ``admin``) for ``/settings``, setters and actions; status
from CoIoT updates on the shared socket (``adapters.coiot``), with ``GET /status`` as the
fallback whenever no CoIoT update came for ``poll_s`` seconds. A failed poll closes the link,
and the coordinator reconnects as for Gen2. Status is presented in the Gen2 shape
(``domain.gen1_status``).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from aioshelly.block_device import BlockDevice, BlockUpdateType
from aioshelly.common import ConnectionOptions
from aioshelly.exceptions import ShellyError

from hearth_device_manager.adapters.coiot import Coiot
from hearth_device_manager.adapters.ports import Call, LinkTarget
from hearth_device_manager.adapters.shelly import domain_error, guarded
from hearth_device_manager.domain.errors import DeviceBusy, DeviceError, OtherDeviceError
from hearth_device_manager.domain.gen1_status import gen2_shape, merge_coiot

T = TypeVar("T")
USER = "admin"


def _options(target: LinkTarget, password: str | None) -> ConnectionOptions:
    user = USER if password else None
    return ConnectionOptions(target.host, user, password, device_mac=target.mac)


def firmware_offers(update: dict[str, Any]) -> dict[str, str]:
    """``GET /ota`` (``/status.update``) as versions by channel, the installed one left out."""
    installed = update.get("old_version")
    offers = {}
    if update.get("has_update") and update.get("new_version") not in (None, "", installed):
        offers["stable"] = str(update["new_version"])
    if update.get("beta_version") not in (None, "", installed):
        offers["beta"] = str(update["beta_version"])
    return offers


#: How often a Gen1 device updating its firmware is asked whether it runs the new one.
OTA_POLL_S = 1.0
#: ``/ota`` ``status`` while an update is under way (``idle`` otherwise).
UNDER_WAY = ("pending", "updating")


class BlockLink:
    def __init__(
        self,
        device: BlockDevice,
        target: LinkTarget,
        poll_s: float,
        on_status: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
        *,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._device = device
        self._target = target
        self._poll_s = poll_s
        self._on_status = on_status
        self._on_closed = on_closed
        self._on_event = on_event
        self._raw: dict[str, Any] = copy.deepcopy(device.status)
        self._merge_coiot()
        self._last = asyncio.get_running_loop().time()
        self._poller: asyncio.Task[None] | None = None
        self._ota: asyncio.Task[None] | None = None
        self.polls = 0

    @property
    def status(self) -> dict[str, Any]:
        return gen2_shape(self._raw)

    @property
    def info(self) -> dict[str, Any]:
        """``GET /shelly``, with the firmware (``fw``) also as ``ver``, as Gen2+ says it:
        what firmware offers and rollouts compare with ``/status.update``'s versions."""
        info = dict(self._device.shelly or {})
        if info.get("fw"):
            info.setdefault("ver", info["fw"])
        return info

    def start(self) -> None:
        self._device.subscribe_updates(self._on_update)
        self._poller = asyncio.create_task(self._poll(), name=f"poll:{self._target.device_id}")

    def _merge_coiot(self) -> None:
        for block in self._device.blocks:
            text = block.channel or ""
            channel = int(text) if text.isdigit() else None
            merge_coiot(self._raw, block.type, channel, block.current_values())

    def _on_update(self, device: BlockDevice, kind: BlockUpdateType) -> None:
        if kind in (BlockUpdateType.COAP_PERIODIC, BlockUpdateType.COAP_REPLY):
            self._merge_coiot()
            self._last = asyncio.get_running_loop().time()
            self._on_status(self.status)

    async def _poll(self) -> None:
        """``GET /status`` when CoIoT was quiet for ``poll_s``; a failure closes the link."""
        loop = asyncio.get_running_loop()
        while True:
            quiet_for = loop.time() - self._last
            if quiet_for < self._poll_s:
                await asyncio.sleep(self._poll_s - quiet_for)
                continue
            try:
                await self._guard(self._device.update_status())
            except DeviceError:
                self._on_closed()
                return
            self.polls += 1
            self._raw = copy.deepcopy(self._device.status)
            self._last = loop.time()
            self._on_status(self.status)

    async def _guard(self, call: Awaitable[T]) -> T:
        return await guarded(call, self._target.device_id)

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._guard(self._device.http_request("get", path.lstrip("/"), params))

    async def read_config(self) -> dict[str, Any]:
        return await self._get("settings")

    async def send(self, calls: Sequence[Call]) -> bool:
        """Gen1 setters apply at once and never ask for a restart."""
        for path, params in calls:
            await self._get(path, params)
        return False

    async def reboot(self) -> None:
        await self._guard(self._device.trigger_reboot())

    async def set_password(self, password: str | None) -> None:
        if password:
            params = {"enabled": "true", "username": USER, "password": password}
        else:
            params = {"enabled": "false"}
        await self._get("settings/login", params)
        self._device.options = _options(self._target, password)
        await self._guard(self._device.update_shelly())  # its "auth" flag changed

    async def check_firmware(self) -> dict[str, str]:
        return firmware_offers(await self._get("ota"))

    async def update_firmware(self, channel: str) -> None:
        installed = self.info.get("fw")
        reply = await self._guard(self._device.trigger_ota_update(beta=channel == "beta"))
        began = isinstance(reply, dict) and reply.get("status") in UNDER_WAY
        self._ota = asyncio.create_task(self._watch_ota(installed, began), name="ota-watch")

    async def _watch_ota(self, installed: Any, began: bool) -> None:
        """A Gen1 device says nothing about an update (no ota_* notifications, and a quick
        reboot can fall between two polls), so it is asked. It runs new firmware once
        ``/shelly`` says so: this link closes, and the coordinator connects anew and reads
        the device again. The update is under way while ``/ota`` says ``pending`` or
        ``updating`` (or the device does not answer: it reboots); an update that was under
        way and is ``idle`` again with the old firmware failed, and says so as Gen2's
        ``ota_error`` does: at once, not when the rollout's wait runs out."""
        while True:
            await asyncio.sleep(min(self._poll_s, OTA_POLL_S))
            try:
                shelly = await self._get("shelly")
                if shelly.get("fw") != installed:
                    self._on_closed()
                    return
                update = await self._get("ota")
            except DeviceError:
                began = True  # rebooting, into the new firmware or the old
                continue
            state = update.get("status")
            if state in UNDER_WAY:
                began = True
            elif began and state == "idle":
                self._failed(installed, update)
                return

    def _failed(self, installed: Any, update: dict[str, Any]) -> None:
        offered = update.get("new_version") or "the new firmware"
        reason = f"the update to {offered} ended and the device still runs {installed}"
        if self._on_event is not None:
            self._on_event(self._target.device_id, {"event": "ota_error", "msg": reason})

    async def ensure_coiot_peer(self, peer: str) -> bool:
        """Point the device's CoIoT updates at ``peer`` (``host:port``) unless it already is;
        the device takes it at its next boot, so it is rebooted (as Home Assistant does).
        True when it was."""
        host, _, port = peer.rpartition(":")
        if self._device.settings.get("coiot", {}).get("peer") == peer:
            return False
        await self._guard(self._device.configure_coiot_protocol(host, int(port)))
        await self.reboot()
        return True

    async def close(self) -> None:
        for task in (self._poller, self._ota):
            if task is not None:
                task.cancel()
        await self._device.shutdown()


class Gen1Connector:
    """Opens Gen1 devices: ``BlockDevice`` over HTTP :80 plus the shared CoIoT socket."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        coiot: Coiot,
        *,
        poll_s: float = 60.0,
        coiot_peer: str = "",
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._session = session
        self._coiot = coiot
        self._poll_s = poll_s
        self._peer = coiot_peer
        #: Gets ``ota_error`` for an update that ended on the old firmware (Gen1 devices
        #: send no events; ``BlockLink`` finds out by asking).
        self._on_event = on_event

    async def open(
        self,
        target: LinkTarget,
        on_status: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> BlockLink:
        if target.port != 80:
            raise OtherDeviceError(
                f"{target.device_id}: Gen1 devices answer on port 80 only, not {target.port}"
            )
        try:
            context = await self._coiot.context()
        except OSError as exc:
            raise OtherDeviceError(f"{target.device_id}: no CoIoT socket ({exc})") from None
        device = await BlockDevice.create(self._session, context, _options(target, target.password))
        try:
            await device.initialize()
            link = BlockLink(
                device, target, self._poll_s, on_status, on_closed, on_event=self._on_event
            )
            if self._peer and await link.ensure_coiot_peer(self._peer):
                raise DeviceBusy(f"{target.device_id}: rebooting to send CoIoT to {self._peer}")
        except (ShellyError, OSError, TimeoutError, aiohttp.ClientError) as exc:
            await device.shutdown()
            raise domain_error(exc, target.device_id) from None
        except DeviceError:
            await device.shutdown()
            raise
        link.start()
        return link
