"""A small Shelly fleet's life as events: every ``device.*`` event type at least once.

- ``kitchen`` (Plus 1PM, groups lights+kitchen, site home): adopted, online, drifted on
  ``switch:0.auto_off`` and still drifted, a backup, firmware updated in a rollout, found
  again by a later scan (announcing another name).
- ``hall`` (Plus Plug S): adopted, drifted then applied (resolved), a failed apply before,
  imported, restored from a backup, offline now, an update available.
- ``porch`` (Shelly 1, Gen1): discovered, adopted, given a desired config that then left
  Git (removed), and released (it keeps the name it was adopted under); its firmware
  update failed and halted the second rollout.
"""

from __future__ import annotations

from datetime import datetime

from hearth_events import EventData
from hearth_events.catalogue import (
    DesiredConfigChanged,
    DesiredConfigRemoved,
    DeviceAdopted,
    DeviceBackupTaken,
    DeviceConfigApplied,
    DeviceConfigApplyFailed,
    DeviceConfigImported,
    DeviceConfigRestored,
    DeviceDiscovered,
    DeviceDrifted,
    DeviceOffline,
    DeviceOnline,
    DeviceReleased,
    DriftResolved,
    FieldDiff,
    FirmwareRolloutCompleted,
    FirmwareRolloutHalted,
    FirmwareRolloutStarted,
    FirmwareRolloutWaveStarted,
    FirmwareUpdateAvailable,
    FirmwareUpdated,
    FirmwareUpdateFailed,
    FirmwareUpdateStarted,
)

KITCHEN = "shellyplus1pm-a8032ab10001"
HALL = "shellyplusplugs-a8032ab10002"
PORCH = "shelly1-a8032ab10003"
OLD, NEW = "1.3.3", "1.4.4"


def fleet_events(last_seen: datetime) -> list[EventData]:
    desired = {"switch": [{"id": 0, "auto_off": True}]}
    return [
        DeviceDiscovered(
            device_id=KITCHEN,
            model="SNSW-001P16EU",
            generation=2,
            mac="A8032AB10001",
            address="10.0.0.11",
            name="shelly kitchen",
            firmware=OLD,
        ),
        DeviceDiscovered(
            device_id=HALL,
            model="SNPL-00112EU",
            generation=2,
            mac="A8032AB10002",
            address="10.0.0.12",
            firmware=OLD,
        ),
        DeviceDiscovered(
            device_id=PORCH,
            model="SHSW-1",
            generation=1,
            mac="A8032AB10003",
            address="10.0.0.13",
            firmware="20230913-112003/v1.14.0",
        ),
        DeviceAdopted(device_id=PORCH, name="porch"),
        DesiredConfigChanged(
            device_id=PORCH, repo="alice/devices", commit="c0", config={}, groups=("outside",)
        ),
        DesiredConfigRemoved(
            device_id=PORCH,
            repo="alice/devices",
            commit="c1",
            detail="devices/porch.toml is no longer in alice/devices@main (at c1)",
        ),
        DeviceReleased(device_id=PORCH, name="porch", reason="operator"),
        DeviceAdopted(device_id=KITCHEN, name="kitchen", site="home"),
        DeviceAdopted(device_id=HALL, name="hall", site="home"),
        DeviceOnline(device_id=KITCHEN, address="10.0.0.11"),
        DeviceOnline(device_id=HALL, address="10.0.0.12"),
        DeviceOnline(device_id=PORCH, address="10.0.0.13"),
        DesiredConfigChanged(
            device_id=KITCHEN,
            repo="alice/devices",
            commit="c1",
            config=desired,
            groups=("lights", "kitchen"),
            sources={"switch.0.auto_off": "groups/kitchen.toml"},
        ),
        DesiredConfigChanged(
            device_id=HALL, repo="alice/devices", commit="c1", config={}, groups=("plugs",)
        ),
        DeviceDrifted(
            device_id=KITCHEN,
            differences=(
                FieldDiff(
                    path="switch:0.auto_off",
                    desired=True,
                    actual=False,
                    source="groups/kitchen.toml",
                ),
            ),
        ),
        DeviceDrifted(
            device_id=HALL,
            differences=(FieldDiff(path="sys.device.name", desired="hall", actual="plug"),),
        ),
        DeviceConfigApplyFailed(device_id=HALL, reason="device rebooted mid-apply"),
        DeviceBackupTaken(device_id=HALL, backup_id="bk-hall-1", reason="before_apply", cfg_rev=7),
        DeviceConfigApplied(device_id=HALL, commit="c1", fields=("sys.device.name",)),
        DriftResolved(device_id=HALL, how="applied"),
        DeviceConfigImported(device_id=HALL, config={"sys": {"device": {"name": "hall"}}}),
        DeviceConfigRestored(device_id=HALL, backup_id="bk-hall-1", from_device_id=HALL),
        DeviceBackupTaken(device_id=KITCHEN, backup_id="bk-kitchen-1", firmware=OLD),
        FirmwareUpdateAvailable(device_id=KITCHEN, current=OLD, available=NEW),
        FirmwareUpdateAvailable(device_id=HALL, current=OLD, available=NEW),
        FirmwareRolloutStarted(rollout_id="ro-1", waves=((KITCHEN,), (HALL,)), pause_s=5),
        FirmwareRolloutWaveStarted(rollout_id="ro-1", wave=0, device_ids=(KITCHEN,)),
        FirmwareUpdateStarted(device_id=KITCHEN, from_version=OLD, to_version=NEW),
        FirmwareUpdated(device_id=KITCHEN, version=NEW),
        FirmwareRolloutCompleted(rollout_id="ro-1", updated=(KITCHEN,), skipped=(HALL,)),
        FirmwareRolloutStarted(rollout_id="ro-2", waves=((PORCH,), (HALL,)), channel="beta"),
        FirmwareRolloutWaveStarted(rollout_id="ro-2", wave=0, device_ids=(PORCH,)),
        FirmwareUpdateStarted(device_id=PORCH, from_version="v1.14.0", to_version="v1.14.1"),
        FirmwareUpdateFailed(
            device_id=PORCH,
            from_version="v1.14.0",
            to_version="v1.14.1",
            reason="ota_error: download failed",
        ),
        FirmwareRolloutHalted(
            rollout_id="ro-2", wave=0, device_id=PORCH, reason="ota_error: download failed"
        ),
        DeviceOffline(device_id=HALL, last_seen=last_seen, site="home"),
        # Found again by a scan: the name it announces does not replace the adopted one.
        DeviceDiscovered(
            device_id=KITCHEN,
            model="SNSW-001P16EU",
            generation=2,
            mac="A8032AB10001",
            address="10.0.0.11",
            name="shellyplus1pm-a8032ab10001",
        ),
    ]
