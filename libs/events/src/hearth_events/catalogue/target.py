"""Events of the ``target`` context: the hosts Hearth deploys to."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearth_events.base import EventData, register

__all__ = ["TargetRegistered", "TargetRemoved", "TargetSpec", "TargetUpdated"]


#: Seconds a restarted service may take to answer healthy, by target kind. Home Assistant
#: takes about 20-60 s to reach RUNNING after a restart (longer on a small board), so 90 s
#: leaves room without a false rollback; a files target's post_deploy commands have
#: finished before the check starts, and the service they restarted answers in seconds.
HEALTH_TIMEOUT_DEFAULTS = {"homeassistant": 90, "files": 30}


class TargetSpec(BaseModel):
    """A deployment target as declared in ``hearth.yaml``. Secrets appear by name only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["homeassistant", "files"]
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str
    key_secret: str = Field(description="name of the secret holding the SSH private key")
    known_host_key: str | None = Field(default=None, description="pinned host key line")
    trust_on_first_use: bool = False
    remote_path: str
    config_roots: tuple[str, ...] = Field(
        default=("/config",),
        description="absolute folders Home Assistant sees as its configuration directory "
        "besides remote_path (/config in Home Assistant OS and the container image); an "
        "absolute !include under one of them is validated in the deployed tree",
    )
    repo: str
    branch: str = "main"
    subdirectory: str = ""
    auto_deploy: bool = True
    require_ci: bool = False
    ignore: tuple[str, ...] = ()
    post_deploy: tuple[str, ...] = ()
    health_check: str | None = None
    ha_url: str | None = None
    ha_token_secret: str | None = None
    backups_kept: int = Field(default=10, ge=1)
    backup_path: str | None = Field(
        default=None, description="backup directory on the host; default beside remote_path"
    )
    full_check_interval_h: float = Field(
        default=24,
        ge=0,
        description="hours between full re-hashes of the host's files (drift check); "
        "in between, a file whose size and mtime are unchanged is not re-hashed",
    )
    health_timeout_s: int = Field(
        default=0,  # never kept: the validator below puts the kind's default in its place
        ge=1,
        description="how long the service may take to come back healthy; when not given, "
        f"{HEALTH_TIMEOUT_DEFAULTS['homeassistant']} for homeassistant and "
        f"{HEALTH_TIMEOUT_DEFAULTS['files']} for files targets",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_health_timeout(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("health_timeout_s") is None:
            default = HEALTH_TIMEOUT_DEFAULTS.get(str(data.get("kind")), 30)
            return {**data, "health_timeout_s": default}
        return data


class _TargetEvent(EventData):
    context: ClassVar[str] = "target"
    key_field: ClassVar[str] = "target"


@register
class TargetRegistered(_TargetEvent):
    target: str
    spec: TargetSpec


@register
class TargetUpdated(_TargetEvent):
    target: str
    spec: TargetSpec
    changed_fields: tuple[str, ...] = ()


@register
class TargetRemoved(_TargetEvent):
    target: str
