"""The deployer's SSH connections as a host is repaired, and what they put in the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.integration.deployer.harness import World, files_target
from tests.support.sshd import restart_sshd

pytestmark = pytest.mark.integration


async def test_a_repaired_and_restarted_sshd_serves_the_very_next_deployment(
    world: World, sshd: Any
) -> None:
    # A host whose sshd refuses SFTP: the deployment fails, and its connection is pooled.
    restart_sshd(sshd, sftp=False)
    await world.start()
    assert (await world.apply_targets(files_target(sshd, "box")))["ok"]
    await world.push({"a.txt": "one\n"})
    (failed,) = await world.wait_terminal("box")
    assert failed.type == "DeploymentFailed"
    assert "cannot start SFTP" in failed.data.reason  # type: ignore[attr-defined]

    # The user fixes sshd and restarts it (`systemctl restart ssh`): the old connection's
    # process lives on with the old configuration, so only a new connection works.
    restart_sshd(sshd, sftp=True)
    await world.push({"a.txt": "two\n"})
    _, second = await world.wait_terminal("box", count=2)
    assert second.type == "DeploymentSucceeded", await world.logs(second.data.deployment_id)  # type: ignore[attr-defined]
    assert (sshd.remote_root / "a.txt").read_text() == "two\n"


async def test_a_deployment_logs_no_asyncssh_info_lines(
    world: World, sshd: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as the services run: HEARTH_LOG_LEVEL=info
    await world.start()
    assert (await world.apply_targets(files_target(sshd, "box")))["ok"]
    await world.push({"a.txt": "one\n"})
    (done,) = await world.wait_terminal("box")
    assert done.type == "DeploymentSucceeded"
    chatter = [r for r in caplog.records if r.name.startswith("asyncssh")]
    assert [r.getMessage() for r in chatter if r.levelno < logging.WARNING] == []
