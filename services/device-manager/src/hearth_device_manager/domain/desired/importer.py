"""Import: a device's actual config as the text of ``devices/<name>.toml``.

The order is stable (identity first, then the model's field order, channels ascending), so
importing the same device twice gives the same bytes, and loading the text gives back the
same typed config.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hearth_device_manager.domain.desired.catalog import ModelSpec
from hearth_device_manager.domain.desired.models import DeviceConfig


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} in TOML")
        return repr(value)
    if isinstance(value, str):  # JSON's escapes are TOML's, but TOML also refuses a raw DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} in TOML")


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _tables(tree: dict[str, Any], prefix: list[str], out: list[str]) -> None:
    scalars = {k: v for k, v in tree.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in tree.items() if isinstance(v, dict)}
    if scalars and prefix:
        out.append("")
        out.append("[" + ".".join(prefix) + "]")
    out.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
    for key, sub in tables.items():
        _tables(sub, [*prefix, _key(str(key))], out)


def to_toml(
    config: DeviceConfig,
    spec: ModelSpec,
    *,
    mac: str | None = None,
    device_id: str | None = None,
    profile: str | None = None,
    groups: list[str] | None = None,
) -> str:
    """The device file for ``config`` (the identity and ``model`` first)."""
    head: dict[str, Any] = {
        "mac": mac,
        "device_id": device_id,
        "model": spec.model,
        "device_profile": spec.device_profile,
        "profile": profile,
        "groups": groups,
    }
    tree = {k: v for k, v in head.items() if v is not None}
    tree |= config.model_dump(exclude_none=True)
    lines: list[str] = []
    _tables(_stringify(tree), [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _stringify(tree: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): _stringify(v) if isinstance(v, dict) else v for k, v in tree.items()}
