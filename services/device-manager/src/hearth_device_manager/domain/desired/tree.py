"""Leaves of a config tree, addressed by paths like ``("switch", "0", "auto_off")``."""

from __future__ import annotations

from typing import Any

from hearth_device_manager.domain.desired.models import DeviceConfig

Path = tuple[str, ...]


def flatten(tree: dict[Any, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf (a scalar or a list) that is not ``None``; keys become text."""
    leaves: dict[Path, Any] = {}
    for key, value in tree.items():
        path = (*prefix, str(key))
        if isinstance(value, dict):
            leaves.update(flatten(value, path))
        elif value is not None:
            leaves[path] = value
    return leaves


def unflatten(leaves: dict[Path, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in leaves.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def leaves_of(config: DeviceConfig) -> dict[Path, Any]:
    return flatten(config.model_dump(exclude_none=True))


def dotted(path: Path) -> str:
    return ".".join(path)
