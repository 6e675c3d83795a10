"""Drift: desired vs actual, field by field, and the calls that converge a device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hearth_device_manager.domain.desired.catalog import ModelSpec
from hearth_device_manager.domain.desired.gen1 import from_gen1, gen1_calls
from hearth_device_manager.domain.desired.gen2 import from_gen2, gen2_calls
from hearth_device_manager.domain.desired.models import SECRET_FIELDS, DeviceConfig
from hearth_device_manager.domain.desired.tree import dotted, leaves_of
from hearth_device_manager.domain.device import Resolution
from hearth_events.catalogue.device import FieldDiff

# Not read back from a device: secrets (devices never reveal them) and schedule names
# (Schedule.List is not part of Shelly.GetConfig).
_UNCOMPARED = SECRET_FIELDS | {"schedules"}


def from_device(config: dict[str, Any], spec: ModelSpec) -> DeviceConfig:
    """Import: the device's own config (Gen2+ ``Shelly.GetConfig``, Gen1 ``/settings``)."""
    return from_gen1(config, spec) if spec.gen == 1 else from_gen2(config, spec)


def _same(desired: Any, actual: Any) -> bool:
    numbers = isinstance(desired, float | int) and isinstance(actual, float | int)
    if numbers and not isinstance(desired, bool) and not isinstance(actual, bool):
        return float(desired) == float(actual)
    if isinstance(desired, list) and isinstance(actual, list):
        return sorted(map(str, desired)) == sorted(map(str, actual))
    return bool(desired == actual)


def diff(
    desired: DeviceConfig, actual: DeviceConfig, sources: Mapping[str, str] | None = None
) -> list[FieldDiff]:
    """Every field the desired config sets whose actual value differs, in a stable order;
    with ``sources`` (``DesiredDevice.sources``) each says which file its value comes from."""
    have = leaves_of(actual)
    where = sources or {}
    found = []
    for path, wanted in leaves_of(desired).items():
        if path[-1] in _UNCOMPARED or path[0] in _UNCOMPARED:
            continue
        value = have.get(path)
        if not _same(wanted, value):
            name = dotted(path)
            found.append(FieldDiff(path=name, desired=wanted, actual=value, source=where.get(name)))
    return found


def resolution_of(drift: Sequence[FieldDiff], desired: DeviceConfig) -> Resolution:
    """How a drift that is gone ended: ``changed_back`` when Git still wants what it
    wanted when the drift was recorded (the device came back), else ``imported`` (Git
    changed to what the device has). Judged from the recorded differences, not from what
    started the comparison: a push that changed nothing may come while a device changes
    back."""
    now = {dotted(path): value for path, value in leaves_of(desired).items()}
    same = all(d.path in now and _same(now[d.path], d.desired) for d in drift)
    return "changed_back" if same else "imported"


def changes_to_apply(
    diffs: list[FieldDiff],
    spec: ModelSpec,
    desired: DeviceConfig | None = None,
    actual: DeviceConfig | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The calls that send only the differing fields, one per component or setter.

    Gen2+: ``(method, params)`` for ``*.SetConfig``. Gen1: ``(HTTP path, query params)``.
    Pass ``desired`` so a changed Wi-Fi or MQTT block carries its password as a
    ``SecretRef``; ``actual`` completes values that travel as one (a dimmer's range).
    Script names are references: they have no setter and produce no call.
    """
    items = [(tuple(d.path.split(".")), d.desired) for d in diffs if d.path != "scripts"]
    if spec.gen == 1:
        return gen1_calls(items, desired)
    return gen2_calls(items, desired, actual)
