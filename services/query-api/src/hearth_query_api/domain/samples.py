"""A device's power and Wi-Fi signal over the last day, sampled from its live status.

Time is cut into fixed buckets (``BUCKET_S``, aligned to the clock); each bucket of a device
holds the time-weighted average of what its live status said during the bucket, the
power's peak, the weakest signal and the share of the time it was online. The device
manager writes a status only when it changes, so a device can stay quiet for hours: every
bucket starts from the last value known (carried forward), so a steady 40 W reads 40 W, not
a gap. Pure: the adapter (``adapters.samples``) feeds it the statuses and stores its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BUCKET_S = 600  # 144 points a day: plenty for a small graph
KEEP_S = 26 * 3600  # a day, and a little more for the bucket in progress and clock skew


@dataclass(frozen=True)
class Reading:
    """What one live status says: watts summed over the metering components (None: the
    device meters nothing), the signal in dBm (None: unknown), online."""

    power_w: float | None
    rssi_dbm: int | None
    online: bool


def reading_of(status: dict[str, Any]) -> Reading:
    powers = [
        float(c["apower"])
        for c in (status.get("components") or {}).values()
        if isinstance(c, dict) and isinstance(c.get("apower"), int | float)
    ]
    rssi = status.get("rssi")
    online = bool(status.get("online"))
    return Reading(
        power_w=round(sum(powers), 3) if powers else None,
        rssi_dbm=int(rssi) if isinstance(rssi, int | float) and online else None,
        online=online,
    )


@dataclass(frozen=True)
class Sample:
    """One bucket of one device, as stored (``device_samples``)."""

    device_id: str
    bucket: datetime  # the bucket's start
    power_w: float | None
    power_max_w: float | None
    rssi_dbm: float | None
    rssi_min_dbm: int | None
    online: float  # the share of the bucket's known time the device was online


@dataclass
class _Device:
    last: Reading
    since: float  # when ``last`` began to count (epoch seconds)
    known_s: float = 0.0
    online_s: float = 0.0
    power_s: float = 0.0
    power_area: float = 0.0
    power_max: float | None = None
    rssi_s: float = 0.0
    rssi_area: float = 0.0
    rssi_min: int | None = None

    def advance(self, until: float) -> None:
        """Count ``last`` from ``since`` to ``until``."""
        seconds = until - self.since
        if seconds <= 0:
            return
        self.since = until
        self.known_s += seconds
        if self.last.online:
            self.online_s += seconds
        if self.last.power_w is not None:
            self.power_s += seconds
            self.power_area += self.last.power_w * seconds
        if self.last.rssi_dbm is not None:
            self.rssi_s += seconds
            self.rssi_area += self.last.rssi_dbm * seconds

    def note(self, reading: Reading) -> None:
        """The peaks count every value seen, however briefly."""
        if reading.power_w is not None:
            peak = self.power_max
            self.power_max = reading.power_w if peak is None else max(peak, reading.power_w)
        if reading.rssi_dbm is not None:
            low = self.rssi_min
            self.rssi_min = reading.rssi_dbm if low is None else min(low, reading.rssi_dbm)

    def sample(self, device_id: str, bucket: datetime) -> Sample | None:
        if self.known_s <= 0:
            return None
        return Sample(
            device_id=device_id,
            bucket=bucket,
            power_w=round(self.power_area / self.power_s, 2) if self.power_s else None,
            power_max_w=self.power_max,
            rssi_dbm=round(self.rssi_area / self.rssi_s, 1) if self.rssi_s else None,
            rssi_min_dbm=self.rssi_min,
            online=round(self.online_s / self.known_s, 3),
        )

    def reset(self) -> None:
        """A new bucket: nothing counted yet, the last reading still in force."""
        self.known_s = self.online_s = self.power_s = self.power_area = 0.0
        self.rssi_s = self.rssi_area = 0.0
        self.power_max = self.last.power_w
        self.rssi_min = self.last.rssi_dbm


@dataclass
class Sampler:
    """Every device's readings, bucket by bucket."""

    bucket_s: int = BUCKET_S
    devices: dict[str, _Device] = field(default_factory=dict)
    bucket_start: float | None = None

    def start_of(self, at: float) -> float:
        return at - at % self.bucket_s

    def observe(self, device_id: str, status: dict[str, Any], at: float) -> None:
        """The device's live status as of ``at`` (epoch seconds)."""
        if self.bucket_start is None:
            self.bucket_start = self.start_of(at)
        reading = reading_of(status)
        device = self.devices.get(device_id)
        if device is None:
            device = self.devices[device_id] = _Device(reading, max(at, self.bucket_start))
        else:
            device.advance(at)
            device.last = reading
        device.note(reading)

    def forget(self, device_id: str) -> None:
        self.devices.pop(device_id, None)

    def close(self, at: float) -> list[Sample]:
        """Every bucket that ended by ``at``: one sample per device that had a reading."""
        samples: list[Sample] = []
        if self.bucket_start is None:
            self.bucket_start = self.start_of(at)
            return samples
        while self.bucket_start + self.bucket_s <= at:
            end = self.bucket_start + self.bucket_s
            bucket = datetime.fromtimestamp(self.bucket_start, UTC)
            for device_id, device in self.devices.items():
                device.advance(end)
                sample = device.sample(device_id, bucket)
                if sample is not None:
                    samples.append(sample)
                device.reset()
            self.bucket_start = end
        return samples
