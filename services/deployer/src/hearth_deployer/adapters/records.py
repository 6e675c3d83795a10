"""What Hearth last saw on each target: path, size, mtime and sha256 of every file.

The plan trusts a recorded sha256 while a file's size and mtime are unchanged (rsync's
quick check) and re-hashes only the rest on the host; a full re-hash runs on demand and
when the last one is older than the target's ``full_check_interval_h``. The record is a
cache in the deployer's data directory: losing it costs one full re-hash, nothing more.
It is written when a deployment succeeded (and renamed after one that ended with the
host as that success left it), so it describes the files Hearth left there; a file that
differs from it is drift (changed on the host behind Hearth's back).
Each record is also shared with the other deployer instances (:mod:`.sharedrecords`):
one whose own record is behind takes the one the last deployment there left.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from hearth_deployer.adapters.sharedrecords import SharedRecords
from hearth_deployer.remote.port import CheckedTree, Known


@dataclass
class HostRecord:
    root: str
    full_check_at: float
    files: dict[str, Known] = field(default_factory=dict)
    #: The deployment whose end left the host as recorded (None in records written
    #: before it was kept): while it is the last that ended on the target, nobody,
    #: no other deployer instance either, deployed there since.
    deployment_id: str | None = None

    def copy(self) -> HostRecord:
        return HostRecord(self.root, self.full_check_at, dict(self.files), self.deployment_id)

    def full_check_due(self, interval_h: float, now: float | None = None) -> bool:
        return (now or time.time()) - self.full_check_at >= interval_h * 3600


class HostRecords:
    def __init__(self, directory: Path, shared: SharedRecords | None = None) -> None:
        self.directory = directory
        #: Where records are shared with the other deployer instances (None: not shared).
        self.shared = shared
        #: The record each target's file held when last read or written here, by the
        #: file's identity: read again only when the file changed (a fan-out parsed a
        #: 400-file record per target per deployment).
        self._read: dict[str, tuple[tuple[int, int, int], HostRecord]] = {}
        #: What the host held when its record was last saved here, as a checked tree (in
        #: memory only: after a restart the first check parses the listing again).
        self._trees: dict[str, tuple[tuple[str, tuple[str, ...]], CheckedTree]] = {}

    def _path(self, target: str) -> Path:
        return self.directory / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', target)}.json"

    def load(self, target: str, root: str) -> HostRecord | None:
        """The record of ``target`` when it describes ``root``; None otherwise."""
        path = self._path(target)
        try:
            identity = _identity(path)
            known = self._read.get(target)
            if known is not None and known[0] == identity:
                record = known[1]
            else:
                record = _decode(path.read_bytes())
                self._read[target] = (identity, record)
        except (OSError, ValueError, KeyError, TypeError):  # orjson's error is a ValueError
            return None
        if record.root != root:
            return None
        return record.copy()

    def tree(self, target: str, root: str, ignore: tuple[str, ...]) -> CheckedTree | None:
        """The tree saved with the record of ``target`` for ``root`` and these ignore
        patterns, if this process saved one: what a quick check of the host returns while
        its listing is unchanged (:meth:`.port.RemoteHost.checked_manifest`'s
        ``previous``). Patterns ``find`` cannot express leave the listing as it was, so a
        tree is only for the patterns it was filtered with."""
        kept = self._trees.get(target)
        return kept[1] if kept is not None and kept[0] == (root, ignore) else None

    def save(
        self,
        target: str,
        record: HostRecord,
        tree: CheckedTree | None = None,
        ignore: tuple[str, ...] = (),
    ) -> bytes:
        """Written at every successful deployment, on the event loop: orjson (sorting the keys
        itself) took a 400-file record from 0.63 ms to 0.39 ms, most of the rest the file's
        write and rename. ``tree``: what the host holds, which the record describes, with
        ``ignore`` left out. What was written (for :meth:`share`)."""
        self._trees.pop(target, None)
        self.directory.mkdir(parents=True, exist_ok=True)
        data = _encode(record)
        path = self._path(target)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)
        self._read[target] = (_identity(path), record.copy())
        if tree is not None:
            self._trees[target] = ((record.root, ignore), tree)
        return data

    def share(self, target: str, deployment_id: str, data: bytes) -> None:
        """Share what :meth:`save` wrote with the other instances (blocking: a thread)."""
        if self.shared is not None:
            self.shared.save(target, deployment_id, data)

    def load_shared(self, target: str, root: str, deployment_id: str) -> HostRecord | None:
        """The record another instance shared for ``target``, when it is the one
        ``deployment_id`` left and describes ``root``; kept here too (blocking: a thread)."""
        found = self.shared.load(target) if self.shared is not None else None
        if found is None or found[0] != deployment_id:
            return None
        try:
            record = _decode(found[1])
        except (ValueError, KeyError, TypeError):
            return None
        if record.root != root or record.deployment_id != deployment_id:
            return None
        self.save(target, record)
        return record.copy()

    def affirm(self, target: str, record: HostRecord, deployment_id: str) -> bytes:
        """``deployment_id`` ended with the host's files as the last success left them
        (before its upload, or restored from its backup): ``record`` (loaded for it, and
        up to date then) still holds, and now names that deployment (the last that ended
        there). What was written (for :meth:`share`)."""
        record = record.copy()
        record.deployment_id = deployment_id
        kept = self._trees.get(target)
        if kept is None:
            return self.save(target, record)
        return self.save(target, record, kept[1], kept[0][1])

    def forget(self, target: str) -> None:
        self._read.pop(target, None)
        self._trees.pop(target, None)
        self._path(target).unlink(missing_ok=True)


def _encode(record: HostRecord) -> bytes:
    data = {
        "root": record.root,
        "full_check_at": record.full_check_at,
        "files": {p: (k.size, k.mtime, k.sha256) for p, k in record.files.items()},
        "deployment_id": record.deployment_id,
    }
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def _decode(raw: bytes) -> HostRecord:
    data = orjson.loads(raw)
    files = {p: Known(size, mtime, sha) for p, (size, mtime, sha) in data["files"].items()}
    return HostRecord(data["root"], float(data["full_check_at"]), files, data.get("deployment_id"))


def _identity(path: Path) -> tuple[int, int, int]:
    """What changes whenever the file is replaced or written (``save`` renames a new file
    over it: a new inode)."""
    found = path.stat()
    return found.st_ino, found.st_size, found.st_mtime_ns
