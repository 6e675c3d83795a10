"""What Hearth last saw on each target: path, size, mtime and sha256 of every file.

The plan trusts a recorded sha256 while a file's size and mtime are unchanged (rsync's
quick check) and re-hashes only the rest on the host; a full re-hash runs on demand and
when the last one is older than the target's ``full_check_interval_h``. The record is a
cache in the deployer's data directory: losing it costs one full re-hash, nothing more.
It is written only when a deployment succeeded, so it describes the files Hearth left
there; a file that differs from it is drift (changed on the host behind Hearth's back).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth_deployer.remote.port import Known


@dataclass
class HostRecord:
    root: str
    full_check_at: float
    files: dict[str, Known] = field(default_factory=dict)

    def full_check_due(self, interval_h: float, now: float | None = None) -> bool:
        return (now or time.time()) - self.full_check_at >= interval_h * 3600


class HostRecords:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, target: str) -> Path:
        return self.directory / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', target)}.json"

    def load(self, target: str, root: str) -> HostRecord | None:
        """The record of ``target`` when it describes ``root``; None otherwise."""
        try:
            data = json.loads(self._path(target).read_text())
            if data["root"] != root:
                return None
            files = {p: Known(size, mtime, sha) for p, (size, mtime, sha) in data["files"].items()}
            return HostRecord(root, float(data["full_check_at"]), files)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, target: str, record: HostRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {
            "root": record.root,
            "full_check_at": record.full_check_at,
            "files": {p: [k.size, k.mtime, k.sha256] for p, k in sorted(record.files.items())},
        }
        path = self._path(target)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(path)

    def forget(self, target: str) -> None:
        self._path(target).unlink(missing_ok=True)
