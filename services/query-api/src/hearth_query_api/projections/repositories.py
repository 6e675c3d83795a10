"""Repositories as declared (where their commits can be seen) and the commits pushes named.

A repository's clone URL may carry credentials (``https://user:token@host/...``): only a
web address built from its host and name is kept, and only for GitHub repositories, whose
commit pages are known to live at ``/<owner>/<name>/commit/<sha>``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from hearth_events import Envelope
from hearth_events.catalogue import (
    PushReceived,
    RepositoryRegistered,
    RepositoryRemoved,
    RepositorySpec,
    RepositoryUpdated,
)

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)")
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def web_url(spec: RepositorySpec) -> str | None:
    """``https://<host>/<owner>/<name>`` for a GitHub repository; None for any other."""
    if spec.provider != "github" or not _OWNER_NAME.match(spec.name):
        return None
    host = "github.com"
    parts = urlsplit(spec.url)
    if parts.scheme in ("http", "https") and parts.hostname:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
    elif parts.scheme == "ssh" and parts.hostname:
        host = parts.hostname
    elif match := _SCP_LIKE.match(spec.url):
        host = match["host"]
    name = spec.name.removesuffix(".git")
    return f"https://{host}/{name}"


def subject(message: str) -> str:
    """A commit message's first line, as ``git log --oneline`` shows it."""
    return message.strip().split("\n", 1)[0].strip()[:200]


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    data = envelope.data
    if isinstance(data, RepositoryRegistered | RepositoryUpdated):
        await conn.execute(
            """INSERT INTO repositories (name, provider, web_url, removed)
                VALUES ($1, $2, $3, false)
                ON CONFLICT (name) DO UPDATE SET provider = $2, web_url = $3, removed = false""",
            data.repo,
            data.spec.provider,
            web_url(data.spec),
        )
    elif isinstance(data, RepositoryRemoved):
        await conn.execute("UPDATE repositories SET removed = true WHERE name = $1", data.repo)
    elif isinstance(data, PushReceived) and data.commits:
        await conn.executemany(
            """INSERT INTO commits (repo, sha, subject) VALUES ($1, $2, $3)
                ON CONFLICT (repo, sha) DO NOTHING""",
            [(data.repo, c.id, subject(c.message)) for c in data.commits if c.message.strip()],
        )
