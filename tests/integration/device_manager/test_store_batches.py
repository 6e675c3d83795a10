"""The device store saves ``act`` calls that queue up together, in one transaction, and
still answers each caller with its own result or exception (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from hearth_device_manager.adapters.store import (
    SCHEMA,
    DeviceManagerApplication,
    DeviceStore,
)
from hearth_device_manager.domain.device import Device, Found
from hearth_eventstore.store import Meta, open_application
from tests.support.relay_app import Inserts

pytestmark = pytest.mark.integration

META = Meta(actor="test")
MACS = [f"A0B0C0D0{n:04X}" for n in range(20)]


@pytest.fixture
def app(database_url: str) -> Iterator[DeviceManagerApplication]:
    application = open_application(DeviceManagerApplication, database_url, SCHEMA)
    found = [
        Found(
            device_id=f"shellyplus1pm-{mac.lower()}",
            mac=mac,
            model="SNSW-001X16EU",
            generation=2,
            host="127.0.0.1",
            port=10_000 + n,
        )
        for n, mac in enumerate(MACS)
    ]
    application.discover_all(
        found, META, adopt={mac: (f"d{n}", None) for n, mac in enumerate(MACS)}
    )
    yield application
    application.close()


async def test_acts_that_queue_up_share_one_transaction_and_answer_each_caller(
    app: DeviceManagerApplication,
) -> None:
    store, saves = DeviceStore(app), Inserts(app)
    online = [store.write(app.act, mac, lambda d: d.went_online(META)) for mac in MACS]
    # A second action on the first device runs after its first, on the same device.
    again = store.write(app.act, MACS[0], lambda d: (d.went_offline(META), d.online))
    results = await asyncio.gather(*online, again)
    assert results == [True] * len(MACS) + [(True, False)]
    assert saves.count == 1  # one commit for all 21, not one each
    devices = {d.mac: d for d in app.devices()}
    assert devices[MACS[0]].online is False
    assert all(devices[mac].online is True for mac in MACS[1:])


async def test_an_action_that_raises_fails_its_caller_alone(
    app: DeviceManagerApplication,
) -> None:
    store = DeviceStore(app)

    def refuse(device: Device) -> None:
        device.went_online(META)  # recorded, then refused: must not be saved
        raise ValueError("refused")

    outcomes = await asyncio.gather(
        store.write(app.act, MACS[0], lambda d: d.went_online(META)),
        store.write(app.act, MACS[1], refuse),
        store.write(app.act, "FFFFFFFFFFFF", lambda d: d.went_online(META)),
        store.write(app.act, MACS[2], lambda d: d.went_online(META)),
        return_exceptions=True,
    )
    assert outcomes[0] is True and outcomes[3] is True
    assert isinstance(outcomes[1], ValueError) and isinstance(outcomes[2], LookupError)
    devices = {d.mac: d for d in app.devices()}
    assert devices[MACS[0]].online is True and devices[MACS[2]].online is True
    assert devices[MACS[1]].online is None  # nothing of the refused action was saved


async def test_a_caller_cancelled_before_its_batch_ran_is_left_out(
    app: DeviceManagerApplication,
) -> None:
    store = DeviceStore(app)
    ran: list[str] = []

    def mark(name: str) -> Any:
        def action(device: Device) -> bool:
            ran.append(name)
            return device.went_online(META)

        return action

    async with store._writes._lock:  # another write holds the store meanwhile
        kept = asyncio.create_task(store.write(app.act, MACS[0], mark("kept")))
        cancelled = asyncio.create_task(store.write(app.act, MACS[1], mark("cancelled")))
        await asyncio.sleep(0)
        cancelled.cancel()
    assert await kept is True
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert ran == ["kept"]
