"""The Device aggregate's desired-config, drift and apply rules."""

from __future__ import annotations

import pytest

from hearth_device_manager.domain.device import Device, Found, IllegalTransition
from hearth_events.catalogue import DesiredConfigChanged, DesiredConfigRemoved, FieldDiff
from hearth_eventstore.store import Meta

META = Meta(actor="test")
FOUND = Found("shellyplus1pm-a8032ab12345", "A8032AB12345", "SNSW-001P16EU", 2, "10.0.0.5")
CONFIG = {"switch": {"0": {"auto_off": True}}}
DIFF = FieldDiff(path="switch.0.auto_off", desired=True, actual=False)


def names(device: Device) -> list[str]:
    return [e.type_name for e in device.collect_events() if hasattr(e, "type_name")]


def adopted() -> Device:
    device = Device(FOUND.mac)
    device.discover(FOUND, META)
    device.adopt("porch", META)
    device.collect_events()
    return device


def test_desire_needs_an_adopted_device_and_records_only_changes() -> None:
    device = Device(FOUND.mac)
    device.discover(FOUND, META)
    with pytest.raises(IllegalTransition):
        device.desire(CONFIG, "home", "c1", META)
    device.adopt("porch", META)
    device.collect_events()
    assert device.desire(CONFIG, "home", "c1", META)
    assert not device.desire(dict(CONFIG), "home", "c2", META)  # same config, newer commit
    assert device.desired_commit == "c1"
    assert device.desire({"system": {"name": "Porch"}}, "home", "c3", META)
    assert names(device) == ["DesiredConfigChanged", "DesiredConfigChanged"]


def test_drift_needs_desired_config_and_is_recorded_only_when_it_changes() -> None:
    device = adopted()
    with pytest.raises(IllegalTransition):
        device.drifted([DIFF], META)
    device.desire(CONFIG, "home", "c1", META)
    with pytest.raises(IllegalTransition):
        device.drifted([], META)
    assert device.drifted([DIFF], META)
    same = FieldDiff(path="switch.0.auto_off", desired=True, actual=False)
    assert not device.drifted([same], META)
    other = FieldDiff(path="switch.0.auto_off", desired=True, actual=None)
    assert device.drifted([other], META)
    assert names(device) == ["DesiredConfigChanged", "DeviceDrifted", "DeviceDrifted"]


def test_a_resolution_needs_a_drift() -> None:
    device = adopted()
    device.desire(CONFIG, "home", "c1", META)
    assert not device.drift_resolved("changed_back", META)
    device.drifted([DIFF], META)
    assert device.drift_resolved("applied", META)
    assert device.drift == ()
    assert not device.drift_resolved("applied", META)
    assert device.drifted([DIFF], META)  # drifting again is a new drift


def test_apply_results_need_an_adopted_device_with_desired_config() -> None:
    device = adopted()
    with pytest.raises(IllegalTransition):
        device.applied(["switch.0.auto_off"], "c1", META)
    device.apply_failed("no desired config", META)
    device.desire(CONFIG, "home", "c1", META)
    device.applied(["switch.0.auto_off"], "c1", META)
    assert device.applied_commit == "c1"
    assert names(device) == [
        "DeviceConfigApplyFailed",
        "DesiredConfigChanged",
        "DeviceConfigApplied",
    ]
    stranger = Device(FOUND.mac)
    stranger.discover(FOUND, META)
    with pytest.raises(IllegalTransition):
        stranger.apply_failed("x", META)


def test_a_new_group_or_source_is_a_change_too_and_old_events_stay_readable() -> None:
    device = adopted()
    sources = {"switch.0.auto_off": "devices/porch.toml"}
    assert device.desire(CONFIG, "home", "c1", META, groups=("house",), sources=sources)
    assert not device.desire(CONFIG, "home", "c2", META, groups=("house",), sources=sources)
    moved = {"switch.0.auto_off": "groups/house.toml"}  # same value, now from the group
    assert device.desire(CONFIG, "home", "c3", META, groups=("house",), sources=moved)
    assert device.desire(CONFIG, "home", "c4", META, groups=("house", "porch"), sources=moved)
    assert (device.desired_groups, device.desired_sources) == (("house", "porch"), moved)
    # Events written before groups, sources and a difference's source were carried.
    old = DesiredConfigChanged.model_validate(
        {"device_id": FOUND.device_id, "repo": "home", "commit": "c0", "config": CONFIG}
    )
    assert (old.groups, old.sources) == (None, {})
    assert FieldDiff.model_validate({"path": "a", "desired": 1, "actual": 2}).source is None


def test_a_removed_desired_config_takes_its_drift_with_it_and_can_come_back() -> None:
    device = Device(FOUND.mac)
    device.discover(FOUND, META)
    with pytest.raises(IllegalTransition):  # not managed: nothing Git could stop wanting
        device.remove_desired("home", "c2", META)
    device.adopt("porch", META)
    device.collect_events()
    assert not device.remove_desired("home", "c2", META)  # no desired config: nothing to do
    device.desire(CONFIG, "home", "c1", META, groups=("house",), sources={"a": "groups/h.toml"})
    device.drifted([DIFF], META)
    device.applied([], "c1", META)

    gone = "devices/porch.toml is no longer in home@main (at c2)"
    assert device.remove_desired("home", "c2", META, gone)
    assert (device.desired, device.desired_repo, device.desired_commit) == (None, None, None)
    assert (device.desired_groups, device.desired_sources, device.drift) == (None, {}, ())
    assert device.adopted and device.name == "porch" and device.applied_commit == "c1"
    assert not device.remove_desired("home", "c2", META)  # once
    with pytest.raises(IllegalTransition):  # nothing to differ from any more
        device.drifted([DIFF], META)

    assert device.desire(CONFIG, "home", "c3", META)  # the file is back: desired again
    assert device.drifted([DIFF], META)  # and the same difference is a new drift
    events = [e for e in device.collect_events() if isinstance(e, Device.Recorded)]
    assert [e.type_name for e in events] == [
        "DesiredConfigChanged",
        "DeviceDrifted",
        "DeviceConfigApplied",
        "DesiredConfigRemoved",
        "DesiredConfigChanged",
        "DeviceDrifted",
    ]
    removed = events[3].data()
    assert isinstance(removed, DesiredConfigRemoved)
    assert (removed.repo, removed.commit, removed.detail) == ("home", "c2", gone)
