"""The small interfaces the device manager's logic talks through; adapters implement them,
unit tests pass fakes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hearth_device_manager.domain.device import Found


@dataclass(frozen=True)
class LinkTarget:
    """Where and how to reach one adopted device right now."""

    device_id: str
    mac: str
    generation: int
    host: str
    port: int
    password: str | None = None
    #: A battery device (H&T): reached only while awake, tracked by its wake-ups.
    sleeping: bool = False
    #: Its wake period as last learned (kept across restarts); None: not learned yet.
    wake_period_s: float | None = None


#: One setter call: Gen2+ ``(JSON-RPC method, params)``, Gen1 ``(HTTP path, query params)``,
#: as ``domain.desired.changes_to_apply`` makes them.
Call = tuple[str, dict[str, Any]]


class DeviceLink(Protocol):
    """An open connection to one device. Every method raises a ``DeviceError``
    (``domain.errors``) when the device fails, never a library's exception."""

    @property
    def status(self) -> dict[str, Any]: ...

    @property
    def info(self) -> dict[str, Any]:
        """What the device said about itself when the link opened (``GET /shelly``:
        ``model``, ``mac``, ``ver``, ``fw_id``, ...)."""
        ...

    async def read_config(self) -> dict[str, Any]:
        """The device's whole config as it reports it: Gen2+ ``Shelly.GetConfig``, Gen1
        ``/settings``."""
        ...

    async def send(self, calls: Sequence[Call]) -> bool:
        """Send setter calls in order; True when the device says a restart is needed."""
        ...

    async def reboot(self) -> None: ...

    async def set_password(self, password: str | None) -> None:
        """Set (or, with None, remove) the admin password: Gen2+ ``Shelly.SetAuth`` with
        the digest ha1, Gen1 ``/settings/login``."""
        ...

    async def check_firmware(self) -> dict[str, str]:
        """Versions the device offers to install, by channel: ``{"stable": "1.4.4"}``."""
        ...

    async def update_firmware(self, channel: str) -> None:
        """Start an update from ``channel`` (``stable`` or ``beta``); returns once the
        device accepted it (progress arrives as status and notifications)."""
        ...

    async def close(self) -> None: ...


class Connector(Protocol):
    async def open(
        self,
        target: LinkTarget,
        on_status: Callable[[dict[str, Any]], None],
        on_closed: Callable[[], None],
    ) -> DeviceLink:
        """Connect and read the full status; raise a ``DeviceError`` when it fails.
        ``on_status`` gets every later status, ``on_closed`` is called once on loss."""
        ...


class WakeSource(Protocol):
    """Where sleeping devices report when they wake: CoIoT (Gen1) or the WebSocket endpoint
    they dial (Gen2+)."""

    def watch(
        self, target: LinkTarget, on_wake: Callable[[dict[str, Any] | None, float | None], None]
    ) -> Callable[[], None]:
        """``on_wake(status, period_s)`` at every wake-up, status in the Gen2 shape (None when
        the report carried none), its wake period when it told; returns the unsubscribe."""
        ...

    async def prepare(self, target: LinkTarget, link: DeviceLink) -> float | None:
        """With the device awake and ``link`` open: point its wake-up reports at us; its wake
        period in seconds, when it tells."""
        ...


class Prober(Protocol):
    async def probe(self, host: str, port: int) -> Found | None:
        """``GET /shelly`` of ``host:port``: the device there, or None."""
        ...


class StatusWriter(Protocol):
    async def write(self, device_id: str, status: dict[str, Any]) -> None: ...

    async def forget(self, device_id: str) -> None:
        """The device is no longer managed: remove its live status."""
        ...


class Clock(Protocol):
    def __call__(self) -> float: ...


class Snapshots(Protocol):
    """Device backups ("backup before apply"): ``take`` stores a full config snapshot of
    the device before Hearth changes it; ``workflows.fleet.Snapshots`` implements it."""

    async def take(self, device_id: str, reason: str) -> object:
        """Store a snapshot; what it returns (the backup) is not needed by the caller."""
        ...
