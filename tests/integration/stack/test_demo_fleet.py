"""The demo's Shelly fleet as a newcomer meets it: ``hearth up`` with no hearth.yaml lists the
simulated devices, the kettle has drifted from Git, Apply brings it in sync, and the workshop
offers a firmware update that a rollout installs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hearth.demo.fleet import DEVICES
from tests.support.stack import Up, api_get, api_post, api_until, free_ports

pytestmark = pytest.mark.integration


def by_name(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in answer["items"]}


def test_the_demo_fleet_drifts_applies_and_rolls_out_firmware(tmp_path: Path) -> None:
    ports = free_ports()
    up = Up(tmp_path / "data", ports)
    try:
        token = up.wait_output(r"admin token +(hth_[\w-]+)", timeout=300).group(1)
        output = up.wait_output(r"firmware +workshop offers an update").string
        api = f"http://127.0.0.1:{8080 + ports['offset']}"
        assert f"{api}/devices" in output and "hearth devices ls" in output, output
        gen1_left_out = "Gen1 Shelly 1 (garage-light) is left out" in output
        expected = {d.name for d in DEVICES if not (gen1_left_out and d.gen == 1)}

        # Every device adopted and online; the `outside` group (policy apply) converged by
        # itself, the kettle (`kitchen`, alert only) left drifted.
        def settled(answer: dict[str, Any]) -> bool:
            devices = by_name(answer)
            return set(devices) == expected and all(
                d["adopted"] and d["status"] == "online" and d["drifted"] == (name == "kettle")
                for name, d in devices.items()
            )

        devices = by_name(api_until(api, "/api/v1/devices", token, settled, timeout=120))
        assert set(devices) == expected, devices
        kettle = devices["kettle"]
        assert kettle["drifted"], kettle
        diff = {d["path"]: (d["desired"], d["actual"]) for d in kettle["differences"]}
        assert diff["switch.0.auto_off"] == (True, False), diff
        assert diff["system.timezone"] == ("Europe/Berlin", "Europe/Sofia"), diff
        assert not any(d["drifted"] for name, d in devices.items() if name != "kettle")
        workshop = api_until(
            api, "/api/v1/devices/workshop", token, lambda d: d["firmware_available"]
        )
        assert workshop["firmware_available"] == "1.5.0", workshop

        # Apply, as the device page's button does: the kettle comes in sync.
        reply = api_post(api, "/api/v1/devices/kettle/apply", token, {})
        assert reply["result"]["devices"][0]["result"] == "applied", reply
        kettle = api_until(
            api, "/api/v1/devices/kettle", token, lambda d: not d["drifted"], timeout=60
        )
        assert kettle["drift_resolved_how"] == "applied", kettle
        history = api_get(api, "/api/v1/devices/kettle/history", token)["items"]
        assert "DriftResolved" in [e["type"] for e in history], history

        # The rollout the dashboard's button starts: every device with an update.
        started = api_post(api, "/api/v1/rollouts", token, {})["result"]
        assert started["waves"] == [[workshop["device_id"]]], started

        def finished(answer: dict[str, Any]) -> bool:  # the read side shows it a moment later
            return any(
                r["rollout_id"] == started["rollout_id"] and r["status"] != "running"
                for r in answer["items"]
            )

        rollouts = api_until(api, "/api/v1/rollouts", token, finished, timeout=60)["items"]
        assert [r["status"] for r in rollouts] == ["completed"], rollouts
        workshop = api_get(api, "/api/v1/devices/workshop", token)
        assert workshop["firmware"] == "1.5.0", workshop
    finally:
        assert up.ctrl_c() == 0, up.output()
    assert up.survivors() == []
