"""Every model the simulator supports: the model table, import and its round trip, and apply
closing the loop against the simulator's own config handling."""

from __future__ import annotations

from typing import Any

import pytest

from hearth.demo.shelly import methods
from hearth.demo.shelly.device import SimDevice
from hearth.demo.shelly.gen1 import SimGen1Device
from hearth.demo.shelly.gen1_models import GEN1_MODELS, Gen1Model, gen1_state
from hearth.demo.shelly.models import MODELS, Model, initial_state
from hearth_device_manager.domain.desired import (
    ModelSpec,
    SecretRef,
    changes_to_apply,
    diff,
    find_model,
    from_device,
    load_repository,
    to_toml,
)

MAC = "AABBCCDDEEFF"
GEN2 = sorted(MODELS.values(), key=lambda m: m.app)
GEN1 = sorted(GEN1_MODELS.values(), key=lambda m: m.type)


def _spec2(model: Model) -> ModelSpec:
    spec = find_model(model.model, "cover" if model.covers else None)
    assert spec is not None
    return spec


def _spec1(model: Gen1Model) -> ModelSpec:
    spec = find_model(model.type)
    assert spec is not None
    return spec


@pytest.mark.parametrize("model", GEN2, ids=lambda m: m.app)
def test_the_table_has_the_simulators_gen2_components(model: Model) -> None:
    spec = _spec2(model)
    counts = (spec.switch, spec.cover, spec.light, spec.input, spec.sleeping, spec.gen)
    assert counts == (
        model.switches,
        model.covers,
        model.lights,
        model.inputs,
        model.sleeping,
        model.gen,
    )


@pytest.mark.parametrize("model", GEN1, ids=lambda m: m.type)
def test_the_table_has_the_simulators_gen1_outputs(model: Gen1Model) -> None:
    spec = _spec1(model)
    assert (spec.switch, spec.light, spec.gen) == (model.relays, model.lights, 1)


def test_models_are_found_by_sku_or_name_and_plus_2pm_has_both_profiles() -> None:
    assert find_model("plus plug s") == find_model("SNPL-00112EU")
    assert find_model("SNSW-102P16EU", "switch") is not None
    two = find_model("SNSW-102P16EU", "switch")
    assert two is not None and (two.switch, two.cover) == (2, 0)
    blind = find_model("Plus 2PM", "cover")
    assert blind is not None and (blind.switch, blind.cover) == (0, 1)
    assert find_model("SNSW-001P16EU", "cover") is None


def _customised_gen2(model: Model) -> dict[str, Any]:
    """A device someone has set up: names, timers, limits, a script."""
    config, _ = initial_state(model, MAC, f"{model.id_prefix}-{MAC.lower()}")
    config["sys"]["device"]["name"] = 'Hall "main" — ü\\\x7f\t'
    static = {"ipv4mode": "static", "ip": "10.0.0.9", "netmask": "255.255.255.0"}
    config["wifi"]["sta"] |= {"enable": True, "ssid": "homelab", "gw": "10.0.0.1"} | static
    config["script:1"] = {"id": 1, "name": "night-light", "enable": True}
    for key, value in config.items():
        if key.startswith("switch:"):
            value |= {"name": f"out {key}", "auto_off": True, "auto_off_delay": 90}
        if key.startswith("light:"):
            night = {"enable": True, "brightness": 10, "active_between": []}
            value |= {"transition_duration": 2.5, "range_map": [5.0, 95.0], "night_mode": night}
        if key.startswith("cover:"):
            value |= {"invert_directions": True, "maxtime_open": 31.5}
    return config


@pytest.mark.parametrize("fresh", [True, False], ids=["factory", "customised"])
@pytest.mark.parametrize("model", GEN2, ids=lambda m: m.app)
def test_import_of_every_gen2_model_round_trips(model: Model, fresh: bool) -> None:
    spec = _spec2(model)
    if fresh:
        config, _ = initial_state(model, MAC, f"{model.id_prefix}-{MAC.lower()}")
    else:
        config = _customised_gen2(model)
    imported = from_device(config, spec)
    text = to_toml(imported, spec, mac=MAC, groups=["hall"])
    assert text == to_toml(from_device(config, spec), spec, mac=MAC, groups=["hall"])
    loaded = load_repository({"devices/hall.toml": text.encode(), "groups/hall.toml": b""})
    assert loaded.errors == []
    assert loaded.devices["hall"].config == imported
    assert loaded.devices["hall"].spec == spec
    assert diff(imported, from_device(config, spec)) == []
    if not fresh and spec.switch:
        assert imported.switch is not None and imported.switch[0].auto_off_delay == 90
    if not fresh and spec.light:
        assert imported.light is not None
        assert (imported.light[0].min_brightness, imported.light[0].max_brightness) == (5, 95)
    if not fresh and not spec.sleeping:
        assert imported.scripts == ["night-light"]


@pytest.mark.parametrize("model", GEN1, ids=lambda m: m.type)
def test_import_of_every_gen1_model_round_trips(model: Gen1Model) -> None:
    spec = _spec1(model)
    settings, _ = gen1_state(model, MAC)
    settings["name"] = "Porch"
    settings["wifi_sta"] |= {"enabled": True, "ssid": "homelab"}
    for block in (*settings["relays"], *settings["lights"]):
        block |= {"name": "lamp", "auto_off": 45.0, "default_state": "last"}
    if model.type == "SHPLG-S":
        settings |= {"max_power": 2500, "led_status_disable": True}
    if model.type == "SHDM-2":
        settings |= {"transition": 1500, "night_mode": {"enabled": True, "brightness": 15}}
    imported = from_device(settings, spec)
    text = to_toml(imported, spec, device_id=f"{model.hostname_prefix}-{MAC[-6:]}")
    loaded = load_repository({"devices/porch.toml": text.encode()})
    assert loaded.errors == []
    assert loaded.devices["porch"].config == imported
    assert imported.system is not None and imported.system.name == "Porch"
    outputs = imported.switch or imported.light
    assert outputs is not None
    assert outputs[0].initial_state == "restore_last"
    assert outputs[0].auto_off_delay == 45.0
    if model.type == "SHPLG-S":
        assert imported.switch is not None and imported.switch[0].power_limit == 2500
        assert imported.system.led is False
    if model.type == "SHDM-2":
        assert imported.light is not None and imported.light[0].transition == 1.5
        assert imported.light[0].night_mode is not None
        assert imported.light[0].night_mode.brightness == 15


def _desired_text(spec: ModelSpec) -> str:
    blocks: dict[str, dict[str, str]] = {
        "system": {
            "name": '"Hall"',
            "timezone": '"Europe/Berlin"',
            "lat": "52.5",
            "lon": "13.4",
            "eco_mode": "true",
            "debug": "true",
        },
        "wifi.sta": {"enable": "true", "ssid": '"homelab"', "password_secret": '"wifi/home"'},
        "wifi.ap": {"enable": "false"},
        "mqtt": {"enable": "true", "server": '"mqtt.lan:1883"', "password_secret": '"mqtt/dev"'},
        "cloud": {"enable": "false"},
        "ble": {"enable": "false"},
    }
    for i in range(spec.switch):
        timer = {"auto_off": "true", "auto_off_delay": "120", "power_limit": "2000"}
        blocks[f"switch.{i}"] = {"name": f'"out {i}"', "initial_state": '"off"'} | timer
    for i in range(spec.cover):
        blocks[f"cover.{i}"] = {"maxtime_open": "30.0", "swap": "true", "swap_inputs": "true"}
    for i in range(spec.input):
        blocks[f"input.{i}"] = {"type": '"button"', "invert": "true"}
    for i in range(spec.light):
        blocks[f"light.{i}"] = {"transition": "1.5", "min_brightness": "10", "max_brightness": "90"}
        blocks[f"light.{i}.night_mode"] = {"enable": "true", "brightness": "20"}
    lines = [f'mac = "{MAC}"', f'model = "{spec.model}"']
    if spec.device_profile:
        lines.append(f'device_profile = "{spec.device_profile}"')
    for table, fields in blocks.items():
        kept = [f"{k} = {v}" for k, v in fields.items() if not spec.lacks((*table.split("."), k))]
        if kept:
            lines += ["", f"[{table}]", *kept]
    return "\n".join(lines) + "\n"


def _secrets(params: dict[str, Any]) -> dict[str, Any]:
    """What the adapter does: put the secret's value where its reference stands."""
    filled: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            value = _secrets(value)  # noqa: PLW2901
        filled[key] = f"value-of-{value.name}" if isinstance(value, SecretRef) else value
    return filled


@pytest.mark.parametrize("model", GEN2, ids=lambda m: m.app)
def test_applying_the_changes_converges_a_simulated_gen2_device(model: Model) -> None:
    spec = _spec2(model)
    loaded = load_repository({"devices/hall.toml": _desired_text(spec).encode()})
    assert loaded.errors == []
    desired = loaded.devices["hall"].config
    device = SimDevice(model, MAC)
    actual = from_device(methods.call(device, "Shelly.GetConfig", None), spec)
    drift = diff(desired, actual)
    assert drift != []
    calls = changes_to_apply(drift, spec, desired, actual)
    called = [(method, params.get("id")) for method, params in calls]
    assert len(called) == len(set(called))  # one call per component and channel
    assert called[-1] == ("WiFi.SetConfig", None)
    for method, params in calls:
        methods.call(device, method, _secrets(params))
    after = from_device(methods.call(device, "Shelly.GetConfig", None), spec)
    assert diff(desired, after) == []
    assert device.config["wifi"]["sta"]["pass"] == "value-of-wifi/home"
    assert device.config["mqtt"]["pass"] == "value-of-mqtt/dev"


@pytest.mark.parametrize("model", GEN1, ids=lambda m: m.type)
def test_applying_the_changes_converges_a_simulated_gen1_device(model: Gen1Model) -> None:
    spec = _spec1(model)
    outputs = "switch" if spec.switch else "light"
    text = f'''mac = "{MAC}"
model = "{spec.model}"

[system]
name = "Porch"

[wifi.sta]
enable = true
ssid = "homelab"
password_secret = "wifi/home"

[wifi.ap]
enable = false

[{outputs}.0]
name = "lamp"
initial_state = "restore_last"

[mqtt]
enable = true
server = "mqtt.lan:1883"
user = "shelly"

[cloud]
enable = true
'''
    loaded = load_repository({"devices/porch.toml": text.encode()})
    assert loaded.errors == []
    desired = loaded.devices["porch"].config
    device = SimGen1Device(model, MAC, "127.0.0.1")
    drift = diff(desired, from_device(device.settings_view(), spec))
    calls = changes_to_apply(drift, spec, desired)
    assert [path for path, _ in calls][-2:] == ["/settings/ap", "/settings/sta"]
    for path, params in calls:
        assert all(isinstance(v, str | SecretRef) for v in params.values())
        answer = device.apply(path, _secrets(params))
        assert answer is not None
    assert diff(desired, from_device(device.settings_view(), spec)) == []
    assert device.settings["wifi_sta"]["key"] == "value-of-wifi/home"
