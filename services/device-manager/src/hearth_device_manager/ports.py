"""The small interfaces the device manager's logic talks through; adapters implement them,
unit tests pass fakes."""

from __future__ import annotations

from collections.abc import Callable
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


class DeviceLink(Protocol):
    """An open connection to one device."""

    @property
    def status(self) -> dict[str, Any]: ...

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


class Prober(Protocol):
    async def probe(self, host: str, port: int) -> Found | None:
        """``GET /shelly`` of ``host:port``: the device there, or None."""
        ...


class StatusWriter(Protocol):
    async def write(self, device_id: str, status: dict[str, Any]) -> None: ...


class Clock(Protocol):
    def __call__(self) -> float: ...
