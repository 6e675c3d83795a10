"""Read models built live equal read models rebuilt from the stream; replays change nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats.errors
import pytest
from nats.js.errors import NotFoundError

from hearth_events import all_event_classes, new_event
from hearth_events import catalogue as ev
from hearth_events.jetstream import EVENTS_STREAM, ensure
from hearth_events.publish import publish_event
from hearth_query_api import handlers
from hearth_query_api.adapters.schema import READ_TABLES, SCHEMA, migrate
from hearth_query_api.entrypoints.api.models import json_value
from hearth_query_api.handlers import Projector
from hearth_servicekit.consumer import EventConsumer
from tests.conftest import with_database
from tests.support.fleet import HALL, KITCHEN, PORCH
from tests.support.history import history

pytestmark = pytest.mark.integration


async def open_pool(url: str) -> Any:
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=4, server_settings={"search_path": SCHEMA}
    )
    async with pool.acquire() as conn:
        await migrate(conn)
    return pool


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await open_pool(database_url)
    yield pool
    await pool.close()


async def dump(pool: Any) -> dict[str, list[tuple[Any, ...]]]:
    tables = {}
    async with pool.acquire() as conn:
        for table in READ_TABLES:
            rows = await conn.fetch(f"SELECT * FROM {table}")
            tables[table] = sorted(tuple(r.values()) for r in rows)
    return tables


async def fresh_stream(js: Any) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(EVENTS_STREAM)
    await ensure(js, streams=(EVENTS_STREAM,), consumers=("query-api-projections",))


async def project_live(js: Any, projector: Projector, count: int) -> None:
    stop = asyncio.Event()
    # As the service runs it: what arrives together goes in one transaction.
    consumer = EventConsumer(
        js,
        "query-api-projections",
        projector.apply,
        with_sequence=True,
        batch=7,
        batch_handler=projector.apply_many,
        fetch_timeout_s=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    async with asyncio.timeout(30):
        while projector.position < count:
            await asyncio.sleep(0.05)
    stop.set()
    await task


async def test_a_rebuild_produces_identical_tables(
    js: Any, pool: Any, postgres_admin_url: str
) -> None:
    await fresh_stream(js)
    events = history()
    for envelope in events:
        await publish_event(js, envelope)
    live = Projector(pool)
    await project_live(js, live, len(events))
    built_live = await dump(pool)

    assert len(built_live["events"]) == len(events)
    statuses = {row[0]: row for row in built_live["deployments"]}
    assert {k: v[8] for k, v in statuses.items()} == {
        "dep-1": "succeeded",
        "dep-2": "superseded",
        "dep-3": "failed",
    }
    targets = {row[0]: row for row in built_live["targets"]}
    assert targets["ha"][12] == "dep-1" and targets["ha"][13] == "succeeded"
    assert len(built_live["deployment_logs"]) == 6
    assert len(built_live["backups"]) == 2
    await check_fleet(pool)

    # Rebuilding in place gives the same tables...
    assert await live.rebuild(js) == len(events)
    assert await dump(pool) == built_live

    # ...and so does a database that only ever saw the rebuild.
    other_name = "hearth_rebuilt_" + str(id(pool))
    other_url = with_database(postgres_admin_url, other_name)
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'CREATE DATABASE "{other_name}"')
    try:
        other = await open_pool(other_url)
        await Projector(other).rebuild(js)
        assert await dump(other) == built_live
        await other.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{other_name}" WITH (FORCE)')
        await admin.close()


async def check_fleet(pool: Any) -> None:
    """The fleet of tests/support/fleet.py as its events left it."""
    async with pool.acquire() as conn:
        devices = {r["device_id"]: r for r in await conn.fetch("SELECT * FROM devices")}
        rollouts = {r["rollout_id"]: r for r in await conn.fetch("SELECT * FROM rollouts")}
        progress = {
            (r["rollout_id"], r["device_id"]): r["status"]
            for r in await conn.fetch("SELECT * FROM rollout_devices")
        }
        backups = await conn.fetch("SELECT backup_id FROM device_backups ORDER BY seq")
    kitchen, hall, porch = devices[KITCHEN], devices[HALL], devices[PORCH]
    assert (kitchen["name"], kitchen["site"], kitchen["groups"]) == (
        "kitchen",
        "home",
        ["kitchen", "lights"],
    )
    assert kitchen["drifted"] and json_value(kitchen["differences"]) == [
        {
            "path": "switch:0.auto_off",
            "desired": True,
            "actual": False,
            "source": "groups/kitchen.toml",
        }
    ]
    assert (kitchen["firmware"], kitchen["firmware_available"]) == ("1.4.4", None)
    assert (hall["online"], hall["drifted"], hall["drift_resolved_how"]) == (
        False,
        False,
        "applied",
    )
    assert hall["last_apply_error"] is None and hall["last_applied_commit"] == "c1"
    assert hall["last_imported_at"] and hall["last_restored_backup"] == "bk-hall-1"
    assert hall["firmware_available"] == "1.4.4"
    assert (porch["adopted"], porch["name"], porch["firmware_error"]) == (
        False,
        "porch",
        "ota_error: download failed",
    )
    assert [b["backup_id"] for b in backups] == ["bk-hall-1", "bk-kitchen-1"]
    assert rollouts["ro-1"]["status"] == "completed"
    assert (rollouts["ro-2"]["status"], rollouts["ro-2"]["halted_device"]) == ("halted", PORCH)
    assert progress == {
        ("ro-1", KITCHEN): "updated",
        ("ro-1", HALL): "skipped",
        ("ro-2", PORCH): "failed",
        ("ro-2", HALL): "pending",
    }


def test_the_fleet_history_holds_every_device_event() -> None:
    """Each device.* event has a projection that this history exercises."""
    device_types = {name for name, cls in all_event_classes().items() if cls.context == "device"}
    assert device_types <= {e.type for e in history()}


async def test_a_removed_desired_config_clears_the_drift_and_keeps_the_device_managed(
    pool: Any,
) -> None:
    device = "shellyplus1pm-a8032ab10009"
    diff = ev.FieldDiff(path="switch.0.auto_off", desired=True, actual=False)
    datas = [
        ev.DeviceDiscovered(
            device_id=device,
            model="SNSW-001P16EU",
            generation=2,
            mac="A8032AB10009",
            address="10.0.0.19",
        ),
        ev.DeviceAdopted(device_id=device, name="garage", site="home"),
        ev.DeviceOnline(device_id=device, address="10.0.0.19"),
        ev.DesiredConfigChanged(
            device_id=device,
            repo="alice/devices",
            commit="c1",
            config={"switch": {"0": {"auto_off": True}}},
            groups=("outside",),
        ),
        ev.DeviceConfigApplied(device_id=device, commit="c1", fields=("switch.0.auto_off",)),
        ev.DeviceDrifted(device_id=device, differences=(diff,)),
        ev.DeviceConfigApplyFailed(device_id=device, reason="device rebooted mid-apply"),
        ev.DesiredConfigRemoved(
            device_id=device,
            repo="alice/devices",
            commit="c2",
            detail="devices/garage.toml is no longer in alice/devices@main (at c2)",
        ),
    ]
    projector = Projector(pool)
    for seq, data in enumerate(datas, start=1):
        assert await projector.apply(new_event(data, source="t", actor="alice"), seq)
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM devices WHERE device_id = $1", device)
    assert (row["drifted"], json_value(row["differences"]), row["drifted_at"]) == (
        False,
        [],
        None,
    )
    assert (row["drift_resolved_how"], row["last_apply_error"], row["groups"]) == (None, None, [])
    assert (row["desired_repo"], row["desired_commit"], row["desired"]) == (None, None, None)
    # Still managed: adopted, online, under its name; what was applied stays history.
    assert (row["adopted"], row["online"], row["name"], row["site"]) == (
        True,
        True,
        "garage",
        "home",
    )
    assert row["last_applied_commit"] == "c1"


async def test_a_redelivered_event_changes_nothing(js: Any, pool: Any) -> None:
    await fresh_stream(js)
    events = history()
    projector = Projector(pool)
    for seq, envelope in enumerate(events, start=1):
        assert await projector.apply(envelope, seq) is True
    before = await dump(pool)
    for seq, envelope in enumerate(events, start=1):
        assert await projector.apply(envelope, seq) is False
    assert await dump(pool) == before
    assert await projector.load_position() == len(events)


async def test_events_held_by_a_crashed_instance_are_projected_before_newer_ones(
    js: Any, pool: Any
) -> None:
    """A killed instance's events come back after their ack wait, behind newer ones: the
    newer one must not move the position past them (they would be skipped for good)."""
    await fresh_stream(js)
    events = history()
    for envelope in events:
        await publish_event(js, envelope)
    projector = Projector(pool, js)
    held = 5  # events 1..5 were in the dead instance's hands
    assert await projector.apply(events[held], held + 1) is True
    for seq, envelope in enumerate(events[:held], start=1):  # redelivered at last
        assert await projector.apply(envelope, seq) is False
    for seq, envelope in enumerate(events[held + 1 :], start=held + 2):
        assert await projector.apply(envelope, seq) is True
    live = await dump(pool)
    assert len(live["events"]) == len(events)
    await projector.rebuild(js)
    assert await dump(pool) == live


async def test_a_rebuild_reads_what_the_stream_still_holds(
    js: Any, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream's limits removed its oldest messages: the rebuild replays the rest and
    ends when nothing is pending, not after a silence (a silence fails it, below)."""
    await fresh_stream(js)
    events = history()
    for envelope in events:
        await publish_event(js, envelope)
    config = (await js.stream_info(EVENTS_STREAM)).config
    config.max_msgs = len(events) - 2
    await js.update_stream(config)
    monkeypatch.setattr(handlers, "READ_TIMEOUT_S", 3.0)
    projector = Projector(pool)
    assert await projector.rebuild(js) == len(events) - 2
    assert projector.position == len(events)


class Stalling:
    """The stream as a rebuild reads it, going quiet after ``sent`` messages: a loaded
    cluster's consumer after a leader change."""

    def __init__(self, js: Any, sent: int) -> None:
        self._js, self._sent = js, sent

    async def stream_info(self, name: str) -> Any:
        return await self._js.stream_info(name)

    async def subscribe(self, *args: Any, **kwargs: Any) -> Any:
        subscription = await self._js.subscribe(*args, **kwargs)
        real, left = subscription.next_msg, [self._sent]

        async def next_msg(timeout: float) -> Any:
            if left[0] == 0:
                await asyncio.sleep(timeout)
                raise nats.errors.TimeoutError
            left[0] -= 1
            return await real(timeout=timeout)

        subscription.next_msg = next_msg
        return subscription


async def test_a_stream_gone_quiet_fails_the_rebuild_instead_of_ending_it(
    js: Any, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fresh_stream(js)
    events = history()
    for envelope in events:
        await publish_event(js, envelope)
    monkeypatch.setattr(handlers, "READ_TIMEOUT_S", 0.5)
    with pytest.raises(handlers.RebuildStalled, match=f"at sequence 4 of {len(events)}"):
        await Projector(pool).rebuild(Stalling(js, sent=4))
