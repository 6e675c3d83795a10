"""A staged firmware rollout: canaries first (one per model by default), then waves of N
with a pause between them; the first failure halts it.

The ``Rollout`` aggregate is event-sourced, so a device manager that restarts mid-rollout
reads where it was and goes on. Its command methods refuse illegal transitions with
:class:`IllegalTransition`; ``next_step`` says what the runner does next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID, uuid5

from eventsourcing.domain import event

from hearth_device_manager.domain.device import NAMESPACE, IllegalTransition
from hearth_events import EventData
from hearth_events.catalogue import (
    FirmwareRolloutCompleted,
    FirmwareRolloutHalted,
    FirmwareRolloutStarted,
    FirmwareRolloutWaveStarted,
    FirmwareUpdated,
    FirmwareUpdateFailed,
    FirmwareUpdateStarted,
)
from hearth_eventstore.store import HearthAggregate, Meta

ROLLOUTS_ID = uuid5(NAMESPACE, "rollouts")


def plan_waves(
    devices: Sequence[tuple[str, str]], wave_size: int, canaries_per_model: int = 1
) -> tuple[tuple[str, ...], ...]:
    """Waves for ``(device_id, model)`` pairs: the first ``canaries_per_model`` devices of
    each model (by id) as wave 0, then the rest by id in waves of ``wave_size``."""
    if wave_size < 1:
        raise ValueError("wave_size must be at least 1")
    ordered = sorted(set(devices))
    canaries: list[str] = []
    per_model: dict[str, int] = {}
    for device_id, model in ordered:
        if per_model.get(model, 0) < canaries_per_model:
            per_model[model] = per_model.get(model, 0) + 1
            canaries.append(device_id)
    rest = [d for d, _ in ordered if d not in canaries]
    waves = [tuple(canaries)] if canaries else []
    waves += [tuple(rest[i : i + wave_size]) for i in range(0, len(rest), wave_size)]
    return tuple(waves)


@dataclass(frozen=True)
class Step:
    """What the runner does next: update a device, start a wave (after ``wait_until``),
    or complete the rollout."""

    kind: Literal["device", "wave", "complete"]
    device_id: str = ""
    wave: int = 0
    wait_until: float = 0.0


class Rollout(HearthAggregate):
    @staticmethod
    def create_id(rollout_id: str) -> UUID:
        return UUID(rollout_id)

    def __init__(self, rollout_id: str) -> None:
        self.rollout_id = rollout_id
        self.channel = "stable"
        self.waves: tuple[tuple[str, ...], ...] = ()
        self.pause_s = 0.0
        self.pins: dict[str, str] = {}
        self.channels: dict[str, str] = {}
        self.state: Literal["planned", "running", "completed", "halted"] = "planned"
        self.wave = -1
        self.wave_done_at: float | None = None
        self.started: dict[str, tuple[str, str]] = {}  # device -> (from, to), in flight
        self.backups: dict[str, str] = {}
        self.updated: list[str] = []
        self.skipped: dict[str, str] = {}

    # -- commands --------------------------------------------------------------------
    def start(
        self,
        channel: str,
        waves: tuple[tuple[str, ...], ...],
        pause_s: float,
        pins: dict[str, str],
        meta: Meta,
        *,
        channels: dict[str, str] | None = None,
    ) -> None:
        """``channels``: a device's own channel (its group's) where it is not ``channel``."""
        if self.state != "planned":
            raise IllegalTransition(f"rollout {self.rollout_id} has already started")
        if not any(waves):
            raise IllegalTransition("a rollout needs at least one device")
        self.record(
            FirmwareRolloutStarted(
                rollout_id=self.rollout_id,
                channel=channel,
                waves=waves,
                pause_s=pause_s,
                versions=pins,
                channels={d: c for d, c in (channels or {}).items() if c != channel},
            ),
            meta,
        )

    def begin_wave(self, wave: int, meta: Meta) -> None:
        self._running()
        if wave != self.wave + 1 or wave >= len(self.waves):
            raise IllegalTransition(f"wave {wave} cannot start after wave {self.wave}")
        if self.wave >= 0 and not self._wave_done():
            raise IllegalTransition(f"wave {self.wave} is not finished")
        self.record(
            FirmwareRolloutWaveStarted(
                rollout_id=self.rollout_id, wave=wave, device_ids=self.waves[wave]
            ),
            meta,
        )

    def backed_up(self, device_id: str, backup_id: str) -> None:
        self._pending(device_id)
        self._backed_up(device_id, backup_id)

    def device_started(
        self, device_id: str, from_version: str, to_version: str, meta: Meta
    ) -> None:
        self._pending(device_id)
        if device_id in self.started:
            raise IllegalTransition(f"{device_id} is already updating")
        self.record(
            FirmwareUpdateStarted(
                device_id=device_id, from_version=from_version, to_version=to_version
            ),
            meta,
        )

    def device_updated(self, device_id: str, version: str, meta: Meta, at: float) -> None:
        self._pending(device_id)
        if device_id not in self.started:
            raise IllegalTransition(f"{device_id} was not updating")
        self.record(FirmwareUpdated(device_id=device_id, version=version), meta)
        self._wave_check(at)

    def device_skipped(self, device_id: str, why: str, at: float) -> None:
        self._pending(device_id)
        if device_id in self.started:
            raise IllegalTransition(f"{device_id} is updating; it cannot be skipped")
        self._skipped(device_id, why)
        self._wave_check(at)

    def device_failed(self, device_id: str, reason: str, meta: Meta) -> None:
        self._pending(device_id)
        from_version, to_version = self.started.get(device_id, ("", ""))
        self.record(
            FirmwareUpdateFailed(
                device_id=device_id,
                from_version=from_version,
                to_version=to_version,
                reason=reason,
            ),
            meta,
        )
        self.record(
            FirmwareRolloutHalted(
                rollout_id=self.rollout_id,
                wave=self.wave,
                device_id=device_id,
                reason=reason,
                updated=tuple(self.updated),
            ),
            meta,
        )

    def complete(self, meta: Meta) -> None:
        self._running()
        if self.wave != len(self.waves) - 1 or not self._wave_done():
            raise IllegalTransition(f"rollout {self.rollout_id} has devices left")
        self.record(
            FirmwareRolloutCompleted(
                rollout_id=self.rollout_id,
                updated=tuple(self.updated),
                skipped=tuple(self.skipped),
            ),
            meta,
        )

    # -- queries ---------------------------------------------------------------------
    def channel_of(self, device_id: str) -> str:
        return self.channels.get(device_id, self.channel)

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "halted")

    def next_step(self) -> Step | None:
        """None once the rollout has completed or halted."""
        if self.state != "running":
            return None
        if self.wave >= 0:
            for device_id in self.waves[self.wave]:
                if not self._done(device_id):
                    return Step("device", device_id, self.wave)
            if self.wave == len(self.waves) - 1:
                return Step("complete")
        until = (self.wave_done_at or 0.0) + self.pause_s if self.wave >= 0 else 0.0
        return Step("wave", wave=self.wave + 1, wait_until=until)

    def _done(self, device_id: str) -> bool:
        return device_id in self.skipped or device_id in self.updated

    def _wave_done(self) -> bool:
        return all(self._done(d) for d in self.waves[self.wave])

    def _running(self) -> None:
        if self.state != "running":
            raise IllegalTransition(f"rollout {self.rollout_id} is {self.state}")

    def _pending(self, device_id: str) -> None:
        self._running()
        if self.wave < 0 or device_id not in self.waves[self.wave]:
            raise IllegalTransition(f"{device_id} is not in the current wave")
        if self._done(device_id):
            raise IllegalTransition(f"{device_id} is already done")

    def _wave_check(self, at: float) -> None:
        if self._wave_done():
            self._wave_finished(at)

    # -- state -----------------------------------------------------------------------
    def when(self, data: EventData) -> None:
        if isinstance(data, FirmwareRolloutStarted):
            self.state, self.channel, self.waves = "running", data.channel, data.waves
            self.pause_s, self.pins = data.pause_s, dict(data.versions)
            self.channels = dict(data.channels)
        elif isinstance(data, FirmwareRolloutWaveStarted):
            self.wave, self.wave_done_at = data.wave, None
        elif isinstance(data, FirmwareUpdateStarted):
            self.started[data.device_id] = (data.from_version, data.to_version)
        elif isinstance(data, FirmwareUpdated):
            self.updated.append(data.device_id)
            self.started.pop(data.device_id, None)
        elif isinstance(data, FirmwareRolloutHalted):
            self.state = "halted"
        elif isinstance(data, FirmwareRolloutCompleted):
            self.state = "completed"

    class BackedUp(HearthAggregate.Event):
        device_id: str
        backup_id: str

    @event(BackedUp)
    def _backed_up(self, device_id: str, backup_id: str) -> None:
        self.backups[device_id] = backup_id

    class Skipped(HearthAggregate.Event):
        device_id: str
        why: str

    @event(Skipped)
    def _skipped(self, device_id: str, why: str) -> None:
        self.skipped[device_id] = why

    class WaveFinished(HearthAggregate.Event):
        at: float

    @event(WaveFinished)
    def _wave_finished(self, at: float) -> None:
        self.wave_done_at = at


class Rollouts(HearthAggregate):
    """Which rollouts are running: one at a time, resumed at start."""

    @staticmethod
    def create_id() -> UUID:
        return ROLLOUTS_ID

    def __init__(self) -> None:
        self.active: str | None = None

    def open(self, rollout_id: str) -> None:
        if self.active is not None:
            raise IllegalTransition(
                f"rollout {self.active} is still running; wait for it to finish"
            )
        self._opened(rollout_id)

    def close(self, rollout_id: str) -> None:
        if self.active == rollout_id:
            self._closed(rollout_id)

    class Opened(HearthAggregate.Event):
        rollout_id: str

    @event(Opened)
    def _opened(self, rollout_id: str) -> None:
        self.active = rollout_id

    class Closed(HearthAggregate.Event):
        rollout_id: str

    @event(Closed)
    def _closed(self, rollout_id: str) -> None:
        self.active = None


def describe(rollout: Rollout) -> dict[str, Any]:
    return {
        "rollout_id": rollout.rollout_id,
        "state": rollout.state,
        "channel": rollout.channel,
        "channels": dict(rollout.channels),
        "waves": [list(w) for w in rollout.waves],
        "wave": rollout.wave,
        "updated": list(rollout.updated),
        "skipped": dict(rollout.skipped),
    }
