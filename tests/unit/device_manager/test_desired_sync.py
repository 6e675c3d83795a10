"""Which pushes the desired-config side follows: its repository (by name, any case, or URL)
and branch; not tags, other branches, other repositories or deleted branches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest

from hearth_device_manager.domain.desired import load_repository
from hearth_device_manager.domain.device import Device, Found
from hearth_device_manager.handlers import DeviceHandlers
from hearth_device_manager.workflows.apply import Applier
from hearth_device_manager.workflows.desired_sync import (
    DesiredRepo,
    Loaded,
    _index,
    desired_json,
)
from hearth_device_manager.workflows.drift import Convergence
from hearth_events.catalogue import DeviceConfigSource, PushReceived, RepositorySpec
from hearth_eventstore.store import Meta

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


def repo(handlers: DeviceHandlers | None = None) -> DesiredRepo:
    desired = DesiredRepo(cast(DeviceHandlers, handlers), cast(Any, None))
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


# -- a comparison running while the device's file leaves Git --------------------------------
FOUND = Found("shellyplus1pm-a8032ab12345", "A8032AB12345", "SNSW-001P16EU", 2, "10.0.0.5")
PORCH = b'mac = "A8032AB12345"\nmodel = "SNSW-001P16EU"\n\n[switch.0]\nauto_off = true\n'
RAW = {"sys": {"cfg_rev": 4}, "switch:0": {"id": 0, "auto_off": False}}


class Store:
    """Runs each write at once, after ``before_write`` (the lock a real write waits for)."""

    def __init__(self, device: Device) -> None:
        self.app = self
        self.device = device
        self.before_write: Callable[[], None] = lambda: None

    async def write(self, call: Callable[..., Any], *args: Any) -> Any:
        await asyncio.sleep(0)
        self.before_write()
        return call(*args)

    def act(self, mac: str, action: Callable[[Device], Any]) -> Any:
        return action(self.device)


class Link:
    def __init__(self, during_read: Callable[[], None]) -> None:
        self.status = {"sys": {"cfg_rev": 4}}
        self.during_read = during_read

    async def read_config(self) -> dict[str, Any]:
        self.during_read()
        return RAW


@pytest.mark.parametrize("when", ["while the config is read", "before the drift is written"])
async def test_a_comparison_ending_after_the_file_left_git_records_no_drift(when: str) -> None:
    meta = Meta(actor="test")
    device = Device(FOUND.mac)
    device.discover(FOUND, meta)
    device.adopt("porch", meta)
    store = Store(device)
    handlers = cast(DeviceHandlers, SimpleNamespace(store=store, meta=lambda actor=None: meta))
    desired_repo = repo(handlers)
    desired_repo.loaded = _index("c1", load_repository({"devices/porch.toml": PORCH}).devices)
    desired = desired_repo.desired_for(device)
    assert desired is not None
    device.desire(desired_json(desired), "home", "c1", meta, sources=dict(desired.sources))
    convergence = Convergence(handlers, desired_repo, cast(Applier, None))

    def remove() -> None:  # what a sync that no longer finds devices/porch.toml does
        desired_repo.loaded = Loaded()
        device.remove_desired("home", "c2", meta)

    link = Link(remove if when == "while the config is read" else lambda: None)
    if when == "before the drift is written":
        store.before_write = remove
    wanted = desired_json(desired)
    result = await convergence._compare(device, desired, cast(Any, link), "push", wanted)

    assert result == {"result": "no_desired_config"}
    assert (device.desired, device.drift) == (None, ())
    recorded = [e.type_name for e in device.collect_events() if isinstance(e, Device.Recorded)]
    assert recorded[-2:] == ["DesiredConfigChanged", "DesiredConfigRemoved"]
