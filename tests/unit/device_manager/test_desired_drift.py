"""Drift as a pure function, and the calls that send only what differs."""

from __future__ import annotations

from hearth_device_manager.domain.desired import (
    DeviceConfig,
    SecretRef,
    changes_to_apply,
    diff,
    find_model,
    from_device,
    resolution_of,
)
from hearth_device_manager.domain.desired.catalog import ModelSpec
from hearth_events.catalogue.device import FieldDiff


def _spec(model: str, profile: str | None = None) -> ModelSpec:
    spec = find_model(model, profile)
    assert spec is not None
    return spec


def _config(tree: dict[str, object]) -> DeviceConfig:
    return DeviceConfig.model_validate(tree)


ACTUAL = _config(
    {
        "system": {"name": "Plug", "timezone": "Europe/Sofia", "eco_mode": False},
        "wifi": {"sta": {"enable": True, "ssid": "old"}, "ap": {"enable": True}},
        "switch": {
            0: {"name": "a", "auto_off": False, "auto_off_delay": 60.0, "power_limit": 4480},
            1: {"name": "b", "auto_off": False},
        },
        "input": {0: {"type": "switch", "invert": False}},
        "mqtt": {"enable": False, "server": None},
        "scripts": ["a"],
    }
)


def test_only_fields_the_desired_config_sets_are_compared() -> None:
    desired = _config(
        {
            "system": {"name": "Plug", "timezone": "Europe/Berlin"},
            "wifi": {"sta": {"ssid": "old", "password_secret": "wifi/home"}},
            "switch": {0: {"auto_off_delay": 60, "power_limit": 2000}, 1: {"auto_off": True}},
            "mqtt": {"server": "mqtt.lan"},
            "scripts": ["b", "a"],
            "schedules": ["morning"],
        }
    )
    assert diff(desired, ACTUAL) == [
        FieldDiff(path="scripts", desired=["b", "a"], actual=["a"]),
        FieldDiff(path="system.timezone", desired="Europe/Berlin", actual="Europe/Sofia"),
        FieldDiff(path="switch.0.power_limit", desired=2000, actual=4480),
        FieldDiff(path="switch.1.auto_off", desired=True, actual=False),
        FieldDiff(path="mqtt.server", desired="mqtt.lan", actual=None),
    ]
    assert diff(DeviceConfig(), ACTUAL) == []
    same = _config({"switch": {0: {"auto_off_delay": 60}}, "scripts": ["a"]})
    assert diff(same, ACTUAL) == []  # 60 == 60.0; secrets and schedules never read back


def test_a_drift_that_is_gone_was_changed_back_unless_git_moved() -> None:
    """As recorded (JSON: 60 for 60.0), judged against what Git wants now."""
    wanted = _config({"switch": {0: {"auto_off": True, "auto_off_delay": 60.0}}})
    recorded = diff(wanted, ACTUAL)
    replayed = [FieldDiff.model_validate(d.model_dump(mode="json")) for d in recorded]
    assert resolution_of(replayed, wanted) == "changed_back"
    moved = _config({"switch": {0: {"auto_off": False, "auto_off_delay": 60.0}}})
    assert resolution_of(replayed, moved) == "imported"  # Git took the device's value
    assert resolution_of(replayed, DeviceConfig()) == "imported"  # Git stopped saying


def test_gen2_changes_are_one_setconfig_per_component_with_only_the_differing_fields() -> None:
    drift = [
        FieldDiff(path="wifi.ap.enable", desired=False, actual=True),
        FieldDiff(path="system.timezone", desired="Europe/Berlin", actual="Europe/Sofia"),
        FieldDiff(path="system.debug", desired=True, actual=False),
        FieldDiff(path="switch.1.auto_off", desired=True, actual=False),
        FieldDiff(path="switch.0.power_limit", desired=2000, actual=4480),
        FieldDiff(path="switch.0.auto_off_delay", desired=30.0, actual=60.0),
        FieldDiff(path="mqtt.server", desired="mqtt.lan", actual=None),
        FieldDiff(path="scripts", desired=["b"], actual=["a"]),
    ]
    assert changes_to_apply(drift, _spec("Pro 4PM")) == [
        ("Sys.SetConfig", {"config": {"location": {"tz": "Europe/Berlin"},
                                      "debug": {"websocket": {"enable": True}}}}),
        ("Switch.SetConfig", {"id": 0, "config": {"power_limit": 2000, "auto_off_delay": 30.0}}),
        ("Switch.SetConfig", {"id": 1, "config": {"auto_off": True}}),
        ("MQTT.SetConfig", {"config": {"server": "mqtt.lan"}}),
        ("WiFi.SetConfig", {"config": {"ap": {"enable": False}}}),
    ]  # fmt: skip


def test_a_changed_block_carries_its_password_as_a_secret_reference_only() -> None:
    desired = _config(
        {
            "wifi": {
                "sta": {"ssid": "new", "password_secret": "wifi/home"},
                "ap": {"enable": False, "password_secret": "wifi/ap"},
            },
            "mqtt": {"enable": True, "password_secret": "mqtt/dev"},
        }
    )
    drift = diff(desired, ACTUAL)
    assert [d.path for d in drift] == ["wifi.sta.ssid", "wifi.ap.enable", "mqtt.enable"]
    assert changes_to_apply(drift, _spec("Plus Plug S"), desired) == [
        ("MQTT.SetConfig", {"config": {"enable": True, "pass": SecretRef("mqtt/dev")}}),
        ("WiFi.SetConfig", {"config": {"sta": {"ssid": "new", "pass": SecretRef("wifi/home")},
                                       "ap": {"enable": False, "pass": SecretRef("wifi/ap")}}}),
    ]  # fmt: skip
    only_ap = [d for d in drift if d.path == "wifi.ap.enable"]
    assert changes_to_apply(only_ap, _spec("Plus Plug S"), desired) == [
        ("WiFi.SetConfig", {"config": {"ap": {"enable": False, "pass": SecretRef("wifi/ap")}}}),
    ]


def test_a_dimmer_range_is_sent_whole_with_the_other_bound_from_git_or_the_device() -> None:
    actual = _config({"light": {0: {"min_brightness": 1, "max_brightness": 100}}})
    desired = _config({"light": {0: {"max_brightness": 80, "transition": 2.0}}})
    drift = diff(desired, actual)
    assert changes_to_apply(drift, _spec("Dimmer Gen3"), desired, actual) == [
        (
            "Light.SetConfig",
            {"id": 0, "config": {"transition_duration": 2.0, "range_map": [1, 80]}},
        ),
    ]
    both = _config({"light": {0: {"min_brightness": 20, "max_brightness": 80}}})
    assert changes_to_apply(diff(both, actual), _spec("Dimmer Gen3"), both, actual) == [
        ("Light.SetConfig", {"id": 0, "config": {"range_map": [20, 80]}}),
    ]


def test_gen1_changes_are_setters_with_the_devices_own_parameter_names_and_text_values() -> None:
    desired = _config(
        {
            "system": {"name": "Porch", "led": False, "lon": 13.4},
            "wifi": {"sta": {"enable": True, "gw": "10.0.0.1", "password_secret": "wifi/home"}},
            "switch": {0: {"initial_state": "match_input", "auto_off_delay": 90.0,
                           "power_limit": 2500}},
            "cloud": {"enable": True},
        }
    )  # fmt: skip
    drift = diff(desired, DeviceConfig())
    assert changes_to_apply(drift, _spec("SHPLG-S"), desired) == [
        ("/settings", {"name": "Porch", "led_status_disable": "true", "lng": "13.4",
                       "max_power": "2500"}),
        ("/settings/cloud", {"enabled": "true"}),
        ("/settings/relay/0", {"default_state": "switch", "auto_off": "90"}),
        ("/settings/sta", {"enabled": "true", "gateway": "10.0.0.1",
                           "key": SecretRef("wifi/home")}),
    ]  # fmt: skip


def test_gen1_dimmer_transition_is_sent_in_milliseconds() -> None:
    desired = _config({"light": {0: {"transition": 1.5, "night_mode": {"brightness": 20}}}})
    assert changes_to_apply(diff(desired, DeviceConfig()), _spec("Dimmer 2"), desired) == [
        ("/settings", {"transition": "1500"}),
        ("/settings/night_mode", {"brightness": "20"}),
    ]


def test_a_config_travels_as_json_in_an_event_and_comes_back_equal() -> None:
    config = _config({"switch": {0: {"auto_off_delay": 30.0}}, "wifi": {"ap": {"enable": False}}})
    as_json = config.model_dump(mode="json", exclude_none=True)
    assert as_json == {"switch": {"0": {"auto_off_delay": 30.0}}, "wifi": {"ap": {"enable": False}}}
    assert DeviceConfig.model_validate(as_json) == config


def test_import_ignores_what_hearth_does_not_model_and_values_it_does_not_know() -> None:
    dump = {
        "zigbee": {"enable": True},
        "sys": {"device": {"name": "Hall", "eco_mode": True}, "location": {"tz": "UTC"}},
        "switch:0": {"id": 0, "in_locked": False, "initial_state": "a_new_mode",
                     "auto_off": True, "auto_off_delay": 60, "power_limit": 4480.0},
        "switch:1": {"id": 1, "name": "beyond the model's channels"},
    }  # fmt: skip
    imported = from_device(dump, _spec("S4SW-001P16EU"))
    assert imported == _config(
        {
            "system": {"name": "Hall", "eco_mode": True, "timezone": "UTC"},
            "switch": {0: {"auto_off": True, "auto_off_delay": 60.0, "power_limit": 4480}},
        }
    )
