"""The deployer's own settings."""

from __future__ import annotations

import logging

import pytest

from hearth_deployer.settings import DeployerSettings, set_ssh_log_level


def test_asyncssh_is_quiet_by_default_and_can_be_turned_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ssh = logging.getLogger("asyncssh")
    before = ssh.level
    try:
        set_ssh_log_level(DeployerSettings().ssh_log_level)
        assert ssh.getEffectiveLevel() == logging.WARNING
        monkeypatch.setenv("HEARTH_SSH_LOG_LEVEL", "debug")
        set_ssh_log_level(DeployerSettings().ssh_log_level)
        assert ssh.getEffectiveLevel() == logging.DEBUG
    finally:
        ssh.setLevel(before)
