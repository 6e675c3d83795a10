"""The lease's validity and renewal, on a fake clock and a fake KV bucket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from hearth_deployer.adapters.lease import LeaseLost, LeaseTiming, TargetLease

TIMING = LeaseTiming(30.0)  # margin 6 s, renewal every 10 s: valid until sent + 24 s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Entry:
    value: bytes
    revision: int


class FakeKV:
    """Compare-and-set like JetStream KV; ``down`` makes every call fail like a cut bus,
    ``hang`` makes it never answer, and ``took`` makes each write take that long."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.keys: dict[str, Entry] = {}
        self.seq = 0
        self.down = False
        self.hang = False
        self.took = 0.0
        self.gets = 0

    async def _call(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.down:
            raise ConnectionError("nats: connection closed")
        self.clock.now += self.took

    def _put(self, key: str, value: bytes) -> int:
        self.seq += 1
        self.keys[key] = Entry(value, self.seq)
        return self.seq

    async def create(self, key: str, value: bytes) -> int:
        await self._call()
        if key in self.keys:
            raise KeyWrongLastSequenceError()
        return self._put(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        await self._call()
        if key not in self.keys or self.keys[key].revision != last:
            raise KeyWrongLastSequenceError()
        return self._put(key, value)

    async def get(self, key: str) -> Entry:
        self.gets += 1
        await self._call()
        if key not in self.keys:
            raise KeyNotFoundError()
        return self.keys[key]

    async def delete(self, key: str, last: int | None = None) -> None:
        await self._call()
        self.keys.pop(key, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kv(clock: Clock) -> FakeKV:
    return FakeKV(clock)


async def held(kv: FakeKV, clock: Clock) -> TargetLease:
    lease = TargetLease(kv, "ha", "dep-1", "deployer-a", timing=TIMING, clock=clock)
    await lease.acquire()
    assert lease._renewer is not None
    lease._renewer.cancel()  # the tests call renew() themselves, on the fake clock
    return lease


async def test_the_token_is_the_revision_of_our_last_write(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)
    assert lease.revision == kv.keys[lease.key].revision == 1
    clock.now += 10
    assert await lease.renew()
    assert lease.revision == kv.keys[lease.key].revision == 2


async def test_valid_only_until_the_last_write_was_sent_plus_ttl_minus_margin(
    kv: FakeKV, clock: Clock
) -> None:
    kv.took = 5.0  # the answer comes late: validity counts from the sending
    lease = await held(kv, clock)
    assert clock.now == 1005.0
    clock.now = 1000.0 + 24.0 - 0.001
    lease.check("upload")
    assert lease.step == "upload"
    clock.now = 1000.0 + 24.0
    assert not lease.valid()
    with pytest.raises(LeaseLost, match="no renewal succeeded within 24 s"):
        lease.check("rename into place")
    assert lease.lost.is_set() and lease.step == "upload"


async def test_a_failed_renewal_is_not_a_renewal(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)
    kv.down = True
    clock.now += 10
    assert await lease.renew()  # failed, but still valid: retried soon
    assert lease.next_pause(renewed=False) == pytest.approx(TIMING.retry_every_s)
    clock.now += 13.9
    assert await lease.renew()
    assert lease.next_pause(renewed=False) == pytest.approx(0.1)  # never past the validity
    clock.now += 0.1
    assert not await lease.renew()  # ran out without one successful renewal
    assert lease.lost.is_set()
    with pytest.raises(LeaseLost):
        lease.check("upload")
    kv.down = False  # the bus is back, but the lease stays lost: someone may hold it now
    assert not await lease.renew()
    assert not lease.valid()


async def test_a_renewal_that_recovers_in_time_extends_the_validity(
    kv: FakeKV, clock: Clock
) -> None:
    lease = await held(kv, clock)
    kv.down = True
    clock.now += 20
    assert await lease.renew()
    kv.down = False
    clock.now += 2
    assert await lease.renew()
    clock.now += 23
    lease.check("upload")  # valid until 1022 + 24


async def test_a_renewal_that_hangs_is_cut_off_and_the_lease_runs_out(kv: FakeKV) -> None:
    """Real time, tiny TTL: an unanswered renewal is given up, never waited on past the end
    of the validity."""
    lease = TargetLease(kv, "ha", "dep-1", "deployer-a", timing=LeaseTiming(0.3))
    await lease.acquire()
    assert lease._renewer is not None
    lease._renewer.cancel()
    kv.hang = True
    attempts = 0
    async with asyncio.timeout(5):
        while await lease.renew():
            attempts += 1
    assert attempts >= 1 and lease.lost.is_set()


async def test_another_holder_loses_the_lease_at_once(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)
    kv.keys[lease.key] = Entry(b'{"deployment_id": "dep-2", "owner": "b"}', 99)
    clock.now += 1
    assert not await lease.renew()
    assert "another deployer holds it" in (lease.lost_reason or "")
    with pytest.raises(LeaseLost):
        lease.check("upload")


async def test_confirm_reads_the_revision_once(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)
    await lease.confirm("upload")
    assert kv.gets == 1
    kv.down = True  # unanswered: the local validity decides
    await lease.confirm("upload")
    kv.down = False
    kv.keys[lease.key] = Entry(b"{}", 42)  # someone else wrote the key meanwhile
    with pytest.raises(LeaseLost, match="revision moved"):
        await lease.confirm("rename into place")


async def test_confirm_without_the_key_loses_the_lease(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)
    del kv.keys[lease.key]  # lapsed on the server
    with pytest.raises(LeaseLost, match="key is gone"):
        await lease.confirm("restore")


async def test_a_lost_lease_is_left_alone_on_release(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)
    clock.now += 30
    assert not lease.valid()
    kv.keys[lease.key] = Entry(b'{"deployment_id": "dep-2", "owner": "b"}', 7)
    await lease.release()
    assert kv.keys[lease.key].revision == 7


async def test_losing_the_lease_stops_the_run_at_once(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)
    started, stopped = asyncio.Event(), asyncio.Event()

    async def run() -> str:
        started.set()
        try:
            await asyncio.Event().wait()  # an upload that would go on and on
        finally:
            stopped.set()
        return "done"

    guarded = asyncio.create_task(lease.guard(run()))
    await started.wait()
    lease._lose("test")
    with pytest.raises(LeaseLost, match="was lost"):
        await guarded
    assert stopped.is_set()


async def test_a_run_that_ends_while_held_returns_its_result(kv: FakeKV, clock: Clock) -> None:
    lease = await held(kv, clock)

    async def run() -> str:
        return "done"

    assert await lease.guard(run()) == "done"


async def test_the_renewer_declares_the_loss_when_the_validity_ends(kv: FakeKV) -> None:
    """Real time, tiny TTL: with the bus down the renewer itself notices, no check needed."""
    lease = TargetLease(kv, "ha", "dep-1", "deployer-a", timing=LeaseTiming(0.3))
    await lease.acquire()
    kv.down = True
    async with asyncio.timeout(5):
        await lease.lost.wait()
    assert "no renewal succeeded" in (lease.lost_reason or "")
    await lease.release()


def test_the_timing_follows_the_ttl() -> None:
    timing = LeaseTiming()
    assert timing.ttl_s == 30.0
    assert (timing.renew_every_s, timing.margin_s, timing.retry_every_s) == (10.0, 6.0, 1.0)
    assert timing.renew_every_s + timing.margin_s < timing.ttl_s


async def test_a_release_on_a_cut_bus_leaves_the_key_to_lapse(kv: FakeKV, clock: Clock) -> None:
    """Found by the cluster kill test: a release that met a bus error (a NATS node gone,
    its stream leader not yet elected) raised out of the dispatcher's ``finally`` before the
    target left its ``running`` table, so that instance never deployed the target again."""
    lease = await held(kv, clock)
    kv.down = True
    await lease.release()  # does not raise: the key lapses by the bucket's TTL
    assert lease.revision is None
    kv.down = False
    assert lease.key in kv.keys  # still there, until it lapses


async def test_a_lease_that_lapses_while_it_is_taken_is_taken_all_the_same(
    kv: FakeKV, clock: Clock
) -> None:
    """nats-py's ``create``, refused because the old lease was still there, reads the key
    back; when the bucket's TTL removed it in between, that read raises "key not found"
    out of ``create``. A full run's fencing test died on it: the key was simply free."""
    create = kv.create
    lapsed = [True]

    async def create_racing_the_ttl(key: str, value: bytes) -> int:
        if lapsed.pop() if lapsed else False:
            raise KeyNotFoundError()
        return await create(key, value)

    kv.create = create_racing_the_ttl  # type: ignore[method-assign]
    lease = TargetLease(kv, "ha", "dep-1", "deployer-a", timing=TIMING, clock=clock)
    await lease.acquire()
    assert lease.valid() and kv.keys["target.ha"].revision == lease._revision
    assert lease._renewer is not None
    lease._renewer.cancel()
