"""Where the embedded stack keeps its data, credentials and state under HEARTH_DATA_DIR.

Light to import (the standard library only at the top): the CLI reads the data dir and the
state file through it on every command.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def nats_servers(url: str) -> list[str]:
    """The server URLs of ``nats_url`` as nats-py wants them: a cluster's are one
    comma-separated string (``HEARTH_NATS_URL``, ``stack.json``), nats-py takes a list."""
    return [part.strip() for part in url.split(",") if part.strip()]


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically: a reader (``hearth status``, a
    test) sees the old content or the new, never an empty or half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def nats_dir(self) -> Path:
        return self.root / "nats"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def inspector_context(self) -> Path:
        return self.nats_dir / "inspector.context.json"

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    def secret_key(self) -> str:
        """The installation key: ``$HEARTH_SECRET_KEY`` when set (compose keeps it in
        ``.env``), else ``secret.key`` in the data dir, created once (0600). Only the admin
        side holds it; services get their scope's key derived from it."""
        from hearth_servicekit.secrets import new_secret_key

        if os.environ.get("HEARTH_SECRET_KEY"):
            return os.environ["HEARTH_SECRET_KEY"].strip()
        path = self.root / "secret.key"
        if not path.exists():
            write_private(path, new_secret_key())
        return path.read_text().strip()

    def bus_passwords(self) -> dict[str, str]:
        """One random password per NATS user, created once and reused (0600)."""
        from hearth_events.permissions import all_users

        path = self.nats_dir / "passwords.json"
        known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        wanted = {user.name for user in all_users()}
        if not wanted <= set(known):
            known.update({n: secrets.token_urlsafe(24) for n in wanted - set(known)})
            write_private(path, json.dumps(known, indent=2))
        return known

    def route_password(self) -> str:
        """The password a cluster's nodes present on their routes, created once (0600)."""
        path = self.nats_dir / "route.password"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(24))
        return path.read_text()

    @property
    def applied_config_file(self) -> Path:
        return self.root / "applied-config.json"

    def remember_config(self, path: Path) -> None:
        """Record the hearth.yaml this installation runs, so a restart never swaps it out."""
        write_private(self.applied_config_file, json.dumps({"path": str(path.resolve())}))

    def remembered_config(self) -> Path | None:
        if not self.applied_config_file.exists():
            return None
        return Path(json.loads(self.applied_config_file.read_text())["path"])

    def write_state(self, state: dict[str, Any]) -> None:
        write_private(self.state_file, json.dumps(state, indent=2))

    def read_state(self) -> dict[str, Any] | None:
        if not self.state_file.exists():
            return None
        loaded: dict[str, Any] = json.loads(self.state_file.read_text())
        return loaded


def data_dir() -> Path:
    """``HEARTH_DATA_DIR``, default ``./.hearth``, always as an absolute path.

    Git, file:// URLs and the services' own working directories all need absolute paths,
    and the default is relative: resolving it once here keeps every later use right.
    """
    return Path(os.environ.get("HEARTH_DATA_DIR") or ".hearth").expanduser().resolve()
