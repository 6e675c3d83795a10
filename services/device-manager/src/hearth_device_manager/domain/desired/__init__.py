"""Desired device config from Git: typed models, the repository layout, drift and import.

Pure: no I/O. The device manager's adapters read the Git tree and the devices and call in.
"""

from hearth_device_manager.domain.desired.catalog import MODELS, ModelSpec, find_model
from hearth_device_manager.domain.desired.drift import (
    changes_to_apply,
    diff,
    from_device,
    resolution_of,
)
from hearth_device_manager.domain.desired.errors import ConfigError
from hearth_device_manager.domain.desired.importer import to_toml
from hearth_device_manager.domain.desired.loader import DesiredDevice, LoadResult, load_repository
from hearth_device_manager.domain.desired.mapping import SecretRef
from hearth_device_manager.domain.desired.models import DeviceConfig

__all__ = [
    "MODELS",
    "ConfigError",
    "DesiredDevice",
    "DeviceConfig",
    "LoadResult",
    "ModelSpec",
    "SecretRef",
    "changes_to_apply",
    "diff",
    "find_model",
    "from_device",
    "load_repository",
    "resolution_of",
    "to_toml",
]
