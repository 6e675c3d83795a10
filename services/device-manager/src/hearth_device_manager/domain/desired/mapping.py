"""The engine that maps desired fields to a device's own config shape, both ways.

A ``Rule`` ties one desired field (``switch.N.auto_off``) to where the device keeps it
(``switch:N.auto_off`` in Gen2 ``Shelly.GetConfig``, ``relays.N.auto_off`` in Gen1
``/settings``) and to how it is set (Gen2: a ``*.SetConfig`` method and the path inside its
``config``; Gen1: an HTTP path and a query parameter). ``N`` stands for the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hearth_device_manager.domain.desired.catalog import ModelSpec
from hearth_device_manager.domain.desired.models import DeviceConfig
from hearth_device_manager.domain.desired.tree import Path, flatten, unflatten


@dataclass(frozen=True)
class SecretRef:
    """Stands where a secret's value must go; the adapter that talks to the device fills it."""

    name: str


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Rule:
    desired: Path
    device: Path
    target: str
    param: Path
    to_device: Callable[[Any], Any] = _same
    from_device: Callable[[Any], Any] = _same


@dataclass(frozen=True)
class SecretRule:
    desired: Path  # the secret-name field, e.g. ("wifi", "sta", "password_secret")
    target: str
    param: Path


def fill(path: Path, channel: str | None) -> Path:
    """``path`` with ``N`` (a part, or the end of ``switch:N``) replaced by the channel."""
    if channel is None:
        return path
    return tuple(
        channel if p == "N" else p.removesuffix(":N") + f":{channel}" if p.endswith(":N") else p
        for p in path
    )


def match(pattern: Path, path: Path) -> str | bool | None:
    """The channel if ``path`` fits ``pattern`` (None when it has none); False if not."""
    if len(pattern) != len(path):
        return False
    channel = None
    for want, got in zip(pattern, path, strict=True):
        if want == "N" and got.isdigit():
            channel = got
        elif want != got:
            return False
    return channel


def dig(tree: Any, path: Path) -> Any:
    node = tree
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def read(tree: dict[str, Any], spec: ModelSpec, rules: tuple[Rule, ...]) -> DeviceConfig:
    """The typed config for a device's own config tree (fields the model lacks stay unset)."""
    leaves: dict[Path, Any] = {}
    for rule in rules:
        kind = rule.desired[0]
        channels = [str(i) for i in range(spec.channels(kind))] if "N" in rule.desired else [None]
        for channel in channels:
            desired = fill(rule.desired, channel)
            if spec.lacks(desired) is not None:
                continue
            value = dig(tree, fill(rule.device, channel))
            if value is not None:
                value = rule.from_device(value)
            if value is not None:
                leaves[desired] = value
    return tolerant(leaves)


def tolerant(leaves: dict[Path, Any]) -> DeviceConfig:
    """Validate, leaving out values the model does not know (a newer firmware's new mode)."""
    while True:
        try:
            return DeviceConfig.model_validate(unflatten(leaves))
        except ValidationError as error:
            bad = {tuple(str(p) for p in e["loc"]) for e in error.errors()}
            kept = {p: v for p, v in leaves.items() if not any(p[: len(b)] == b for b in bad)}
            if len(kept) == len(leaves):
                raise
            leaves = kept


def changes(
    items: list[tuple[Path, Any]],
    rules: tuple[Rule, ...],
    secrets: tuple[SecretRule, ...],
    desired: DeviceConfig | None,
) -> dict[tuple[str, str | None], dict[Path, Any]]:
    """Per (target, channel): the device parameters to send for the differing fields.

    ``items`` are (desired path, desired value); secrets are added as ``SecretRef`` to the
    call of their block when any field of that block differs and ``desired`` names one.
    """
    wanted = flatten(desired.model_dump(exclude_none=True)) if desired is not None else {}
    paths = [path for path, _ in items]
    groups: dict[tuple[str, str | None], dict[Path, Any]] = {}
    for path, value in items:
        for rule in rules:
            channel = match(rule.desired, path)
            if channel is False:
                continue
            assert channel is None or isinstance(channel, str)
            converted = rule.to_device(value) if value is not None else None
            groups.setdefault((rule.target, channel), {})[rule.param] = converted
    for secret in secrets:
        section = secret.desired[:-1]
        name = wanted.get(secret.desired)
        if name is not None and any(p[: len(section)] == section for p in paths):
            groups.setdefault((secret.target, None), {})[secret.param] = SecretRef(name)
    return groups
