"""The staged rollout's rules: wave planning and the transitions the aggregate refuses."""

from __future__ import annotations

from uuid import uuid4

import pytest

from hearth_device_manager.domain.backup import changed_paths, rebind, strip_secrets
from hearth_device_manager.domain.device import IllegalTransition
from hearth_device_manager.domain.fleet import DeviceOps
from hearth_device_manager.domain.rollout import Rollout, Rollouts, Step, plan_waves
from hearth_device_manager.workflows.rollout import target_version
from hearth_eventstore.store import Meta

META = Meta(actor="test")


def test_canaries_come_first_one_per_model_then_waves_of_n() -> None:
    devices = [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("b2", "B")]
    assert plan_waves(devices, wave_size=2) == (("a1", "b1"), ("a2", "a3"), ("b2",))
    assert plan_waves(devices, wave_size=10, canaries_per_model=0) == (
        ("a1", "a2", "a3", "b1", "b2"),
    )
    assert plan_waves(devices, wave_size=1, canaries_per_model=2) == (
        ("a1", "a2", "b1", "b2"),
        ("a3",),
    )
    with pytest.raises(ValueError, match="wave_size"):
        plan_waves(devices, wave_size=0)


def started(waves: tuple[tuple[str, ...], ...], pause_s: float = 0.0) -> Rollout:
    rollout = Rollout(str(uuid4()))
    rollout.start("stable", waves, pause_s, {}, META)
    return rollout


def test_a_rollout_runs_wave_by_wave_and_completes() -> None:
    rollout = started((("a",), ("b", "c")), pause_s=60)
    assert rollout.next_step() == Step("wave", wave=0)
    rollout.begin_wave(0, META)
    assert rollout.next_step() == Step("device", "a", 0)
    rollout.device_started("a", "1.0", "1.1", META)
    rollout.device_updated("a", "1.1", META, at=1000.0)
    assert rollout.next_step() == Step("wave", wave=1, wait_until=1060.0)
    rollout.begin_wave(1, META)
    rollout.device_skipped("b", "up to date", at=1100.0)
    assert rollout.next_step() == Step("device", "c", 1)
    rollout.device_started("c", "1.0", "1.1", META)
    rollout.device_updated("c", "1.1", META, at=1200.0)
    assert rollout.next_step() == Step("complete")
    rollout.complete(META)
    assert rollout.next_step() is None
    assert rollout.state == "completed"
    assert rollout.updated == ["a", "c"]
    types = [e.type_name for e in rollout.collect_events() if hasattr(e, "type_name")]
    assert types == [
        "FirmwareRolloutStarted",
        "FirmwareRolloutWaveStarted",
        "FirmwareUpdateStarted",
        "FirmwareUpdated",
        "FirmwareRolloutWaveStarted",
        "FirmwareUpdateStarted",
        "FirmwareUpdated",
        "FirmwareRolloutCompleted",
    ]


def test_illegal_transitions_are_refused() -> None:
    rollout = started((("a",), ("b",)))
    with pytest.raises(IllegalTransition, match="already started"):
        rollout.start("stable", (("a",),), 0, {}, META)
    with pytest.raises(IllegalTransition, match="wave 1 cannot start after wave -1"):
        rollout.begin_wave(1, META)
    with pytest.raises(IllegalTransition, match="not in the current wave"):
        rollout.device_started("a", "1", "2", META)
    rollout.begin_wave(0, META)
    with pytest.raises(IllegalTransition, match="not finished"):
        rollout.begin_wave(1, META)
    with pytest.raises(IllegalTransition, match="not in the current wave"):
        rollout.device_started("b", "1", "2", META)
    with pytest.raises(IllegalTransition, match="was not updating"):
        rollout.device_updated("a", "2", META, at=0)
    with pytest.raises(IllegalTransition, match="devices left"):
        rollout.complete(META)
    rollout.device_started("a", "1", "2", META)
    with pytest.raises(IllegalTransition, match="already updating"):
        rollout.device_started("a", "1", "2", META)
    with pytest.raises(IllegalTransition, match="cannot be skipped"):
        rollout.device_skipped("a", "why", at=0)
    with pytest.raises(IllegalTransition, match="at least one device"):
        Rollout(str(uuid4())).start("stable", ((),), 0, {}, META)


def test_the_first_failure_halts_and_nothing_follows() -> None:
    rollout = started((("a",), ("b",)))
    rollout.begin_wave(0, META)
    rollout.device_started("a", "1.0", "1.1", META)
    rollout.device_failed("a", "ota_error: bad image", META)
    assert rollout.state == "halted"
    assert rollout.next_step() is None
    with pytest.raises(IllegalTransition, match="is halted"):
        rollout.begin_wave(1, META)
    with pytest.raises(IllegalTransition, match="is halted"):
        rollout.complete(META)


def test_one_rollout_at_a_time() -> None:
    index = Rollouts()
    index.open("r1")
    with pytest.raises(IllegalTransition, match="r1 is still running"):
        index.open("r2")
    index.close("r1")
    index.open("r2")
    assert index.active == "r2"


def test_pins_and_channels_choose_the_version() -> None:
    assert target_version(None, "1.5.0", "1.4.4", "stable") == ("1.5.0", "")
    assert target_version(None, None, "1.4.4", "stable") == (None, "up to date (1.4.4)")
    assert target_version("1.4.4", "1.5.0", "1.4.4", "beta") == (
        None,
        "already on the pinned 1.4.4",
    )
    assert target_version("1.4.9", "1.5.0", "1.4.4", "beta") == (
        None,
        "pinned to 1.4.9; the beta channel offers 1.5.0",
    )
    assert target_version("1.5.0", "1.5.0", "1.4.4", "stable") == ("1.5.0", "")


def test_snapshots_lose_secrets_and_rebind_to_a_replacement() -> None:
    config = {"mqtt": {"pass": "s3cret", "user": "u"}, "wifi": {"sta": {"pass": None}}}
    clean, removed = strip_secrets(config)
    assert clean == {"mqtt": {"user": "u"}, "wifi": {"sta": {"pass": None}}}
    assert removed == ["mqtt.pass"]
    old = ("shellyplus1pm-a0b0c0000001", "A0B0C0000001")
    new = ("shellyplus1pm-a0b0c0000002", "A0B0C0000002")
    tree = {"ap": "Plus1PM-A0B0C0000001", "id": "shellyplus1pm-a0b0c0000001", "name": "Kettle"}
    assert rebind(tree, old, new) == {
        "ap": "Plus1PM-A0B0C0000002",
        "id": "shellyplus1pm-a0b0c0000002",
        "name": "Kettle",
    }
    assert changed_paths({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == ["a.c", "d"]


def test_each_new_offer_is_announced_once() -> None:
    ops = DeviceOps("A0:B0:C0:00:00:01")
    device = "shellyplus1pm-a0b0c0000001"
    assert ops.offered(device, "1.4.4", {"stable": "1.5.0", "beta": "1.6.0-beta1"}, META)
    assert not ops.offered(device, "1.4.4", {"stable": "1.5.0", "beta": "1.6.0-beta1"}, META)
    assert ops.offered(device, "1.4.4", {"stable": "1.5.0", "beta": "1.6.0-beta2"}, META)
    assert ops.offered(device, "1.6.0-beta2", {"beta": "1.6.0-beta2"}, META)  # installed it
    announced = [
        (e.payload["channel"], e.payload["available"])
        for e in ops.collect_events()
        if isinstance(e, DeviceOps.Recorded) and e.type_name == "FirmwareUpdateAvailable"
    ]
    assert announced == [("stable", "1.5.0"), ("beta", "1.6.0-beta1"), ("beta", "1.6.0-beta2")]


def test_a_device_can_follow_its_groups_channel() -> None:
    rollout = Rollout(str(uuid4()))
    rollout.start("stable", (("a", "b"),), 0, {}, META, channels={"a": "stable", "b": "beta"})
    assert rollout.channels == {"b": "beta"}
    assert (rollout.channel_of("a"), rollout.channel_of("b")) == ("stable", "beta")
