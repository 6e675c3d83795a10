"""Which components and fields each supported Shelly model has (the model table).

Derived from the simulator's models (``src/hearth/demo/shelly``) and Shelly's public API
documentation. ``unsupported`` lists field paths without channel numbers (``switch.auto_on``,
``ble``): a device file that sets one is refused; a profile or group that sets one simply
does not apply it to this model.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_device_manager.domain.desired.models import CHANNELLED

# Gen1 relays and lights know one number per timer (0 = off) instead of a flag and a delay;
# they have no input modes, BLE or scripts; their metering (Plug S) has only a power limit.
_GEN1 = frozenset(
    {
        "switch.auto_on",
        "switch.auto_off",
        "switch.in_mode",
        "switch.voltage_limit",
        "switch.current_limit",
        "light.auto_on",
        "light.auto_off",
        "light.min_brightness",
        "light.max_brightness",
        "system.eco_mode",
        "wifi.sta1.ipv4mode",
        "wifi.sta1.ip",
        "wifi.sta1.netmask",
        "wifi.sta1.gw",
        "wifi.sta1.nameserver",
        "mqtt.topic_prefix",
        "ble",
        "scripts",
        "schedules",
    }
)
# Hearth does not map the Gen2+ plug LED component (PLUGS_UI) yet.
_GEN2 = frozenset({"system.led"})
_UNMETERED = frozenset({"switch.power_limit", "switch.voltage_limit", "switch.current_limit"})


@dataclass(frozen=True)
class ModelSpec:
    model: str  # the SKU the device reports (Gen2+ ``model``, Gen1 ``type``)
    name: str  # what people call it, used in messages
    gen: int
    switch: int = 0
    cover: int = 0
    input: int = 0
    light: int = 0
    device_profile: str | None = None  # for devices with several profiles (Plus 2PM)
    sleeping: bool = False
    unsupported: frozenset[str] = frozenset()

    def channels(self, kind: str) -> int:
        count: int = getattr(self, kind)
        return count

    def lacks(self, path: tuple[str, ...]) -> str | None:
        """The unsupported entry that covers ``path`` (channel numbers removed), if any."""
        plain = [p for p in path if not p.isdigit()]
        for end in range(1, len(plain) + 1):
            key = ".".join(plain[:end])
            if key in self.unsupported:
                return key
        return None


def _gen2(
    sku: str,
    name: str,
    gen: int = 2,
    *,
    switch: int = 0,
    cover: int = 0,
    input: int = 0,
    light: int = 0,
    device_profile: str | None = None,
    sleeping: bool = False,
    unsupported: frozenset[str] = frozenset(),
) -> ModelSpec:
    return ModelSpec(
        sku,
        name,
        gen,
        switch,
        cover,
        input,
        light,
        device_profile,
        sleeping,
        _GEN2 | unsupported,
    )


MODELS: tuple[ModelSpec, ...] = (
    _gen2("SNSW-001P16EU", "Plus 1PM", switch=1, input=1),
    _gen2("SNPL-00112EU", "Plus Plug S", switch=1),
    _gen2("SPSW-104PE16EU", "Pro 4PM", switch=4, input=4),
    _gen2("SNSW-102P16EU", "Plus 2PM", switch=2, input=2, device_profile="switch"),
    _gen2("SNSW-102P16EU", "Plus 2PM", cover=1, input=2, device_profile="cover"),
    _gen2(
        "SNSN-0013A",
        "Plus H&T",
        sleeping=True,
        unsupported=frozenset({"scripts", "schedules", "system.eco_mode"}),
    ),
    _gen2("S3SW-001P8EU", "Mini 1PM Gen3", 3, switch=1, input=1),
    _gen2("S3DM-0A101WWL", "Dimmer Gen3", 3, light=1, input=2),
    _gen2("S4SW-001P16EU", "1PM Gen4", 4, switch=1, input=1),
    ModelSpec("SHSW-1", "Shelly 1", 1, switch=1, unsupported=_GEN1 | _UNMETERED | {"system.led"}),
    ModelSpec("SHPLG-S", "Plug S", 1, switch=1, unsupported=_GEN1),
    ModelSpec("SHDM-2", "Dimmer 2", 1, light=1, unsupported=_GEN1 | {"system.led"}),
    ModelSpec("SHHT-1", "H&T", 1, sleeping=True, unsupported=_GEN1 | {"system.led"}),
)


def find_model(model: str, device_profile: str | None = None) -> ModelSpec | None:
    """The spec for a SKU or a model's name (case-insensitive) and, if it has several, profile."""
    wanted = model.strip().casefold()
    found = [m for m in MODELS if wanted in (m.model.casefold(), m.name.casefold())]
    if device_profile is None:
        return found[0] if found else None
    return next((m for m in found if m.device_profile == device_profile), None)


def profiles_of(model: str) -> list[str]:
    spec = find_model(model)
    if spec is None:
        return []
    return [m.device_profile for m in MODELS if m.model == spec.model and m.device_profile]


def capability_errors(spec: ModelSpec, leaves: list[tuple[str, ...]]) -> list[tuple[str, str]]:
    """(field path, message) for every set field the model cannot have."""
    errors: dict[str, str] = {}
    for path in leaves:
        kind = path[0]
        if kind in CHANNELLED:
            count = spec.channels(kind)
            if count == 0:
                errors.setdefault(kind, f"{spec.name} has no {kind}")
                continue
            if int(path[1]) >= count:
                have = ", ".join(f"{kind}.{i}" for i in range(count))
                plural = "" if count == 1 else "s"
                errors.setdefault(
                    f"{kind}.{path[1]}", f"{spec.name} has {count} {kind}{plural} ({have})"
                )
                continue
        lacking = spec.lacks(path)
        if lacking is not None:
            field = ".".join(path[: len(lacking.split(".")) + (1 if kind in CHANNELLED else 0)])
            errors.setdefault(field, f"{spec.name} cannot set {lacking}")
    return sorted(errors.items())
