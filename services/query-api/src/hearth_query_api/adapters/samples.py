"""Every device's live status sampled into ``device_samples`` (``domain.samples``): a watch
on the ``hearth_device_status`` bucket (its current values first, then each change) feeds
the sampler, and each bucket, when it ends, is stored in one multi-row upsert; rows older
than a day are pruned as they go.

Not a projection: nothing here comes from events, so a rebuild leaves the table alone, and a
restarted query API carries on from the bucket's current values. Two query APIs write the
same rows from the same bucket; the upsert makes the second write the same as the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hearth_events import unescape_token
from hearth_events.jetstream import DEVICE_STATUS_BUCKET
from hearth_query_api.domain.samples import KEEP_S, Sample, Sampler
from hearth_servicekit import get_logger

log = get_logger("hearth.query_api.samples")

UPSERT = """
INSERT INTO device_samples
    (device_id, bucket, power_w, power_max_w, rssi_dbm, rssi_min_dbm, online)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (device_id, bucket) DO UPDATE SET
    power_w = EXCLUDED.power_w, power_max_w = EXCLUDED.power_max_w,
    rssi_dbm = EXCLUDED.rssi_dbm, rssi_min_dbm = EXCLUDED.rssi_min_dbm,
    online = EXCLUDED.online
"""

HISTORY = """
SELECT bucket, power_w, power_max_w, rssi_dbm, rssi_min_dbm, online FROM device_samples
 WHERE device_id = $1 AND bucket >= $2 ORDER BY bucket
"""


async def save_samples(pool: Any, samples: list[Sample], now: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if samples:
            await conn.executemany(
                UPSERT,
                [
                    (
                        s.device_id,
                        s.bucket,
                        s.power_w,
                        s.power_max_w,
                        s.rssi_dbm,
                        s.rssi_min_dbm,
                        s.online,
                    )
                    for s in samples
                ],
            )
        await conn.execute(
            "DELETE FROM device_samples WHERE bucket < $1", now - timedelta(seconds=KEEP_S)
        )


async def device_samples(conn: Any, device_id: str, since: datetime) -> list[Any]:
    return list(await conn.fetch(HISTORY, device_id, since))


class StatusSampler:
    """Runs until ``stop``: the watch, and a store of each bucket as it ends."""

    def __init__(
        self,
        js: Any,
        pool: Any,
        sampler: Sampler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._js = js
        self._pool = pool
        self.sampler = sampler or Sampler()
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bucket is not declared yet, the bus went away
                log.warning("sampling device status failed; trying again", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)

    async def _follow(self, stop: asyncio.Event) -> None:
        kv = await self._js.key_value(DEVICE_STATUS_BUCKET)
        watcher = await kv.watchall()
        storing = asyncio.create_task(self._store_each_bucket(stop), name="store-samples")
        try:
            while not stop.is_set():
                try:
                    entry = await watcher.updates(timeout=1.0)
                except TimeoutError:
                    continue
                if entry is not None:  # None: the current values have all arrived
                    self.take(entry.key, entry.value, entry.operation)
        finally:
            storing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await storing
            with contextlib.suppress(Exception):
                await watcher.stop()

    def take(self, key: str, value: bytes | None, operation: str | None) -> None:
        device_id = unescape_token(key)
        if operation in ("DEL", "PURGE"):
            self.sampler.forget(device_id)
            return
        try:
            status = json.loads(value or b"null")
        except ValueError:
            return
        if isinstance(status, dict):
            self.sampler.observe(device_id, status, self._clock())

    async def _store_each_bucket(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = self._clock()
            next_end = self.sampler.start_of(now) + self.sampler.bucket_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(next_end - now, 0.05))
            await self.store_ended()

    async def store_ended(self) -> int:
        """Store every bucket that has ended; how many samples."""
        now = self._clock()
        samples = self.sampler.close(now)
        await save_samples(self._pool, samples, datetime.fromtimestamp(now, UTC))
        return len(samples)
