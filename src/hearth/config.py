"""``hearth.yaml``: the one declarative file. Loaded with errors that point at the line.

Unknown keys are refused (``hearth.yaml:12: unknown key 'tagets' (did you mean
'targets'?)``), as are values of the wrong kind; secrets appear by name only, and a URL
with credentials in it is refused (``hearth_events.credentials``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from hearth_events.catalogue import (
    DeviceConfigSource,
    DeviceSpec,
    RepositorySpec,
    RouteSpec,
    TargetSpec,
)
from hearth_events.credentials import (
    Problem,
    address_problems,
    repository_problems,
    route_problems,
    target_problems,
)


class ConfigError(Exception):
    """One line a person can act on: file:line: what is wrong."""


class Notifications(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_urls: tuple[str, ...] = Field(default=(), description="secret names")
    include_success: bool = False
    offline_after_s: int = Field(default=300, ge=0)
    routes: list[RouteSpec] = []


class HearthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repositories: list[RepositorySpec] = []
    targets: list[TargetSpec] = []
    notifications: Notifications = Notifications()
    devices: list[DeviceSpec] = []
    #: Where the desired device config lives: a folder of a declared repository.
    device_config: DeviceConfigSource | None = None
    #: Not supported yet (the provisioning work defines them); refused unless empty.
    agents: list[Any] = []

    @field_validator("devices", mode="before")
    @classmethod
    def _empty_devices(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("agents", mode="before")
    @classmethod
    def _not_supported_yet(cls, value: Any, info: ValidationInfo) -> list[Any]:
        if value:
            raise ValueError(
                f"{info.field_name} are not supported by this version of Hearth, so nothing "
                f"in this section would be applied; remove the {info.field_name}: section"
            )
        return []

    @field_validator("targets")
    @classmethod
    def _targets_name_declared_repositories(
        cls, targets: list[TargetSpec], info: ValidationInfo
    ) -> list[TargetSpec]:
        declared = {r.name.lower() for r in info.data.get("repositories", [])}
        for target in targets:
            if target.repo.lower() not in declared:
                raise ValueError(
                    f"target {target.name}: repository {target.repo!r} is not declared "
                    "under repositories:"
                )
        return targets

    @field_validator("device_config")
    @classmethod
    def _device_config_names_a_declared_repository(
        cls, source: DeviceConfigSource | None, info: ValidationInfo
    ) -> DeviceConfigSource | None:
        declared = {r.name.lower() for r in info.data.get("repositories", [])}
        if source is not None and source.repo.lower() not in declared:
            raise ValueError(f"repository {source.repo!r} is not declared under repositories:")
        return source

    def repository(self, name: str) -> RepositorySpec | None:
        return next((r for r in self.repositories if r.name.lower() == name.lower()), None)


def load_config(path: Path) -> HearthConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    return load_config_text(text, str(path))


def load_config_text(text: str, path: str) -> HearthConfig:
    """``text`` as hearth.yaml; ``path`` names it in messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {exc.problem}") from None
    if data is None:
        return HearthConfig()
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1: the file must be a mapping of sections (repositories, "
            "targets, notifications, devices, device_config, agents)"
        )
    try:
        config = HearthConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, node, exc)) from None
    for loc, problem in _credential_problems(config):
        raise ConfigError(f"{path}:{_line(_node_at(node, list(loc)))}: {problem}")
    return config


def _credential_problems(config: HearthConfig) -> list[Problem]:
    return (
        [
            (("repositories", index, *loc), problem)
            for index, repo in enumerate(config.repositories)
            for loc, problem in repository_problems(repo)
        ]
        + [
            (("targets", index, *loc), problem)
            for index, target in enumerate(config.targets)
            for loc, problem in target_problems(target)
        ]
        + [
            (("notifications", "default_urls", *loc), problem)
            for loc, problem in address_problems(
                config.notifications.default_urls, "notifications: default_urls"
            )
        ]
        + [
            (("notifications", "routes", index, *loc), problem)
            for index, route in enumerate(config.notifications.routes)
            for loc, problem in route_problems(route)
        ]
    )


def _describe(path: str, root: Any, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    if err["type"] == "extra_forbidden":
        parent, key = loc[:-1], str(loc[-1])
        node = _key_node(_node_at(root, parent), key)
        line = node.start_mark.line + 1 if node is not None else _line(_node_at(root, parent))
        known = list(_fields_at(parent))
        hint = difflib.get_close_matches(key, known, n=1)
        suggestion = (
            f" (did you mean {hint[0]!r}?)"
            if hint
            else (f" (known: {', '.join(known)})" if known else "")
        )
        return f"{path}:{line}: unknown key {key!r}{suggestion}"
    where = ".".join(str(p) for p in loc)
    return f"{path}:{_line(_node_at(root, loc))}: {where}: {err['msg']}"


def _node_at(node: Any, loc: list[Any]) -> Any:
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == str(part)), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            found = node.value[part]
        else:
            found = None
        if found is None:
            return node
        node = found
    return node


def _key_node(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        return next((k for k, _ in node.value if k.value == key), None)
    return None


def _line(node: Any) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _fields_at(loc: list[Any]) -> list[str]:
    model: Any = HearthConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
        if model is None:
            return []
    return list(model.model_fields) if hasattr(model, "model_fields") else []
