"""The desired-config repository: resolution profile -> groups -> device, provenance, errors."""

from __future__ import annotations

import pytest

from hearth_device_manager.domain.desired import load_repository
from hearth_device_manager.domain.desired.lines import key_lines, line_of

PLUG = b"""\
[system]
timezone = "Europe/Berlin"
eco_mode = true

[switch.0]
initial_state = "off"
auto_off = true
auto_off_delay = 600.0
"""

KITCHEN_GROUP = b"""\
policy = "apply"

[switch.0]
auto_off_delay = 300.0

[cover.0]
maxtime_open = 25.0
"""

NIGHT_GROUP = b"""\
policy = "off"
channel = "beta"

[system]
timezone = "Europe/Vienna"

[switch.0]
auto_off_delay = 120.0
"""

KETTLE = b"""\
mac = "aa:bb:cc:dd:ee:01"
model = "SNPL-00112EU"
profile = "plug"
groups = ["kitchen", "night"]

[system]
name = "Kettle"

[switch.0]
auto_off_delay = 60.0
"""


def _repo(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {
        "profiles/plug.toml": PLUG,
        "groups/kitchen.toml": KITCHEN_GROUP,
        "groups/night.toml": NIGHT_GROUP,
        "devices/kettle.toml": KETTLE,
        "README.md": b"not a config file",
    }
    return files | (extra or {})


def test_profile_then_groups_in_order_then_device_and_where_each_value_comes_from() -> None:
    result = load_repository(_repo())
    assert result.errors == []
    kettle = result.devices["kettle"]
    assert kettle.mac == "AABBCCDDEE01"
    assert kettle.spec.name == "Plus Plug S"
    assert kettle.groups == ("kitchen", "night")
    config = kettle.config
    assert config.system is not None and config.switch is not None
    assert config.system.timezone == "Europe/Vienna"  # night overrides the profile
    assert config.system.eco_mode is True
    assert config.system.name == "Kettle"
    assert config.switch[0].initial_state == "off"
    assert config.switch[0].auto_off is True
    assert config.switch[0].auto_off_delay == 60.0  # the device overrides every group
    assert dict(kettle.sources) == {
        "system.timezone": "groups/night.toml",
        "system.eco_mode": "profiles/plug.toml",
        "system.name": "devices/kettle.toml",
        "switch.0.initial_state": "profiles/plug.toml",
        "switch.0.auto_off": "profiles/plug.toml",
        "switch.0.auto_off_delay": "devices/kettle.toml",
        "policy": "groups/night.toml",
        "channel": "groups/night.toml",
    }
    # the kitchen group's cover is not applied to a plug (a group spans models)
    assert config.cover is None
    assert (kettle.policy, kettle.channel) == ("off", "beta")


def test_groups_later_in_the_list_win_and_policy_defaults_to_alert() -> None:
    device = KETTLE.replace(b'["kitchen", "night"]', b'["night", "kitchen"]').replace(
        b"auto_off_delay = 60.0\n", b""
    )
    kettle = load_repository(_repo({"devices/kettle.toml": device})).devices["kettle"]
    assert kettle.config.switch is not None
    assert kettle.config.switch[0].auto_off_delay == 300.0
    assert kettle.sources["switch.0.auto_off_delay"] == "groups/kitchen.toml"
    assert kettle.policy == "apply"
    alone = load_repository(
        {"devices/a.toml": b'device_id = "shellyplusplugs-1"\nmodel = "Plus Plug S"\n'}
    )
    assert alone.errors == []
    assert (alone.devices["a"].policy, alone.devices["a"].channel) == ("alert", "stable")
    assert alone.devices["a"].device_id == "shellyplusplugs-1"


def _toml(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


MAC = 'mac = "AABBCCDDEE01"'


def test_a_two_profile_model_takes_its_device_profile() -> None:
    cover = _toml(
        MAC, 'model = "SNSW-102P16EU"', 'device_profile = "cover"', "[cover.0]", "swap = true"
    )
    result = load_repository({"devices/blind.toml": cover})
    assert result.errors == []
    assert result.devices["blind"].spec.device_profile == "cover"


ERRORS = [
    pytest.param(
        {"devices/kitchen.toml": _toml(MAC, 'model = "SNPL-00112EU"', "", "[system]",
                                       'name = "k"', "", "[cover.0]", "swap = true")},
        ["devices/kitchen.toml:7: field 'cover' — Plus Plug S has no cover"],
        id="component the model lacks",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SNSW-001P16EU"', "[switch.1]", 'name = "x"')},
        ["devices/a.toml:3: field 'switch.1' — Plus 1PM has 1 switch (switch.0)"],
        id="channel out of range",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SHSW-1"', "[switch.0]", 'name = "x"',
                                 "voltage_limit = 250")},
        ["devices/a.toml:5: field 'switch.0.voltage_limit' — "
         "Shelly 1 cannot set switch.voltage_limit"],
        id="field the model lacks",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SHSW-1"', "", "[ble]", "enable = false")},
        ["devices/a.toml:4: field 'ble' — Shelly 1 cannot set ble"],
        id="section the model lacks",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SHSW-1"', 'profile = "plug"',
                                 'groups = ["kitchen"]')},
        [
            "devices/a.toml:3: field 'profile' — no profiles/plug.toml",
            "devices/a.toml:4: field 'groups' — no groups/kitchen.toml",
        ],
        id="unknown profile and group",
    ),
    pytest.param(
        {
            "devices/a.toml": _toml('mac = "AA:BB:CC:DD:EE:01"', 'model = "SHSW-1"'),
            "devices/b.toml": _toml('model = "SHSW-1"', 'mac = "aabbccddee01"'),
            "devices/c.toml": _toml('device_id = "x-1"', 'model = "SHSW-1"'),
            "devices/d.toml": _toml('model = "SHSW-1"', "", 'device_id = "X-1"'),
        },
        [
            "devices/b.toml:2: field 'mac' — AABBCCDDEE01 is already in devices/a.toml",
            "devices/d.toml:3: field 'device_id' — X-1 is already in devices/c.toml",
        ],
        id="duplicate mac and device id",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SHSW-1"', "[system", 'name = "x"')},
        ["devices/a.toml:3: TOML syntax error — "
         "expected ']' at the end of a table declaration"],
        id="TOML syntax",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SNSW-001P16EU"', "", "[switch.0]",
                                 'auto_off = "yes"')},
        ["devices/a.toml:5: field 'switch.0.auto_off' — "
         "input should be a valid boolean, got 'yes'"],
        id="wrong type",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SNSW-001P16EU"', "", "[switch.0]",
                                 "auto_of = true")},
        ["devices/a.toml:5: field 'switch.0.auto_of' — unknown field"],
        id="unknown field",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SNSW-001P16EU"', "[switch.0]",
                                 'initial_state = "maybe"')},
        ["devices/a.toml:4: field 'switch.0.initial_state' — "
         "input should be 'off', 'on', 'restore_last' or 'match_input', got 'maybe'"],
        id="value outside the choices",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "Shelly 99"')},
        ["devices/a.toml:2: field 'model' — unknown model 'Shelly 99'"],
        id="unknown model",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SNSW-102P16EU"', 'device_profile = "light"')},
        ["devices/a.toml:3: field 'device_profile' — "
         "SNSW-102P16EU has no profile 'light' (choose switch | cover)"],
        id="unknown device profile",
    ),
    pytest.param(
        {"devices/a.toml": _toml('model = "SHSW-1"'), "devices/b.toml": _toml(MAC)},
        [
            "devices/a.toml:1: the device needs 'mac' or 'device_id'",
            "devices/b.toml:1: field 'model' is missing",
        ],
        id="identity and model missing",
    ),
    pytest.param(
        {"devices/a.toml": _toml('mac = "AABBCCDDEE0"', 'model = "SHSW-1"')},
        ["devices/a.toml:1: field 'mac' — 'AABBCCDDEE0' is not 12 hex digits"],
        id="malformed mac",
    ),
    pytest.param(
        {"devices/hall.lamp.toml": b"", "devices/sub/x.toml": b"", "devices/notes.md": b""},
        [
            "devices/hall.lamp.toml:1: not read: name the file with letters, digits, _ and - "
            "only, no folders",
            "devices/sub/x.toml:1: not read: name the file with letters, digits, _ and - "
            "only, no folders",
        ],
        id="a file the loader would not read",
    ),
    pytest.param(
        {"groups/g.toml": _toml("", 'policy = "sometimes"')},
        ["groups/g.toml:2: field 'policy' — must be apply | alert | off, got 'sometimes'"],
        id="group policy",
    ),
    pytest.param(
        {"profiles/p.toml": _toml("[system]", "lat = 123.0")},
        ["profiles/p.toml:2: field 'system.lat' — "
         "input should be less than or equal to 90, got 123.0"],
        id="out of range in a profile",
    ),
    pytest.param(
        {"devices/a.toml": _toml(MAC, 'model = "SHSW-1"', "[wifi.sta]",
                                 'password_secret = "my password!"')},
        ["devices/a.toml:4: field 'wifi.sta.password_secret' — "
         "string should match pattern '^[A-Za-z0-9_.\\-/]+$', got 'my password!'"],
        id="a password instead of a secret name",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("files", "expected"), ERRORS)
def test_errors_name_the_file_the_line_and_what_to_change(
    files: dict[str, bytes], expected: list[str]
) -> None:
    result = load_repository(files)
    assert [str(e) for e in result.errors] == expected


def test_a_device_with_an_error_is_not_resolved_but_the_others_are() -> None:
    files = {
        "devices/good.toml": b'mac = "AABBCCDDEE01"\nmodel = "SHSW-1"\n',
        "devices/bad.toml": b'mac = "AABBCCDDEE02"\nmodel = "SHSW-1"\n[cover.0]\nswap = true\n',
        "devices/uses-broken.toml": b'mac = "AABBCCDDEE03"\nmodel = "SHSW-1"\nprofile = "broken"\n',
        "profiles/broken.toml": b"[system]\nname = 5\n",
    }
    result = load_repository(files)
    assert sorted(result.devices) == ["good"]
    assert [e.file for e in result.errors] == ["profiles/broken.toml", "devices/bad.toml"]


def test_the_line_scan_finds_headers_dotted_keys_and_falls_back_to_the_table() -> None:
    text = '''a = 1
[switch.0]
name = "x"
night_mode = { enable = true }
desc = """
fake = 1
"""
[[scripts]]
wifi.sta.ssid = "y"
'''
    lines = key_lines(text)
    assert line_of(lines, ("a",)) == 1
    assert line_of(lines, ("switch",)) == 2
    assert line_of(lines, ("switch", "0", "name")) == 3
    assert line_of(lines, ("switch", "0", "night_mode", "enable")) == 4  # inline: its line
    assert line_of(lines, ("switch", "0", "fake")) == 2  # inside a string: not a key
    assert line_of(lines, ("scripts", "wifi", "sta", "ssid")) == 9
    assert line_of(lines, ("nothing",)) == 1


def test_a_device_file_names_the_secret_of_its_admin_password() -> None:
    with_secret = KETTLE.replace(
        b'profile = "plug"', b'profile = "plug"\npassword_secret = "kettle-admin"'
    )
    result = load_repository(_repo({"devices/kettle.toml": with_secret}))
    assert not result.errors
    assert result.devices["kettle"].password_secret == "kettle-admin"
    assert "password_secret" not in result.devices["kettle"].config.model_dump(exclude_none=True)
    bad = KETTLE.replace(b'profile = "plug"', b'profile = "plug"\npassword_secret = "no way"')
    result = load_repository(_repo({"devices/kettle.toml": bad}))
    assert [str(e) for e in result.errors] == [
        "devices/kettle.toml:4: field 'password_secret' — a secret name has letters, digits "
        "and . _ - / only"
    ]
    assert "kettle" not in result.devices
