"""The deployer's own settings, beside those every service shares."""

from __future__ import annotations

import logging

from pydantic import Field

from hearth_servicekit import ServiceSettings

SSH_LOGGER = "asyncssh"


class DeployerSettings(ServiceSettings):
    ssh_log_level: str = Field(
        default="warning",
        description="level of asyncssh's own log lines (HEARTH_SSH_LOG_LEVEL): 'info' or "
        "'debug' to trace every SSH connection and session; at the default 'warning' a "
        "deployment's log holds only what went wrong",
    )


def set_ssh_log_level(level: str) -> None:
    """asyncssh logs every connection, channel and SFTP session at INFO: most of a
    deployer's log. Hearth logs the SSH failures that matter itself."""
    logging.getLogger(SSH_LOGGER).setLevel(
        logging.getLevelNamesMapping().get(level.upper(), logging.WARNING)
    )
