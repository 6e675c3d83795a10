"""Events of the ``git`` context: what happened in the repositories Hearth follows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from hearth_events.base import EventData, register

__all__ = [
    "CiCompleted",
    "CiConclusion",
    "CommitInfo",
    "PushReceived",
    "RepositoryRegistered",
    "RepositoryRemoved",
    "RepositorySpec",
    "RepositoryUpdated",
]

#: A full commit id, as GitHub's webhooks and API and ``git ls-remote`` give it: 40
#: lower-case hex digits, or 64 in a SHA-256 repository. Never a short id: what a person
#: types is resolved to the full id before it enters an event.
GitSha = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$",
        description="a full commit id: 40 lower-case hex digits (64 for SHA-256)",
    ),
]


class CommitInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: GitSha
    message: str = ""
    timestamp: datetime | None = None
    author: str = ""
    url: str | None = None
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class RepositorySpec(BaseModel):
    """A repository Hearth follows, as declared in ``hearth.yaml``. Secrets by name only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="owner/name for GitHub; any name for other Git hosts")
    url: str = Field(description="clone URL: https://, ssh:// or file://")
    provider: Literal["github", "git"] = "git"
    webhook_secret: str | None = Field(default=None, description="secret name")
    token_secret: str | None = Field(default=None, description="secret name of an API token")
    api_url: str = "https://api.github.com"
    poll_interval_s: int | None = Field(default=None, ge=10, description="None = no polling")
    branches: tuple[str, ...] = Field(default=(), description="branches to poll; () = every branch")


CiConclusion = Literal[
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
    "stale",
    "startup_failure",
]


class _GitEvent(EventData):
    context: ClassVar[str] = "git"
    key_field: ClassVar[str] = "repo"


@register
class PushReceived(_GitEvent):
    """A push to a followed repository, from a webhook delivery or from polling."""

    delivery_id: str = Field(
        description="X-GitHub-Delivery, or an id derived from repo+before+after for polls"
    )
    repo: str = Field(description="owner/name for GitHub, or the Git URL")
    ref: str
    branch: str | None = Field(default=None, description="set for branch pushes")
    tag: str | None = Field(default=None, description="set for tag pushes")
    before: GitSha
    after: GitSha
    pusher: str = ""
    commits: tuple[CommitInfo, ...] = ()
    commits_truncated: bool = Field(default=False, description="GitHub caps commits[] at 2048")
    created: bool = False
    deleted: bool = False
    forced: bool = False
    compare_url: str | None = None
    source: Literal["webhook", "poll"] = "webhook"


@register
class CiCompleted(_GitEvent):
    """A CI run (workflow run or check suite) finished for a commit."""

    delivery_id: str
    repo: str
    commit: GitSha
    branch: str | None = None
    name: str = ""
    conclusion: CiConclusion
    url: str | None = None


@register
class RepositoryRegistered(_GitEvent):
    repo: str
    spec: RepositorySpec


@register
class RepositoryUpdated(_GitEvent):
    repo: str
    spec: RepositorySpec
    changed_fields: tuple[str, ...] = ()


@register
class RepositoryRemoved(_GitEvent):
    repo: str
