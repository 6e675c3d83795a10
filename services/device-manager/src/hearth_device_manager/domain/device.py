"""The Device aggregate: one per physical device, identified by its MAC address.

A device that comes back on another address or port is the same device: its address is
updated, never duplicated. Command methods refuse illegal transitions with
:class:`IllegalTransition`; every accepted change records a catalogue event (relayed to
the bus) or, for bookkeeping only the device manager needs, a named internal event that is
stored but never published (``Located``, ``CredentialsChosen``, ``Renamed``; the index's
``Indexed`` and ``Declared``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from hearth_events import EventData
from hearth_events.catalogue import DeviceAdopted, DeviceDiscovered, DeviceOffline, DeviceOnline
from hearth_eventstore.store import HearthAggregate, Meta

NAMESPACE = UUID("2b0f7c7e-5d4a-4e59-9a35-7e6c1d0a9f42")
INDEX_ID = uuid5(NAMESPACE, "index")


class IllegalTransition(ValueError):
    """A command the device's current state does not allow."""


def normal_mac(mac: str) -> str:
    """``A8:03:2a-b1`` and ``a8032ab1`` are the same MAC: upper-case hex digits only."""
    digits = "".join(c for c in mac if c.isalnum()).upper()
    if len(digits) != 12 or any(c not in "0123456789ABCDEF" for c in digits):
        raise ValueError(f"not a MAC address: {mac!r}")
    return digits


def device_uuid(mac: str) -> UUID:
    return uuid5(NAMESPACE, f"mac:{normal_mac(mac)}")


@dataclass(frozen=True)
class Found:
    """What discovery learned about a device (from ``GET /shelly``)."""

    device_id: str
    mac: str
    model: str
    generation: int
    host: str
    port: int = 80
    name: str | None = None
    firmware: str | None = None
    auth: bool = False
    sleeping: bool = False

    @property
    def address(self) -> str:
        return self.host if self.port == 80 else f"{self.host}:{self.port}"


class Device(HearthAggregate):
    """One device, from its first discovery on."""

    @staticmethod
    def create_id(mac: str) -> UUID:
        return device_uuid(mac)

    def __init__(self, mac: str) -> None:
        self.mac = normal_mac(mac)
        self.device_id = ""
        self.model = ""
        self.generation = 0
        self.host = ""
        self.port = 80
        self.firmware: str | None = None
        self.sleeping = False
        self.adopted = False
        self.name: str | None = None
        self.online: bool | None = None
        self.password_secret: str | None = None

    # -- commands ------------------------------------------------------------------
    def discover(self, found: Found, meta: Meta) -> bool:
        """Record the first discovery; later ones only follow a new address. True when
        something changed."""
        if normal_mac(found.mac) != self.mac:
            raise IllegalTransition(f"{found.device_id} has MAC {found.mac}, not {self.mac}")
        if not self.device_id:
            self.record(
                DeviceDiscovered(
                    device_id=found.device_id,
                    model=found.model,
                    generation=found.generation,
                    mac=self.mac,
                    address=found.address,
                    name=found.name,
                    firmware=found.firmware,
                ),
                meta,
            )
            self._located(found.host, found.port, found.sleeping)
            return True
        if (found.host, found.port) != (self.host, self.port):
            self._located(found.host, found.port, found.sleeping)
            return True
        return False

    def adopt(self, name: str, meta: Meta, site: str | None = None) -> bool:
        """Take the device under management; False when it already is under that name."""
        if not self.device_id:
            raise IllegalTransition(f"device {self.mac} was never discovered")
        if self.adopted and self.name == name:
            return False
        if self.adopted:
            self._renamed(name)
            return True
        self.record(DeviceAdopted(device_id=self.device_id, name=name, site=site), meta)
        return True

    def use_secret(self, name: str | None) -> bool:
        """Which secret (scope device-manager) holds the device's admin password."""
        if name == self.password_secret:
            return False
        self._credentials_chosen(name)
        return True

    def went_online(self, meta: Meta) -> bool:
        if not self.adopted:
            raise IllegalTransition(f"{self.device_id} is not adopted")
        if self.online is True:
            return False
        self.record(DeviceOnline(device_id=self.device_id, address=self.address), meta)
        return True

    def went_offline(self, meta: Meta, last_seen: datetime | None = None) -> bool:
        if not self.adopted:
            raise IllegalTransition(f"{self.device_id} is not adopted")
        if self.online is not True:
            return False  # never online, or already offline: nothing to announce
        self.record(DeviceOffline(device_id=self.device_id, last_seen=last_seen), meta)
        return True

    @property
    def address(self) -> str:
        return self.host if self.port == 80 else f"{self.host}:{self.port}"

    # -- state ---------------------------------------------------------------------
    def when(self, data: EventData) -> None:
        if isinstance(data, DeviceDiscovered):
            self.device_id, self.model = data.device_id, data.model
            self.generation, self.firmware = data.generation, data.firmware
        elif isinstance(data, DeviceAdopted):
            self.adopted, self.name = True, data.name
        elif isinstance(data, DeviceOnline):
            self.online = True
        elif isinstance(data, DeviceOffline):
            self.online = False

    # -- internal events (stored, never published) -----------------------------------
    class Located(HearthAggregate.Event):
        host: str
        port: int
        sleeping: bool

    @event(Located)
    def _located(self, host: str, port: int, sleeping: bool) -> None:
        self.host, self.port, self.sleeping = host, port, sleeping

    class CredentialsChosen(HearthAggregate.Event):
        secret: str | None

    @event(CredentialsChosen)
    def _credentials_chosen(self, secret: str | None) -> None:
        self.password_secret = secret

    class Renamed(HearthAggregate.Event):
        name: str

    @event(Renamed)
    def _renamed(self, name: str) -> None:
        self.name = name


class DeviceIndex(HearthAggregate):
    """Which MAC each device id belongs to: ``Adopt`` and ``devices:`` name devices by id."""

    @staticmethod
    def create_id() -> UUID:
        return INDEX_ID

    def __init__(self) -> None:
        self.macs: dict[str, str] = {}
        #: Declared devices (``devices:`` of hearth.yaml) by name, as JSON data.
        self.declared: dict[str, dict[str, Any]] = {}

    def add(self, device_id: str, mac: str) -> None:
        if self.macs.get(device_id) != normal_mac(mac):
            self._indexed(device_id, normal_mac(mac))

    def declare(self, specs: dict[str, dict[str, Any]]) -> bool:
        if specs == self.declared:
            return False
        self._declared(specs)
        return True

    class Indexed(HearthAggregate.Event):
        device_id: str
        mac: str

    @event(Indexed)
    def _indexed(self, device_id: str, mac: str) -> None:
        self.macs[device_id] = mac

    class Declared(HearthAggregate.Event):
        specs: dict[str, dict[str, Any]]

    @event(Declared)
    def _declared(self, specs: dict[str, dict[str, Any]]) -> None:
        self.declared = dict(specs)
