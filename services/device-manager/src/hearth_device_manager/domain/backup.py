"""Device backups: a full config snapshot of one device, kept in the device manager's
event store (never in a published event), and the pure rules around it.

A ``Backup`` aggregate is one snapshot: its ``Snapshotted`` internal event holds the config,
the device info and the firmware; its published ``DeviceBackupTaken`` only names it.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import event

from hearth_device_manager.domain.desired import ModelSpec, find_model
from hearth_events.catalogue import DeviceBackupTaken
from hearth_eventstore.store import HearthAggregate, Meta

#: Keys whose values are secrets wherever they appear in a device's config. Gen2+ devices
#: never reveal passwords in ``Shelly.GetConfig``; these are stripped should one appear.
SECRET_KEYS = frozenset({"pass", "password", "key", "ha1", "psk", "token", "secret"})

#: Config values that change by themselves: every config change bumps ``cfg_rev``, and an
#: update changes the firmware id.
#: Gen2+ ``sys.cfg_rev`` and firmware id; Gen1 ``/settings`` ``fw`` and ``build_info``.
VOLATILE = (
    ("sys", "cfg_rev"),
    ("sys", "device", "fw_id"),
    ("fw",),
    ("build_info", "build_id"),
)


def strip_secrets(tree: Any, path: str = "") -> tuple[Any, list[str]]:
    """A copy of ``tree`` without secret values, and the dotted paths removed."""
    if isinstance(tree, list):
        out, removed = [], []
        for i, item in enumerate(tree):
            clean, gone = strip_secrets(item, f"{path}.{i}" if path else str(i))
            out.append(clean)
            removed.extend(gone)
        return out, removed
    if not isinstance(tree, dict):
        return tree, []
    result: dict[str, Any] = {}
    removed = []
    for key, value in tree.items():
        where = f"{path}.{key}" if path else str(key)
        if str(key).lower() in SECRET_KEYS and value not in (None, ""):
            removed.append(where)
            continue
        result[key], gone = strip_secrets(value, where)
        removed.extend(gone)
    return result, removed


def without_volatile(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the values that change by themselves (see ``VOLATILE``)."""
    copy: dict[str, Any] = _deep_copy(config)
    for path in VOLATILE:
        node: Any = copy
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return copy


def changed_paths(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths whose values differ between two configs (volatile values ignored by
    the caller)."""
    found: list[str] = []
    for key in sorted(set(before) | set(after), key=str):
        where = f"{prefix}.{key}" if prefix else str(key)
        a, b = before.get(key), after.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found.extend(changed_paths(a, b, where))
        elif a != b:
            found.append(where)
    return found


def rebind(tree: Any, source: tuple[str, str], target: tuple[str, str]) -> Any:
    """A config of the device ``source`` (device id, MAC) for the device ``target``: every
    text holding the source's id or MAC (the AP's SSID, MQTT's client id and topic prefix,
    a name left at its default) holds the target's instead. Names people gave stay."""
    if isinstance(tree, dict):
        return {k: rebind(v, source, target) for k, v in tree.items()}
    if isinstance(tree, list):
        return [rebind(v, source, target) for v in tree]
    if isinstance(tree, str):
        for old, new in zip(source, target, strict=True):
            if old:
                tree = _replace(tree, old, new)
        return tree
    return tree


def _replace(text: str, old: str, new: str) -> str:
    def swap(match: re.Match[str]) -> str:
        return _like(match.group(0), new)

    return re.sub(re.escape(old), swap, text, flags=re.IGNORECASE)


def _like(found: str, new: str) -> str:
    """``new`` in the case ``found`` was written in (MACs appear in both cases)."""
    if found.isupper():
        return new.upper()
    if found.islower():
        return new.lower()
    return new


def spec_for(model: str, config: dict[str, Any]) -> ModelSpec | None:
    """The typed-model spec of a device: a Plus 2PM with ``cover:0`` is in cover mode."""
    if "cover:0" in config:
        covered = find_model(model, "cover")
        if covered is not None:
            return covered
    return find_model(model)


def _deep_copy(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _deep_copy(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_deep_copy(v) for v in tree]
    return tree


class Backup(HearthAggregate):
    """One snapshot of one device."""

    @staticmethod
    def create_id(backup_id: str) -> UUID:
        return UUID(backup_id)

    def __init__(self, backup_id: str) -> None:
        self.backup_id = backup_id
        self.device_id = ""
        self.mac = ""
        self.model = ""
        self.firmware: str | None = None
        self.config: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        self.reason = "manual"

    @classmethod
    def take(
        cls,
        device_id: str,
        mac: str,
        *,
        config: dict[str, Any],
        info: dict[str, Any],
        reason: str,
        meta: Meta,
    ) -> Backup:
        backup = cls(str(uuid4()))
        clean_config, _ = strip_secrets(config)
        clean_info, _ = strip_secrets(info)
        firmware = info.get("ver")
        backup._snapshotted(device_id, mac, str(info.get("model", "")), clean_config, clean_info)
        cfg_rev = config.get("sys", {}).get("cfg_rev")
        backup.record(
            DeviceBackupTaken(
                device_id=device_id,
                backup_id=backup.backup_id,
                reason=reason,
                cfg_rev=cfg_rev if isinstance(cfg_rev, int) else None,
                firmware=str(firmware) if firmware else None,
            ),
            meta,
        )
        return backup

    def when(self, data: Any) -> None:
        if isinstance(data, DeviceBackupTaken):
            self.reason, self.firmware = data.reason, data.firmware

    class Snapshotted(HearthAggregate.Event):
        device_id: str
        mac: str
        model: str
        config: dict[str, Any]
        info: dict[str, Any]

    @event(Snapshotted)
    def _snapshotted(
        self, device_id: str, mac: str, model: str, config: dict[str, Any], info: dict[str, Any]
    ) -> None:
        self.device_id, self.mac, self.model = device_id, mac, model
        self.config, self.info = config, info
