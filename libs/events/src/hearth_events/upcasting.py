"""Schema versions: upgrade stored or in-flight payloads written by older code.

When an event class changes shape, raise its ``schema_version`` and register an upcaster
from the previous version. Readers always see the current version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class SchemaVersionError(ValueError):
    """A payload's version cannot be brought to the version this code understands."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` to turn ``event_type`` data of ``from_version`` into ``from_version+1``."""

    def decorate(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
        _UPCASTERS[key] = fn
        return fn

    return decorate


def upcast(event_type: str, version: int, data: Payload, current: int) -> Payload:
    """Apply the upcasters that bring ``data`` from ``version`` to ``current``."""
    if version > current:
        raise SchemaVersionError(
            f"{event_type} v{version} was written by a newer Hearth (this one knows "
            f"v{current}); upgrade this service"
        )
    while version < current:
        try:
            step = _UPCASTERS[(event_type, version)]
        except KeyError:
            raise SchemaVersionError(
                f"no upcaster for {event_type} from v{version} to v{version + 1}"
            ) from None
        data = step(dict(data))
        version += 1
    return data


def missing_upcasters(versions: dict[str, int]) -> list[str]:
    """Names of ``type vN→vN+1`` steps that are not registered (for a test of the catalogue)."""
    return [
        f"{name} v{v}->v{v + 1}"
        for name, current in versions.items()
        for v in range(1, current)
        if (name, v) not in _UPCASTERS
    ]
