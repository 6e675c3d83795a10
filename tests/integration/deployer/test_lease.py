"""Per-target leases in the hearth_locks bucket, against a real JetStream."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_deployer.adapters.lease import LeaseBusy, TargetLease, lease_key, open_locks
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
