"""What a deployment stores grows with its change, not with the tree: the files Hearth
manages on a target are stored again only when they change."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_deployer.domain import Deployment, TargetLine
from tests.integration.deployer.harness import World, files_target

pytestmark = pytest.mark.integration

TREE = {f"conf.d/site-{n:03}.conf": f"server {n}\n" for n in range(200)}


def stored_lists(world: World) -> list[tuple[str, list[str] | None]]:
    """Every stored upload plan's and line ending's list of managed files, in store order."""
    app = world.deployers[0].app
    assert app is not None
    found: list[tuple[str, list[str] | None]] = []
    start = 1
    while section := app.recorder.select_notifications(start, 500):
        for notification in section:
            event = app.mapper.to_domain_event(notification)
            if isinstance(event, Deployment.UploadBegun):
                found.append(("upload", event.managed_after))
            elif isinstance(event, TargetLine.Ended):
                found.append(("ended", event.managed))
        start = section[-1].id + 1
    return found


async def test_a_change_that_keeps_the_managed_files_does_not_store_them_again(
    world: World, sshd: Any
) -> None:
    await world.start()
    assert (await world.apply_targets(files_target(sshd, "box")))["ok"]
    everything = sorted(TREE)
    pushes: list[dict[str, str | None]] = [
        dict(TREE),
        {"conf.d/site-007.conf": "server 7 changed\n"},
        {"conf.d/site-200.conf": "server 200\n"},
    ]
    for count, files in enumerate(pushes, start=1):  # each after the last ended
        await world.push(files)
        *_, ended = await world.wait_terminal("box", count=count)
        assert ended.type == "DeploymentSucceeded"
    added = sorted([*everything, "conf.d/site-200.conf"])
    assert stored_lists(world) == [
        ("upload", everything),  # the first deployment: every file is new
        ("ended", everything),
        ("upload", None),  # one file changed: the managed files are as they were
        ("ended", None),
        ("upload", added),  # a file added: the new list
        ("ended", added),
    ]
    # The line still knows every managed file: a file removed from the repository is
    # removed from the host.
    await world.push({"conf.d/site-007.conf": None})
    *_, last = await world.wait_terminal("box", count=4)
    assert last.type == "DeploymentSucceeded"
    assert not (sshd.remote_root / "conf.d" / "site-007.conf").exists()
    assert (sshd.remote_root / "conf.d" / "site-008.conf").read_text() == "server 8\n"
