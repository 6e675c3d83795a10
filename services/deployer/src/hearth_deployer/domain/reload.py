"""Restart Home Assistant, or only reload the domains a change touched.

Automations, scripts and scenes can be reloaded without a restart. A change is reloadable
when every changed file is the target of such a domain's ``!include`` (or lies in its
``!include_dir_*`` directory) in ``configuration.yaml``; anything else needs a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

RELOADABLE = ("automation", "script", "scene")


@dataclass(frozen=True)
class ApplyMethod:
    restart: bool
    domains: tuple[str, ...] = ()


def _domain_paths(configuration: str) -> dict[str, tuple[str, bool]]:
    """Reloadable domain -> (included path, is_directory) from top-level includes."""
    try:
        node = yaml.compose(configuration, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    found: dict[str, tuple[str, bool]] = {}
    for key, value in node.value:
        domain = str(key.value).split(" ")[0]  # "automation manual:" style keys count too
        if (
            domain in RELOADABLE
            and isinstance(value, yaml.ScalarNode)
            and value.tag.startswith("!include")
        ):
            found[str(key.value)] = (str(value.value), value.tag != "!include")
    return found


def choose_apply_method(config_root: Path, changed: list[str]) -> ApplyMethod:
    main = config_root / "configuration.yaml"
    if "configuration.yaml" in changed or not main.is_file() or not changed:
        return ApplyMethod(restart=True)
    owners = _domain_paths(main.read_text(encoding="utf-8"))
    domains: set[str] = set()
    for path in changed:
        owner = next(
            (
                key.split(" ")[0]
                for key, (target, is_dir) in owners.items()
                if path == target
                or (is_dir and PurePosixPath(path).is_relative_to(target.rstrip("/")))
            ),
            None,
        )
        if owner is None:
            return ApplyMethod(restart=True)
        domains.add(owner)
    return ApplyMethod(restart=False, domains=tuple(sorted(domains)))
