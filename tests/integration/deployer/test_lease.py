"""Per-target leases in the hearth_locks bucket, against a real JetStream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hearth_deployer.adapters.lease import (
    LeaseBusy,
    LeaseTiming,
    TargetLease,
    lease_key,
    open_locks,
)
from hearth_events.jetstream import LOCKS_BUCKET, ensure

pytestmark = pytest.mark.integration


async def locks(js: Any) -> Any:
    await ensure(js, buckets=(LOCKS_BUCKET,))
    return await open_locks(js)


async def test_one_deployment_per_target(js: Any) -> None:
    kv = await locks(js)
    first = TargetLease(kv, "ha-main", "dep-1", "deployer-a")
    await first.acquire()
    with pytest.raises(LeaseBusy, match="busy with deployment dep-1"):
        await TargetLease(kv, "ha-main", "dep-2", "deployer-b").acquire()
    other_target = TargetLease(kv, "nginx", "dep-3", "deployer-b")
    await other_target.acquire()  # other targets are independent
    await first.release()
    second = TargetLease(kv, "ha-main", "dep-2", "deployer-b")
    await second.acquire()
    await second.release()
    await other_target.release()


async def test_the_restarted_instance_takes_over_its_own_deployments_lease(js: Any) -> None:
    kv = await locks(js)
    crashed = TargetLease(kv, "garage", "dep-9", "deployer-1")
    await crashed.acquire()
    if crashed._renewer:  # the process died: nobody renews or releases
        crashed._renewer.cancel()
    with pytest.raises(LeaseBusy):
        await TargetLease(kv, "garage", "dep-10", "deployer-1").acquire(take_over_own=True)
    with pytest.raises(LeaseBusy):  # another live instance is never robbed
        await TargetLease(kv, "garage", "dep-9", "deployer-2").acquire(take_over_own=True)
    recovered = TargetLease(kv, "garage", "dep-9", "deployer-1")
    await recovered.acquire(take_over_own=True)
    holder = await recovered.current_holder()
    assert holder is not None and holder[0].owner == "deployer-1"
    await recovered.release()
    assert await recovered.current_holder() is None


async def test_a_lease_taken_away_is_noticed(js: Any) -> None:
    kv = await locks(js)
    lease = TargetLease(kv, "pi", "dep-1", "a")
    await lease.acquire()
    await kv.put(lease.key, b'{"deployment_id": "dep-x", "owner": "b"}')  # someone else
    assert await lease.renew() is False  # the revision moved under us
    assert lease.lost.is_set()
    await lease.release()  # does not delete the other holder's lease
    holder = await lease.current_holder()
    assert holder is not None and holder[0].deployment_id == "dep-x"
    await kv.delete(lease.key)


def test_keys_are_safe_for_any_target_name() -> None:
    assert lease_key("home-assistant") == "target.home-assistant"
    assert lease_key("ha.main") == "target.ha=2Emain"
    assert lease_key("pi 4 garage") == "target.pi=204=20garage"


class AnswerMeetsRelease:
    """The real bucket, but the renewal that ``lease`` sends next meets its release: it
    begins in the very step the renewal's answer arrives (``late=False``), or while the
    renewal was stored but its answer is still on its way (``late=True``)."""

    def __init__(self, kv: Any, *, late: bool) -> None:
        self.kv, self.late = kv, late
        self.lease: TargetLease | None = None
        self.releasing: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kv, name)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        revision: int = await self.kv.update(key, value, last=last)
        if self.lease is not None and self.releasing is None:
            self.releasing = asyncio.create_task(self.lease.release())
            if self.late:
                await asyncio.sleep(0.05)
        return revision


@pytest.mark.parametrize("late", [False, True], ids=["with-the-answer", "before-the-answer"])
async def test_a_release_during_a_renewal_stops_it_and_frees_the_target(
    js: Any, late: bool
) -> None:
    """Regression: a deployment that ended as its lease was being renewed left the renewer
    running forever (Python 3.11's ``wait_for`` swallowed the cancellation that came with
    the answer), so the run never ended and the target took no deployment again; or, cut
    off before the answer, left the key at a revision the lease did not know, and the
    target's next deployment waited for the TTL."""
    kv = AnswerMeetsRelease(await locks(js), late=late)
    target = f"attic-{late}"
    lease = TargetLease(kv, target, "dep-1", "deployer-a", timing=LeaseTiming(3.0))
    await lease.acquire()
    kv.lease = lease  # the next renewal, 1 s from now, meets the release (each may take 0.5 s)
    async with asyncio.timeout(10):
        while kv.releasing is None:
            await asyncio.sleep(0.05)
    # Waited on without cancelling it on a timeout: a cancellation would stop the renewer.
    await asyncio.wait({kv.releasing}, timeout=10)
    assert lease._renewer is not None
    renewing = not lease._renewer.done()
    lease._renewer.cancel()
    assert kv.releasing.done() and not renewing, "the release waits for a renewer that runs on"
    assert await lease.current_holder() is None  # deleted at the revision renewed last
    after = TargetLease(kv.kv, target, "dep-2", "deployer-a")
    await after.acquire()  # free at once, not after the bucket's TTL
    await after.release()
