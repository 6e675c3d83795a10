"""The running stack's ``stack.json``, read without importing the stack.

``hearth.stack.layout`` imports the services' libraries (half a second); the CLI needs only
the file. The path is the same as ``DataDir(data_dir()).state_file`` (a test checks it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def data_root() -> Path:
    """``HEARTH_DATA_DIR``, default ``./.hearth`` (as ``hearth.stack.layout.data_dir``)."""
    return Path(os.environ.get("HEARTH_DATA_DIR") or ".hearth").expanduser().resolve()


def state_file() -> Path:
    return data_root() / "stack.json"


def read_state() -> dict[str, Any] | None:
    """What ``hearth up`` recorded (URLs of NATS and every service), or None if not running."""
    path = state_file()
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def probe(url: str, timeout: float = 2) -> tuple[int, dict[str, Any]]:
    """GET a service's JSON endpoint: (HTTP status or 0 if unreachable, parsed body)."""
    from hearth.stack.probe import probe as get

    return get(url, timeout)
