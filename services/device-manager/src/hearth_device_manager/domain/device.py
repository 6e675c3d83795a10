"""The Device aggregate: one per physical device, identified by its MAC address.

A device that comes back on another address or port is the same device: its address is
updated, never duplicated. Command methods refuse illegal transitions with
:class:`IllegalTransition`; every accepted change records a catalogue event (relayed to
the bus) or, for bookkeeping only the device manager needs, a named internal event that is
stored but never published (``Located``, ``CredentialsChosen``, ``Renamed``,
``WakePeriodLearned``; the index's
``Indexed`` and ``Declared``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid5

from eventsourcing.domain import event

from hearth_events import EventData
from hearth_events.catalogue import (
    DesiredConfigChanged,
    DesiredConfigRemoved,
    DeviceAdopted,
    DeviceConfigApplied,
    DeviceConfigApplyFailed,
    DeviceDiscovered,
    DeviceDrifted,
    DeviceOffline,
    DeviceOnline,
    DeviceReleased,
    DriftResolved,
    FieldDiff,
)
from hearth_eventstore.store import HearthAggregate, Meta

NAMESPACE = UUID("2b0f7c7e-5d4a-4e59-9a35-7e6c1d0a9f42")
INDEX_ID = uuid5(NAMESPACE, "index")


Resolution = Literal["applied", "imported", "changed_back"]
ReleaseReason = Literal["declaration", "repository", "operator"]


class IllegalTransition(ValueError):
    """A command the device's current state does not allow."""


def _diff_key(diffs: Sequence[FieldDiff]) -> list[dict[str, Any]]:
    """Differences as stored (JSON), so a replayed drift compares equal to a new one."""
    return [d.model_dump(mode="json") for d in diffs]


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
        #: The desired config from Git (JSON, secret names only) and the commit it came from.
        self.desired: dict[str, Any] | None = None
        self.desired_repo: str | None = None
        self.desired_commit: str | None = None
        #: The device's groups and where each desired value comes from (field -> file).
        self.desired_groups: tuple[str, ...] | None = None
        self.desired_sources: dict[str, str] = {}
        #: The differences last recorded by ``DeviceDrifted``; () while in sync.
        self.drift: tuple[FieldDiff, ...] = ()
        self.applied_commit: str | None = None
        #: A sleeping device's wake period as it last stated it (seconds).
        self.wake_period_s: float | None = None

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

    def release(self, reason: ReleaseReason, meta: Meta, detail: str = "") -> bool:
        """Stop managing the device; False when it is not managed. The device keeps its
        config: Hearth forgets what it wanted of it (desired config, drift, presence, the
        secret it logged in with) and may adopt it again later."""
        if not self.adopted:
            return False
        self.record(
            DeviceReleased(device_id=self.device_id, name=self.name, reason=reason, detail=detail),
            meta,
        )
        return True

    def learn_wake_period(self, period_s: float) -> bool:
        """A sleeping device stated how often it wakes; kept so that a restart does not
        wait the default period (or call it overdue) before its next contact."""
        if period_s <= 0 or period_s == self.wake_period_s:
            return False
        self._wake_period_learned(period_s)
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

    # -- desired config, drift and apply ------------------------------------------------
    def _require_adopted(self) -> None:
        if not self.adopted:
            raise IllegalTransition(f"{self.device_id or self.mac} is not adopted")

    def _require_desired(self) -> None:
        self._require_adopted()
        if self.desired is None:
            raise IllegalTransition(f"{self.device_id} has no desired config")

    def desire(
        self,
        config: dict[str, Any],
        repo: str,
        commit: str,
        meta: Meta,
        *,
        groups: tuple[str, ...] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> bool:
        """Git says what the device should be; recorded only when the config, the groups
        or where a value comes from changed."""
        self._require_adopted()
        wanted = (config, groups, dict(sources or {}))
        if wanted == (self.desired, self.desired_groups, self.desired_sources):
            return False
        event = DesiredConfigChanged(
            device_id=self.device_id,
            repo=repo,
            commit=commit,
            config=config,
            groups=groups,
            sources=wanted[2],
        )
        self.record(event, meta)
        return True

    def remove_desired(self, repo: str, commit: str | None, meta: Meta, detail: str = "") -> bool:
        """Git no longer says what the device should be (its file is gone, or no repository
        is declared) while Hearth still manages it; False when there was no desired config.
        Its drift goes with it: there is nothing left to differ from."""
        self._require_adopted()
        if self.desired is None:
            return False
        self.record(
            DesiredConfigRemoved(device_id=self.device_id, repo=repo, commit=commit, detail=detail),
            meta,
        )
        return True

    def drifted(self, diffs: Sequence[FieldDiff], meta: Meta) -> bool:
        """The device differs from Git; recorded only when the differences changed."""
        self._require_desired()
        if not diffs:
            raise IllegalTransition(f"{self.device_id}: no differences; resolve the drift")
        if _diff_key(diffs) == _diff_key(self.drift):
            return False
        self.record(DeviceDrifted(device_id=self.device_id, differences=tuple(diffs)), meta)
        return True

    def drift_resolved(self, how: Resolution, meta: Meta) -> bool:
        """The device and Git agree again; False when there was no drift."""
        if not self.drift:
            return False
        self.record(DriftResolved(device_id=self.device_id, how=how), meta)
        return True

    def applied(self, fields: Sequence[str], commit: str | None, meta: Meta) -> None:
        self._require_desired()
        self.record(
            DeviceConfigApplied(device_id=self.device_id, commit=commit, fields=tuple(fields)),
            meta,
        )

    def apply_failed(self, reason: str, meta: Meta) -> None:
        self._require_adopted()
        self.record(DeviceConfigApplyFailed(device_id=self.device_id, reason=reason), meta)

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
        elif isinstance(data, DeviceReleased):
            self._released()
        else:
            self._when_config(data)

    def _released(self) -> None:
        self.adopted, self.name, self.online, self.password_secret = False, None, None, None
        self._desired_removed()
        self.applied_commit = None

    def _desired_removed(self) -> None:
        self.desired = self.desired_repo = self.desired_commit = None
        self.desired_groups, self.desired_sources = None, {}
        self.drift = ()

    def _when_config(self, data: EventData) -> None:
        if isinstance(data, DesiredConfigChanged):
            self.desired, self.desired_repo = dict(data.config), data.repo
            self.desired_commit = data.commit
            self.desired_groups, self.desired_sources = data.groups, dict(data.sources)
        elif isinstance(data, DesiredConfigRemoved):
            self._desired_removed()
        elif isinstance(data, DeviceDrifted):
            self.drift = tuple(data.differences)
        elif isinstance(data, DriftResolved):
            self.drift = ()
        elif isinstance(data, DeviceConfigApplied):
            self.applied_commit = data.commit

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

    class WakePeriodLearned(HearthAggregate.Event):
        period_s: float

    @event(WakePeriodLearned)
    def _wake_period_learned(self, period_s: float) -> None:
        self.wake_period_s = period_s

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
        #: ``device_config:`` of hearth.yaml and its repository, as JSON data (None: none).
        self.source: dict[str, Any] | None = None
        self.repository: dict[str, Any] | None = None

    def add(self, device_id: str, mac: str) -> None:
        if self.macs.get(device_id) != normal_mac(mac):
            self._indexed(device_id, normal_mac(mac))

    def declare(self, specs: dict[str, dict[str, Any]]) -> bool:
        if specs == self.declared:
            return False
        self._declared(specs)
        return True

    def declare_source(
        self, source: dict[str, Any] | None, repository: dict[str, Any] | None
    ) -> bool:
        if (source, repository) == (self.source, self.repository):
            return False
        self._source_declared(source, repository)
        return True

    class SourceDeclared(HearthAggregate.Event):
        source: dict[str, Any] | None
        repository: dict[str, Any] | None

    @event(SourceDeclared)
    def _source_declared(
        self, source: dict[str, Any] | None, repository: dict[str, Any] | None
    ) -> None:
        self.source, self.repository = source, repository

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
