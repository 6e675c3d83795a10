"""Gen1 status in the Gen2 shape: /status, CoIoT values, sleepers' reports, firmware offers."""

from __future__ import annotations

from hearth.demo.shelly.gen1_models import DIMMER_2, H_T, PLUG_S, gen1_state
from hearth_device_manager.adapters.gen1 import firmware_offers
from hearth_device_manager.domain.gen1_status import (
    gen2_shape,
    merge_coiot,
    merge_sleeper_report,
    sleep_period_s,
)
from hearth_device_manager.domain.status import compact_status


def test_a_plug_s_is_a_metered_switch_with_cfg_rev() -> None:
    _, status = gen1_state(PLUG_S, "AABBCCDDEEFF")
    status["cfg_changed_cnt"] = 7
    merge_coiot(status, "relay", 0, {"output": 1, "power": 12.5})
    merge_coiot(status, "device", None, {"cfgChanged": 8})
    shaped = gen2_shape(status)
    assert shaped["switch:0"] == {"id": 0, "output": True, "apower": 12.5}
    compact = compact_status(
        online=True, address="10.0.0.5", model="SHPLG-S", generation=1, status=shaped
    )
    assert compact["cfg_rev"] == 8
    assert compact["components"] == {"switch:0": {"output": True, "apower": 12.5}}


def test_a_dimmer_is_a_light_and_an_offered_update_shows() -> None:
    _, status = gen1_state(DIMMER_2, "AABBCCDDEEFF")
    merge_coiot(status, "light", 0, {"output": 1, "brightness": 80, "power": None})
    status["update"] |= {"has_update": True, "new_version": "20240101-000000/v1.14.1-g1"}
    shaped = gen2_shape(status)
    assert shaped["light:0"] == {"id": 0, "output": True, "brightness": 80, "apower": 0.0}
    assert shaped["sys"]["available_updates"] == {
        "stable": {"version": "20240101-000000/v1.14.1-g1"}
    }


def test_values_of_channels_the_device_lacks_are_ignored() -> None:
    _, status = gen1_state(PLUG_S, "AABBCCDDEEFF")
    merge_coiot(status, "relay", 3, {"output": 1})
    merge_coiot(status, "roller", 0, {"rollerPos": 50})
    assert gen2_shape(status)["switch:0"]["output"] is False


def test_a_sleepers_report_by_coiot_ids_and_its_period() -> None:
    settings, _ = gen1_state(H_T, "AABBCCDDEEFF")
    raw: dict[str, object] = {}
    merge_sleeper_report(raw, [[0, 3101, 19.5], [0, 3102, 67.1], [0, 3103, 55], [0, 3111, 90]])
    merge_sleeper_report(raw, [[0, 9999, 1], [1]])
    shaped = gen2_shape(raw)
    assert shaped["temperature:0"] == {"id": 0, "tC": 19.5}
    assert shaped["humidity:0"] == {"id": 0, "rh": 55}
    assert shaped["devicepower:0"] == {"id": 0, "battery": {"percent": 90}}
    assert sleep_period_s(settings) == 6 * 3600
    assert sleep_period_s({"sleep_mode": {"period": 2, "unit": "h"}}) == 7200
    assert sleep_period_s({}) is None


def test_firmware_offers_leave_the_installed_version_out() -> None:
    installed = "20230913-112003/v1.14.0-gcb84623"
    same = {"has_update": False, "new_version": installed, "old_version": installed}
    assert firmware_offers(same | {"beta_version": installed}) == {}
    newer = {
        "has_update": True,
        "new_version": "v2",
        "old_version": installed,
        "beta_version": "b3",
    }
    assert firmware_offers(newer) == {"stable": "v2", "beta": "b3"}
