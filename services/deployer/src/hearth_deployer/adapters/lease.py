"""One deployment per target at a time, across every deployer instance, fenced.

A lease is a key in the ``hearth_locks`` bucket, written only if absent (compare-and-set)
and renewed well inside the bucket's TTL; if its holder dies, it lapses by itself. The
instance that recovers a deployment may take over that deployment's own lease.

The lease is also the fence around every write to the target (``remote.fence``). Its
fencing token is the KV revision of our last successful write, and its validity is local
and conservative: it holds only while ``now < sent + TTL - margin``, where ``sent`` is when
the last successful create or update was *sent* (the server can only have stored it
later, so the key cannot lapse before ``sent + TTL``). A renewal that finds another
revision loses the lease at once; one that fails (bus error, timeout) is retried quickly,
and once the validity runs out without a successful renewal the lease is lost. Lost means
the run stops (:meth:`TargetLease.guard` cancels it), and every later write check raises
:class:`LeaseLost` — not an ``Exception``, so no step takes it for its own failure and goes
on to compensate: the instance that takes the lease next finishes or compensates the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import string
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from nats.js.errors import APIError, KeyWrongLastSequenceError, NotFoundError

from hearth_events.jetstream import LOCK_TTL_S, LOCKS_BUCKET
from hearth_servicekit import get_logger

_CREATE_ATTEMPTS = 3
#: JetStream's error codes for a write expecting another last sequence of its subject.
WRONG_LAST_SEQUENCE = frozenset({10071, 10164})

log = get_logger("hearth.lease")

T = TypeVar("T")
_KEY_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


def lease_key(target: str) -> str:
    """A KV key for a target name (KV keys allow fewer characters than names do)."""
    escaped = "".join(
        c if c in _KEY_SAFE else "".join(f"={b:02X}" for b in c.encode()) for c in target
    )
    return f"target.{escaped}"


@dataclass(frozen=True)
class LeaseTiming:
    """Every interval follows from the bucket's TTL (30 s unless a test declares less)."""

    ttl_s: float = LOCK_TTL_S

    @property
    def margin_s(self) -> float:
        """Validity ends this long before the key could lapse: room for a write in flight."""
        return self.ttl_s / 5

    @property
    def renew_every_s(self) -> float:
        return self.ttl_s / 3

    @property
    def retry_every_s(self) -> float:
        """The pause before another try after a failed renewal."""
        return self.ttl_s / 30

    @property
    def attempt_s(self) -> float:
        """How long one renewal or one confirmation may take."""
        return self.ttl_s / 6

    @classmethod
    async def of_bucket(cls, kv: Any) -> LeaseTiming:
        """The timing of the bucket as declared: the lease never outlives its key."""
        ttl = (await kv.status()).ttl
        return cls(float(ttl)) if ttl else cls()


@dataclass(frozen=True)
class LeaseHolder:
    deployment_id: str
    owner: str


class LeaseBusy(Exception):
    def __init__(self, target: str, holder: LeaseHolder) -> None:
        super().__init__(f"target {target} is busy with deployment {holder.deployment_id}")
        self.holder = holder


class LeaseLost(BaseException):
    """The lease is no longer ours (or may not be): stop touching the target at once.

    A ``BaseException``, like ``asyncio.CancelledError``: ``except Exception`` in a step
    must not catch it and go on to write (a restore, a failure event) without the lease."""


class TargetLease:
    def __init__(
        self,
        kv: Any,
        target: str,
        deployment_id: str,
        owner: str,
        *,
        timing: LeaseTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self.target = target
        self.key = lease_key(target)
        self.holder = LeaseHolder(deployment_id, owner)
        self.timing = timing or LeaseTiming()
        self._clock = clock
        #: The fencing token: the KV revision of our last successful create or update.
        self._revision: int | None = None
        self._valid_until = float("-inf")
        self._renewer: asyncio.Task[None] | None = None
        #: Set by :meth:`release`: the renewer ends at its next look.
        self._stopping = asyncio.Event()
        self._writing = asyncio.Lock()
        self.lost = asyncio.Event()
        self.lost_reason: str | None = None
        #: The last write step that passed the fence: where a lost run stopped.
        self.step: str | None = None

    @property
    def revision(self) -> int | None:
        return self._revision

    def _value(self) -> bytes:
        return json.dumps(
            {"deployment_id": self.holder.deployment_id, "owner": self.holder.owner}
        ).encode()

    def _written(self, revision: int, sent: float) -> None:
        self._revision = revision
        self._valid_until = sent + self.timing.ttl_s - self.timing.margin_s

    def remaining(self) -> float:
        """Seconds of validity left (negative once run out)."""
        return self._valid_until - self._clock()

    def _lose(self, reason: str) -> None:
        if self.lost.is_set():
            return
        self.lost_reason = reason
        self.lost.set()
        log.warning(
            "lease lost",
            target=self.target,
            deployment_id=self.holder.deployment_id,
            reason=reason,
            last_step=self.step,
        )

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
        sent = self._clock()
        try:
            revision = await self._create()
        except KeyWrongLastSequenceError:
            found = await self.current_holder()
            sent = self._clock()
            if found is None:
                revision = await self._create()
            else:
                holder, current = found
                if not (take_over_own and holder == self.holder):
                    raise LeaseBusy(self.target, holder) from None
                revision = await self._kv.update(self.key, self._value(), last=current)
        self._written(revision, sent)
        self._stopping.clear()
        self._renewer = asyncio.create_task(self._renew_forever(), name=f"lease:{self.target}")

    async def _create(self) -> int:
        """Create the key. nats-py's ``create`` reads the key back after a refusal (to see
        whether it only holds a delete marker); when the previous lease lapsed (the
        bucket's TTL) between the two, that read says "not found". The key is gone then:
        create it again (bounded; a holder that appears meanwhile refuses it as usual)."""
        for _ in range(_CREATE_ATTEMPTS - 1):
            try:
                revision: int = await self._kv.create(self.key, self._value())
                return revision
            except KeyWrongLastSequenceError:
                raise
            except NotFoundError:
                continue
        created: int = await self._kv.create(self.key, self._value())
        return created

    async def renew(self) -> bool:
        """Extend the lease; False once it is lost (to someone else, or by running out)."""
        if not self.valid():
            return False
        async with self._writing:
            sent = self._clock()
            try:
                async with asyncio.timeout(self._attempt_s()):
                    revision = await self._kv.update(self.key, self._value(), last=self._revision)
            except KeyWrongLastSequenceError:
                self._lose("the lease's revision moved: another deployer holds it")
                return False
            except Exception as exc:  # a bus error or a timeout: retried while still valid
                log.warning(
                    "lease renewal failed",
                    target=self.target,
                    error=str(exc) or type(exc).__name__,
                    valid_for_s=round(max(self.remaining(), 0.0), 1),
                )
                return self.valid()
            self._written(revision, sent)
            return True

    def next_pause(self, renewed: bool) -> float:
        """How long the renewer waits: a full period after a success, a short retry after a
        failure, and never past the end of the validity (it is declared lost right then)."""
        pause = self.timing.renew_every_s if renewed else self.timing.retry_every_s
        return max(min(pause, self.remaining()), 0.0)

    def _attempt_s(self) -> float:
        """How long a write or a read may take now: never past the end of the validity."""
        return max(min(self.timing.attempt_s, self.remaining()), 0.0)

    async def _renew_forever(self) -> None:
        """Renew until :meth:`release` asks it to stop; never cancelled midway. A renewal
        cut off between its write and its answer leaves the key at a revision this lease
        does not know, which no delete can then remove (the key stays until the TTL, and
        the target's next deployment waits for it). Python 3.11's ``wait_for`` also
        swallowed a cancellation that came as the answer did, and renewed forever."""
        renewed = True
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.next_pause(renewed)):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            renewed = await self.renew()
            if self.lost.is_set():
                return

    async def release(self) -> None:
        """Stop renewing (a renewal in flight is answered first: at most ``attempt_s``) and
        delete the key at the revision this lease wrote last."""
        self._stopping.set()
        if self._renewer is not None and not self._renewer.done():
            await asyncio.wait({self._renewer})  # a release cancelled leaves it to end
        if self._revision is not None and not self.lost.is_set():
            try:
                await self._kv.delete(self.key, last=self._revision)
            except (KeyWrongLastSequenceError, NotFoundError):
                pass
            except APIError as exc:
                # A delete is refused at another revision as a bad request (an update as
                # KeyWrongLastSequenceError): the key moved on, it is not ours to delete.
                if exc.err_code not in WRONG_LAST_SEQUENCE:
                    log.warning("lease not released", target=self.target, error=str(exc))
            except Exception as exc:  # the bus is cut: the key lapses by the bucket's TTL
                log.warning(
                    "lease not released; it lapses by itself",
                    target=self.target,
                    error=str(exc) or type(exc).__name__,
                )
        self._revision = None

    # -- the fence (see remote.fence) ----------------------------------------------------
    def valid(self) -> bool:
        """Whether this process may still write to the target; local and cheap."""
        if self.lost.is_set():
            return False
        if self._clock() < self._valid_until:
            return True
        self._lose(f"no renewal succeeded within {self.timing.ttl_s - self.timing.margin_s:g} s")
        return False

    def check(self, step: str | None = None) -> None:
        if not self.valid():
            raise LeaseLost(
                f"the lease on {self.target} was lost ({self.lost_reason}); another deployer "
                "finishes or compensates the deployment"
            )
        if step is not None:
            self.step = step

    async def confirm(self, step: str) -> None:
        """``check``, then one KV read that the key still carries our revision (before files
        move into place). A read that fails leaves the decision to the local validity."""
        self.check(step)
        async with self._writing:  # never between a renewal's write and its answer
            try:
                async with asyncio.timeout(self._attempt_s()):
                    entry = await self._kv.get(self.key)
            except NotFoundError:
                self._lose("the lease's key is gone")
            except Exception as exc:
                log.info("could not confirm the lease", target=self.target, error=str(exc))
            else:
                if entry.revision != self._revision:
                    self._lose("the lease's revision moved: another deployer holds it")
        self.check(step)

    async def guard(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` while the lease holds; cancel it the moment the lease is lost."""
        task = asyncio.ensure_future(work)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task.cancelled() and self.lost.is_set():
            raise LeaseLost(f"the lease on {self.target} was lost ({self.lost_reason})")
        return task.result()


async def open_locks(js: Any) -> Any:
    return await js.key_value(LOCKS_BUCKET)
