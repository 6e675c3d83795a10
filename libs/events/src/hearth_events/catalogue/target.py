"""Events of the ``target`` context: the hosts Hearth deploys to."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from hearth_events.base import EventData, register

__all__ = ["TargetRegistered", "TargetRemoved", "TargetSpec", "TargetUpdated"]


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
        default=180, ge=1, description="how long the service may take to come back healthy"
    )


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
