"""Load a desired-config repository: ``devices/``, ``profiles/`` and ``groups/`` TOML files.

``load_repository`` takes what a Git tree export gives ({relative path: bytes}) and returns
every device it could resolve plus one error per problem. Resolution is profile -> groups
(in listed order) -> device; a later layer overrides an earlier one field by field, lists
(``scripts``) as a whole. Each resolved field remembers the file it came from. A profile or
group field that the device's model cannot have is not applied to that device; the same field
in a device file is an error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from hearth_device_manager.domain.desired.catalog import (
    ModelSpec,
    capability_errors,
    find_model,
    profiles_of,
)
from hearth_device_manager.domain.desired.errors import (
    ConfigError,
    field_error,
    syntax_error,
    validation_errors,
)
from hearth_device_manager.domain.desired.lines import key_lines
from hearth_device_manager.domain.desired.models import DeviceConfig
from hearth_device_manager.domain.desired.tree import Path, dotted, leaves_of, unflatten

Policy = Literal["apply", "alert", "off"]
FirmwareChannel = Literal["stable", "beta"]
POLICIES: tuple[Policy, ...] = ("apply", "alert", "off")
CHANNELS: tuple[FirmwareChannel, ...] = ("stable", "beta")
DEFAULT_POLICY: Policy = "alert"
DEFAULT_CHANNEL: FirmwareChannel = "stable"

_FILE = re.compile(r"^(devices|profiles|groups)/([A-Za-z0-9_\-]+)\.toml$")
_MISNAMED = re.compile(r"^(devices|profiles|groups)/.+\.toml$")
_MAC = re.compile(r"^[0-9A-F]{12}$")
_SECRET = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_DEVICE_KEYS = (
    "mac",
    "device_id",
    "model",
    "device_profile",
    "profile",
    "groups",
    "password_secret",
)
_GROUP_KEYS = ("policy", "channel")


@dataclass(frozen=True)
class DesiredDevice:
    name: str
    file: str
    spec: ModelSpec
    config: DeviceConfig
    sources: Mapping[str, str]  # "switch.0.auto_off" -> "groups/kitchen.toml"
    mac: str | None = None
    device_id: str | None = None
    profile: str | None = None
    groups: tuple[str, ...] = ()
    policy: Policy = DEFAULT_POLICY
    channel: FirmwareChannel = DEFAULT_CHANNEL
    #: Secret (scope device-manager) holding the admin password the device must have.
    password_secret: str | None = None


@dataclass
class LoadResult:
    devices: dict[str, DesiredDevice] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)


@dataclass
class _Layer:
    file: str
    meta: dict[str, Any]
    lines: dict[Path, int]
    leaves: dict[Path, Any] | None  # None: the file has errors
    parsed: bool = True  # False: not TOML at all, so nothing more to say about it


def normalise_mac(mac: str) -> str:
    return re.sub(r"[:\-.]", "", mac).upper()


def _parse(file: str, raw: bytes, meta_keys: tuple[str, ...], errors: list[ConfigError]) -> _Layer:
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        errors.append(ConfigError(file, 1, "not UTF-8 text"))
        return _Layer(file, {}, {}, None, parsed=False)
    except tomllib.TOMLDecodeError as error:
        errors.append(syntax_error(file, error))
        return _Layer(file, {}, {}, None, parsed=False)
    lines = key_lines(text)
    meta = {k: data.pop(k) for k in meta_keys if k in data}
    try:
        config = DeviceConfig.model_validate(data)
    except ValidationError as error:
        errors.extend(validation_errors(file, lines, error))
        return _Layer(file, meta, lines, None)
    return _Layer(file, meta, lines, leaves_of(config))


def _text(layer: _Layer, key: str, errors: list[ConfigError]) -> str | None:
    value = layer.meta.get(key)
    if value is None or isinstance(value, str):
        return value
    errors.append(field_error(layer.file, layer.lines, (key,), f"expected text, got {value!r}"))
    return None


def _choice(layer: _Layer, key: str, allowed: tuple[str, ...], errors: list[ConfigError]) -> None:
    value = layer.meta.get(key)
    if value is not None and value not in allowed:
        wanted = " | ".join(allowed)
        errors.append(
            field_error(layer.file, layer.lines, (key,), f"must be {wanted}, got {value!r}")
        )
        layer.leaves = None


def load_repository(files: Mapping[str, bytes]) -> LoadResult:
    result = LoadResult()
    kinds: dict[str, dict[str, _Layer]] = {"devices": {}, "profiles": {}, "groups": {}}
    for path in sorted(files):
        match = _FILE.match(path)
        if match is None:
            if _MISNAMED.match(path):
                message = "not read: name the file with letters, digits, _ and - only, no folders"
                result.errors.append(ConfigError(path, 1, message))
            continue
        kind, name = match.groups()
        keys = {"devices": _DEVICE_KEYS, "groups": _GROUP_KEYS}.get(kind, ())
        layer = _parse(path, files[path], keys, result.errors)
        if kind == "groups":
            _choice(layer, "policy", POLICIES, result.errors)
            _choice(layer, "channel", CHANNELS, result.errors)
        kinds[kind][name] = layer
    seen: dict[tuple[str, str], str] = {}
    for name, layer in kinds["devices"].items():
        device = _resolve(
            name,
            layer,
            profiles=kinds["profiles"],
            groups=kinds["groups"],
            seen=seen,
            errors=result.errors,
        )
        if device is not None:
            result.devices[name] = device
    return result


def _identity(layer: _Layer, seen: dict[tuple[str, str], str], errors: list[ConfigError]) -> bool:
    mac = _text(layer, "mac", errors)
    device_id = _text(layer, "device_id", errors)
    if mac is None and device_id is None and "mac" not in layer.meta:
        errors.append(ConfigError(layer.file, 1, "the device needs 'mac' or 'device_id'"))
        return False
    ok = True
    if mac is not None:
        mac = normalise_mac(mac)
        if not _MAC.match(mac):
            errors.append(
                field_error(layer.file, layer.lines, ("mac",), f"{mac!r} is not 12 hex digits")
            )
            ok = False
        layer.meta["mac"] = mac
    for key, value in (("mac", mac), ("device_id", device_id)):
        if value is None:
            continue
        other = seen.setdefault((key, value.casefold()), layer.file)
        if other != layer.file:
            errors.append(
                field_error(layer.file, layer.lines, (key,), f"{value} is already in {other}")
            )
            ok = False
    return ok


def _model(layer: _Layer, errors: list[ConfigError]) -> ModelSpec | None:
    model = _text(layer, "model", errors)
    profile = _text(layer, "device_profile", errors)
    if model is None:
        errors.append(ConfigError(layer.file, 1, "field 'model' is missing"))
        return None
    spec = find_model(model, profile)
    if spec is not None:
        return spec
    if find_model(model) is None:
        message = f"unknown model {model!r}"
        errors.append(field_error(layer.file, layer.lines, ("model",), message))
        return None
    choices = " | ".join(profiles_of(model)) or "nothing (the model has one profile)"
    message = f"{model} has no profile {profile!r} (choose {choices})"
    errors.append(field_error(layer.file, layer.lines, ("device_profile",), message))
    return None


def _references(
    layer: _Layer, profiles: dict[str, _Layer], groups: dict[str, _Layer], errors: list[ConfigError]
) -> list[_Layer] | None:
    chain: list[_Layer] = []
    ok = True
    profile = _text(layer, "profile", errors)
    if profile is not None:
        if profile not in profiles:
            message = f"no profiles/{profile}.toml"
            errors.append(field_error(layer.file, layer.lines, ("profile",), message))
            ok = False
        else:
            chain.append(profiles[profile])
    names = layer.meta.get("groups", [])
    if not isinstance(names, list) or not all(isinstance(g, str) for g in names):
        message = f"expected a list of group names, got {names!r}"
        errors.append(field_error(layer.file, layer.lines, ("groups",), message))
        return None
    for group in names:
        if group not in groups:
            errors.append(
                field_error(layer.file, layer.lines, ("groups",), f"no groups/{group}.toml")
            )
            ok = False
        else:
            chain.append(groups[group])
    return chain if ok else None


def _merge(spec: Any, parts: list[_Layer]) -> tuple[dict[Path, Any], dict[str, str], Any, Any]:
    """Profile, then groups, then the device: the merged leaves, where each came from, and
    the policy and channel (a layer's field its model lacks is left out for this device)."""
    merged: dict[Path, Any] = {}
    sources: dict[str, str] = {}
    policy, channel = DEFAULT_POLICY, DEFAULT_CHANNEL
    for part in parts:
        assert part.leaves is not None
        lacking = {p for p, _ in capability_errors(spec, list(part.leaves))}
        for path, value in part.leaves.items():
            if any(dotted(path) == p or dotted(path).startswith(p + ".") for p in lacking):
                continue
            merged[path] = value
            sources[dotted(path)] = part.file
        if "policy" in part.meta:
            policy, sources["policy"] = part.meta["policy"], part.file
        if "channel" in part.meta:
            channel, sources["channel"] = part.meta["channel"], part.file
    return merged, sources, policy, channel


def _resolve(
    name: str,
    layer: _Layer,
    *,
    profiles: dict[str, _Layer],
    groups: dict[str, _Layer],
    seen: dict[tuple[str, str], str],
    errors: list[ConfigError],
) -> DesiredDevice | None:
    if not layer.parsed:
        return None
    before = len(errors)
    identified = _identity(layer, seen, errors)
    password_secret = _text(layer, "password_secret", errors)
    if password_secret is not None and not _SECRET.match(password_secret):
        message = "a secret name has letters, digits and . _ - / only"
        errors.append(field_error(layer.file, layer.lines, ("password_secret",), message))
    spec = _model(layer, errors)
    chain = _references(layer, profiles, groups, errors)
    if spec is not None and layer.leaves is not None:
        for field_path, message in capability_errors(spec, list(layer.leaves)):
            where = tuple(field_path.split("."))
            errors.append(field_error(layer.file, layer.lines, where, message))
    if len(errors) > before or not identified or spec is None or chain is None:
        return None
    if layer.leaves is None or any(part.leaves is None for part in chain):
        return None  # the broken file has its own error
    merged, sources, policy, channel = _merge(spec, [*chain, layer])
    return DesiredDevice(
        name=name,
        file=layer.file,
        spec=spec,
        config=DeviceConfig.model_validate(unflatten(merged)),
        sources=sources,
        mac=layer.meta.get("mac"),
        device_id=layer.meta.get("device_id"),
        profile=layer.meta.get("profile"),
        groups=tuple(layer.meta.get("groups", ())),
        policy=policy,
        channel=channel,
        password_secret=password_secret,
    )
