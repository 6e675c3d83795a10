"""One deployment per target at a time, across every deployer instance.

A lease is a key in the ``hearth_locks`` bucket, written only if absent (compare-and-set)
and renewed well inside the bucket's TTL; if its holder dies, it lapses by itself. The
instance that recovers a deployment may take over that deployment's own lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import string
from dataclasses import dataclass
from typing import Any

from nats.js.errors import KeyWrongLastSequenceError, NotFoundError

from hearth_events.jetstream import LOCK_TTL_S, LOCKS_BUCKET
from hearth_servicekit import get_logger

log = get_logger("hearth.lease")

RENEW_EVERY_S = LOCK_TTL_S / 3
_KEY_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


def lease_key(target: str) -> str:
    """A KV key for a target name (KV keys allow fewer characters than names do)."""
    escaped = "".join(
        c if c in _KEY_SAFE else "".join(f"={b:02X}" for b in c.encode()) for c in target
    )
    return f"target.{escaped}"


@dataclass(frozen=True)
class LeaseHolder:
    deployment_id: str
    owner: str


class LeaseBusy(Exception):
    def __init__(self, target: str, holder: LeaseHolder) -> None:
        super().__init__(f"target {target} is busy with deployment {holder.deployment_id}")
        self.holder = holder


class LeaseLost(Exception):
    """Someone else holds the lease now; the deployment must stop touching the target."""


class TargetLease:
    def __init__(self, kv: Any, target: str, deployment_id: str, owner: str) -> None:
        self._kv = kv
        self.target = target
        self.key = lease_key(target)
        self.holder = LeaseHolder(deployment_id, owner)
        self._revision: int | None = None
        self._renewer: asyncio.Task[None] | None = None
        self.lost = asyncio.Event()

    def _value(self) -> bytes:
        return json.dumps(
            {"deployment_id": self.holder.deployment_id, "owner": self.holder.owner}
        ).encode()

    async def current_holder(self) -> tuple[LeaseHolder, int] | None:
        try:
            entry = await self._kv.get(self.key)
        except NotFoundError:
            return None
        if not entry.value:
            return None
        data = json.loads(entry.value)
        return LeaseHolder(data["deployment_id"], data["owner"]), entry.revision

    async def acquire(self, *, take_over_own: bool = False) -> None:
        """Take the lease; with ``take_over_own``, also when this owner already holds it for
        this deployment (the same instance, restarted with the same ``HEARTH_INSTANCE``).
        Any other holder keeps it until it lapses, so a live instance is never robbed."""
        try:
            self._revision = await self._kv.create(self.key, self._value())
        except KeyWrongLastSequenceError:
            found = await self.current_holder()
            if found is None:
                self._revision = await self._kv.create(self.key, self._value())
            else:
                holder, revision = found
                if not (take_over_own and holder == self.holder):
                    raise LeaseBusy(self.target, holder) from None
                self._revision = await self._kv.update(self.key, self._value(), last=revision)
        self._renewer = asyncio.create_task(self._renew_forever())

    async def renew(self) -> bool:
        """Extend the lease; False once it is lost to someone else."""
        try:
            self._revision = await self._kv.update(self.key, self._value(), last=self._revision)
        except KeyWrongLastSequenceError:
            self.lost.set()
            return False
        except Exception as exc:  # a bus hiccup: the TTL leaves room for the next round
            log.warning("lease renewal failed", target=self.target, error=str(exc))
        return True

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            if not await self.renew():
                return

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self._revision is not None and not self.lost.is_set():
            with contextlib.suppress(KeyWrongLastSequenceError, NotFoundError):
                await self._kv.delete(self.key, last=self._revision)
        self._revision = None

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"the lease on {self.target} was lost; another deployer took it")


async def open_locks(js: Any) -> Any:
    return await js.key_value(LOCKS_BUCKET)
