"""The route table of the Shelly fleet (``/api/v1/devices``, ``/api/v1/rollouts``).

Fixed paths come before ``{id}``: ``/devices/counts`` is not a device named "counts".
"""

from __future__ import annotations

from typing import Any

from hearth_query_api.entrypoints.api.commands import V1
from hearth_query_api.entrypoints.api.device_models import (
    AdoptIn,
    DeviceActionIn,
    DeviceCommandOut,
    DeviceCountsOut,
    DeviceDetailOut,
    DeviceOut,
    DiscoverIn,
    RestoreIn,
    RolloutDetailOut,
    RolloutIn,
    RolloutOut,
    SamplesOut,
)
from hearth_query_api.entrypoints.api.device_queries import DeviceQuery, ExportQuery, RolloutQuery
from hearth_query_api.entrypoints.api.framework import Route
from hearth_query_api.entrypoints.api.models import EventOut, Page
from hearth_query_api.entrypoints.api.queries import PageQuery

DEVICES = ("devices",)
COMMANDS = ("device-commands",)
#: (path under a device, summary, handler name, body) of each command on one device.
DEVICE_ACTIONS = (
    ("apply", "Converge the device to its desired config (Apply)", "apply_device", None),
    ("import", "Read the device's config as desired-config TOML (Import)", "import_device", None),
    ("backup", "Take a config snapshot of the device (Backup)", "backup_device", None),
    ("restore", "Write a backup back to the device (Restore)", "restore_device", RestoreIn),
)


def fleet_routes(e: Any) -> list[Route]:
    reads = [
        Route(
            "GET",
            f"{V1}/devices",
            "viewer",
            "Devices, filtered and paged (newest first)",
            e.list_devices,
            Page[DeviceOut],
            query=DeviceQuery,
            tags=DEVICES,
        ),
        Route(
            "GET",
            f"{V1}/devices/counts",
            "viewer",
            "How many devices are in each state",
            e.count_devices,
            DeviceCountsOut,
            tags=DEVICES,
        ),
        Route(
            "GET",
            f"{V1}/devices/export",
            "viewer",
            "The inventory as JSON, CSV, a hosts file or DHCP reservations "
            "(dnsmasq, ISC dhcpd, Kea)",
            e.export_devices,
            query=ExportQuery,
            tags=DEVICES,
            media_type="text/plain",
        ),
        Route(
            "GET",
            f"{V1}/devices/{{id}}",
            "viewer",
            "One device (by id, name or MAC) with its live status, desired config, drift "
            "and backups",
            e.get_device,
            DeviceDetailOut,
            tags=DEVICES,
        ),
        Route(
            "GET",
            f"{V1}/devices/{{id}}/history",
            "viewer",
            "A device's events, newest first",
            e.device_history,
            Page[EventOut],
            query=PageQuery,
            tags=DEVICES,
        ),
        Route(
            "GET",
            f"{V1}/devices/{{id}}/samples",
            "viewer",
            "A device's power and Wi-Fi signal over the last day, in 10-minute buckets "
            "sampled from its live status",
            e.device_samples,
            SamplesOut,
            tags=DEVICES,
        ),
        Route(
            "GET",
            f"{V1}/rollouts",
            "viewer",
            "Firmware rollouts, newest first",
            e.list_rollouts,
            Page[RolloutOut],
            query=RolloutQuery,
            tags=DEVICES,
        ),
        Route(
            "GET",
            f"{V1}/rollouts/{{id}}",
            "viewer",
            "One firmware rollout with each device's progress, wave by wave",
            e.get_rollout,
            RolloutDetailOut,
            tags=DEVICES,
        ),
    ]
    commands = [
        Route(
            "POST",
            f"{V1}/devices/discover",
            "operator",
            "Scan networks for Shelly devices (Discover)",
            e.discover_devices,
            DeviceCommandOut,
            body=DiscoverIn,
            tags=COMMANDS,
        ),
        Route(
            "POST",
            f"{V1}/devices/{{id}}/adopt",
            "admin",
            "Manage a discovered device (Adopt)",
            e.adopt_device,
            DeviceCommandOut,
            body=AdoptIn,
            tags=COMMANDS,
        ),
        Route(
            "POST",
            f"{V1}/devices/{{id}}/release",
            "admin",
            "Stop managing a device an admin adopted (Release); one hearth.yaml or Git "
            "names is released by removing it there",
            e.release_device,
            DeviceCommandOut,
            body=DeviceActionIn,
            tags=COMMANDS,
        ),
        *(
            Route(
                "POST",
                f"{V1}/devices/{{id}}/{action}",
                "operator",
                summary,
                getattr(e, handler),
                DeviceCommandOut,
                body=body or DeviceActionIn,
                tags=COMMANDS,
            )
            for action, summary, handler, body in DEVICE_ACTIONS
        ),
        Route(
            "POST",
            f"{V1}/rollouts",
            "operator",
            "Start a staged firmware rollout (FirmwareRollout)",
            e.start_rollout,
            DeviceCommandOut,
            body=RolloutIn,
            tags=COMMANDS,
        ),
    ]
    return reads + commands
