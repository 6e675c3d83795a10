"""Typed capability models for the desired config of a Shelly device.

Every field is optional: ``None`` means "Git does not say", and only fields that are set are
compared with the device and applied. Secrets (Wi-Fi and MQTT passwords) are *names* of
secrets, never their values. Scalars are strict, so ``auto_off = "yes"`` is an error instead
of a guess; channel numbers (``[switch.0]``) are table keys and may arrive as text.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

Bool = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
Seconds = Annotated[float, Strict(), Field(ge=0)]
Percent = Annotated[int, Strict(), Field(ge=0, le=100)]
Watts = Annotated[int, Strict(), Field(ge=0)]
Volts = Annotated[int, Strict(), Field(ge=0)]
Amperes = Annotated[float, Strict(), Field(ge=0)]
SecretName = Annotated[str, Strict(), Field(pattern=r"^[A-Za-z0-9_.\-/]+$")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemConfig(_Part):
    name: Text | None = None
    timezone: Text | None = None
    lat: Annotated[float, Strict(), Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Strict(), Field(ge=-180, le=180)] | None = None
    eco_mode: Bool | None = None
    led: Bool | None = None  # the status LED is on
    discoverable: Bool | None = None
    debug: Bool | None = None  # debug log over the WebSocket (Gen2+) / debug_enable (Gen1)
    sntp_server: Text | None = None


class StationConfig(_Part):
    enable: Bool | None = None
    ssid: Text | None = None
    password_secret: SecretName | None = None
    ipv4mode: Literal["dhcp", "static"] | None = None
    ip: Text | None = None
    netmask: Text | None = None
    gw: Text | None = None
    nameserver: Text | None = None


class AccessPointConfig(_Part):
    enable: Bool | None = None
    ssid: Text | None = None
    password_secret: SecretName | None = None


class WifiConfig(_Part):
    sta: StationConfig | None = None
    sta1: StationConfig | None = None
    ap: AccessPointConfig | None = None


class SwitchConfig(_Part):
    name: Text | None = None
    in_mode: Literal["momentary", "follow", "flip", "detached", "cycle", "activate"] | None = None
    initial_state: Literal["off", "on", "restore_last", "match_input"] | None = None
    auto_on: Bool | None = None
    auto_on_delay: Seconds | None = None
    auto_off: Bool | None = None
    auto_off_delay: Seconds | None = None
    power_limit: Watts | None = None
    voltage_limit: Volts | None = None
    current_limit: Amperes | None = None


class CoverConfig(_Part):
    name: Text | None = None
    in_mode: Literal["single", "dual", "detached"] | None = None
    initial_state: Literal["open", "closed", "stopped"] | None = None
    maxtime_open: Seconds | None = None
    maxtime_close: Seconds | None = None
    swap: Bool | None = None  # invert the directions (open <-> close)
    swap_inputs: Bool | None = None
    power_limit: Watts | None = None


class InputConfig(_Part):
    name: Text | None = None
    type: Literal["switch", "button", "analog"] | None = None
    enable: Bool | None = None
    invert: Bool | None = None


class NightModeConfig(_Part):
    enable: Bool | None = None
    brightness: Percent | None = None


class LightConfig(_Part):
    name: Text | None = None
    initial_state: Literal["off", "on", "restore_last"] | None = None
    auto_on: Bool | None = None
    auto_on_delay: Seconds | None = None
    auto_off: Bool | None = None
    auto_off_delay: Seconds | None = None
    transition: Seconds | None = None
    min_brightness: Percent | None = None
    max_brightness: Percent | None = None
    night_mode: NightModeConfig | None = None


class MqttConfig(_Part):
    enable: Bool | None = None
    server: Text | None = None
    user: Text | None = None
    password_secret: SecretName | None = None
    client_id: Text | None = None
    topic_prefix: Text | None = None


class CloudConfig(_Part):
    enable: Bool | None = None


class BleConfig(_Part):
    enable: Bool | None = None
    rpc: Bool | None = None


Channel = Annotated[int, Field(ge=0)]


class DeviceConfig(_Part):
    """The desired (or, read from a device, the actual) config of one device."""

    scripts: list[Text] | None = None  # names of scripts that must exist (references)
    schedules: list[Text] | None = None  # names of schedules (references; not read back)
    system: SystemConfig | None = None
    wifi: WifiConfig | None = None
    switch: dict[Channel, SwitchConfig] | None = None
    cover: dict[Channel, CoverConfig] | None = None
    input: dict[Channel, InputConfig] | None = None
    light: dict[Channel, LightConfig] | None = None
    mqtt: MqttConfig | None = None
    cloud: CloudConfig | None = None
    ble: BleConfig | None = None


CHANNELLED = ("switch", "cover", "input", "light")
SECRET_FIELDS = frozenset({"password_secret"})
