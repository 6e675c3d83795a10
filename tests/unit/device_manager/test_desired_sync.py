"""Which pushes the desired-config side follows: its repository (by name, any case, or URL)
and branch; not tags, other branches, other repositories or deleted branches."""

from __future__ import annotations

from typing import Any, cast

from hearth_device_manager.handlers import DeviceHandlers
from hearth_device_manager.workflows.desired_sync import DesiredRepo
from hearth_events.catalogue import DeviceConfigSource, PushReceived, RepositorySpec

URL = "file:///srv/git/home-config.git"


def push(**fields: Any) -> PushReceived:
    base: dict[str, Any] = {
        "delivery_id": "d1",
        "repo": "alice/home-config",
        "ref": "refs/heads/main",
        "branch": "main",
        "before": "0" * 40,
        "after": "1" * 40,
    }
    return PushReceived(**(base | fields))


def repo() -> DesiredRepo:
    desired = DesiredRepo(cast(DeviceHandlers, None), cast(Any, None))
    desired.source = DeviceConfigSource(repo="alice/home-config", path="shelly/")
    desired.repository = RepositorySpec(name="alice/home-config", url=URL)
    return desired


def test_pushes_to_the_repository_and_branch_are_followed() -> None:
    desired = repo()
    assert desired.follows(push())
    assert desired.follows(push(repo="Alice/Home-Config"))
    assert desired.follows(push(repo=URL))
    assert not desired.follows(push(branch="dev", ref="refs/heads/dev"))
    assert not desired.follows(push(branch=None, tag="v1", ref="refs/tags/v1"))
    assert not desired.follows(push(repo="bob/home-config"))
    assert not desired.follows(push(deleted=True))
    desired.source = None
    assert not desired.follows(push())
