"""The demo's desired-config repository, read by the device manager's own loader: every
device resolves, the kitchen only alerts, and each device differs from its factory-fresh
simulated self in the fields its file names (so the demo starts with something to do)."""

from __future__ import annotations

from hearth.demo import fleet
from hearth.demo.shelly.device import SimDevice
from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import GEN1_MODELS
from hearth.demo.shelly.models import MODELS
from hearth_device_manager.domain.desired.drift import diff, from_device
from hearth_device_manager.domain.desired.gen1 import from_gen1
from hearth_device_manager.domain.desired.loader import LoadResult, load_repository


def test_every_demo_device_file_resolves_without_errors() -> None:
    result = fleet_result()
    assert result.errors == []
    assert set(result.devices) == {d.name for d in fleet.DEVICES}
    for device in fleet.DEVICES:
        desired = result.devices[device.name]
        assert desired.mac == device.mac
        assert desired.policy == ("alert" if device.name == "kettle" else "apply")


def test_each_demo_device_starts_drifted_from_git() -> None:
    result = fleet_result()
    for device in fleet.DEVICES:
        desired = result.devices[device.name]
        if device.gen == 1:
            sim1 = SimGen1Device(GEN1_MODELS[device.model], device.mac, "127.0.0.1")
            actual = from_gen1(sim1.settings_view(), desired.spec)
        else:
            sim = SimDevice(MODELS[device.model], device.mac)
            assert sim.device_id == device.device_id
            actual = from_device(sim.config, desired.spec)
        paths = {d.path for d in diff(desired.config, actual)}
        assert "system.name" in paths, (device.name, paths)
    kettle = result.devices["kettle"]
    assert kettle.sources["system.timezone"] == "profiles/local.toml"


def fleet_result() -> LoadResult:
    return load_repository({path: text.encode() for path, text in fleet.FILES.items()})
