"""Fixtures for the remote-host layer against a real sshd (see tests/support/sshd.py)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote import HostPool, SSHHost, SSHTarget


def target_for(server: Any, **overrides: Any) -> SSHTarget:
    target = SSHTarget(
        host=server.host,
        port=server.port,
        user=server.user,
        client_key=server.client_key,
        known_host_key=server.host_key_line,
    )
    return replace(target, **overrides)


@pytest.fixture
async def pool() -> AsyncIterator[HostPool]:
    async with HostPool() as shared:
        yield shared


@pytest.fixture
def remote(pool: HostPool, sshd: Any) -> SSHHost:
    return SSHHost(pool, target_for(sshd))


def local_manifest(root: Path) -> dict[str, FileEntry]:
    """What the manifest of ``root`` must be, computed directly on the local disk."""
    entries = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            if path.is_symlink():
                continue
            rel = path.relative_to(root).as_posix()
            data = path.read_bytes()
            mode = path.stat().st_mode & 0o7777
            entries[rel] = FileEntry(rel, hashlib.sha256(data).hexdigest(), len(data), mode)
    return dict(sorted(entries.items()))
