"""Backups on the target itself: a verified tar.gz per deployment, and exact restores.

Layout in the backup directory (which must lie outside the root it backs up):
``<id>.tar.gz`` and ``<id>.json``. The JSON is written last, after the archive was verified
and renamed into place, so a backup is listed only once it is complete; pruning deletes the
JSON first for the same reason.

A restore extracts into a staging directory *inside* the root (same file system), then
renames every file into place: each file is replaced atomically, never truncated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from hearth_deployer.remote.confine import TEMP_PREFIX, check_root, confine, within
from hearth_deployer.remote.errors import (
    BackupCorrupt,
    PathOutsideRoot,
    RemoteError,
    RemotePathError,
)
from hearth_deployer.remote.port import RemoteHost
from hearth_deployer.remote.together import together

_BACKUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: The JSON of a backup whose id begins with when it was taken (as the deployer names
#: them, ``20261206T161500Z-…``): such names sort by age, to the second.
_STAMPED = re.compile(r"^(\d{8}T\d{6}Z)-[A-Za-z0-9._-]*\.json$")


@dataclass(frozen=True)
class BackupInfo:
    backup_id: str
    #: Absolute path of the archive on the target.
    archive: str
    sha256: str
    size: int
    file_count: int
    #: Files in the archive, relative to ``root``.
    files: tuple[str, ...]
    #: Paths asked for that did not exist: a restore deletes them.
    absent: tuple[str, ...]
    root: str
    created_at: str
    #: Directories that did not exist either, deepest first: a restore removes them if
    #: the deployment left them empty.
    absent_dirs: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BackupInfo:
        return cls.from_dict(json.loads(data))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BackupInfo:
        """From its JSON form (lists for tuples); backups older than ``absent_dirs`` have none."""
        return cls(
            **{
                **raw,
                "files": tuple(raw["files"]),
                "absent": tuple(raw["absent"]),
                "absent_dirs": tuple(raw.get("absent_dirs", ())),
            }
        )


@dataclass(frozen=True)
class RestoreResult:
    restored: tuple[str, ...]
    removed: tuple[str, ...]
    removed_dirs: tuple[str, ...] = ()


def _archive_paths(dest_dir: str, backup_id: str) -> tuple[str, str]:
    return f"{dest_dir}/{backup_id}.tar.gz", f"{dest_dir}/{backup_id}.json"


class Backups:
    """The backups of one host, kept on the host itself: ``Backups(host).take(...)``."""

    def __init__(self, host: RemoteHost) -> None:
        self.host = host

    async def take(
        self,
        root: str,
        paths: Iterable[str] | None,
        dest_dir: str,
        backup_id: str,
        *,
        ignore: Iterable[str] = (),
        keep: int | None = 10,
    ) -> BackupInfo:
        """Archive ``paths`` (or every managed file) under ``root`` into ``dest_dir``."""
        if not _BACKUP_ID.match(backup_id):
            raise ValueError(f"backup id {backup_id!r}: use letters, digits, '.', '_' and '-'")
        host = self.host
        root = check_root(root)
        dest_dir = check_root(dest_dir)
        host.fence.check("backup")
        requested = None if paths is None else sorted({confine(p, root) for p in paths})
        if requested is None:
            requested = sorted(await host.manifest(root, ignore))
        real_root = await host.real_root(root)
        # Both only look (the folder is made if missing): asked at once, one round trip.
        real_dest, found = await together(
            host.private_dir(dest_dir), host.existing(root, requested)
        )
        if within(real_dest, real_root):
            raise RemotePathError(
                f"the backup directory {dest_dir} lies inside {root}: choose one outside it, "
                "or every backup would be backed up and deployed over",
                path=dest_dir,
            )
        archive, metadata = _archive_paths(real_dest, backup_id)
        partial = f"{archive}.partial"
        packed = await host.pack(real_root, found.present, partial)
        if packed.entries != len(found.present):
            await host.delete([partial])
            raise BackupCorrupt(
                partial,
                host=host.label,
                why=f"it lists {packed.entries} entries, {len(found.present)} files were archived",
            )
        info = BackupInfo(
            backup_id=backup_id,
            archive=archive,
            sha256=packed.sha256,
            size=packed.size,
            file_count=len(found.present),
            files=tuple(found.present),
            absent=tuple(found.absent),
            root=real_root,
            created_at=datetime.now(UTC).isoformat(),
            absent_dirs=found.absent_dirs,
        )
        host.fence.check("backup")
        await host.rename(partial, archive)
        # Written last: a backup is listed only once its archive is complete.
        await host.write_private(metadata, info.to_json())
        # The host counted the backups beside the archive as it packed: they are pruned
        # only when this one makes too many (or the count is unknown), from the names
        # listed to count them when the host listed them.
        if keep is not None and (packed.beside is None or packed.beside >= keep):
            listed = None if packed.listed is None else (*packed.listed, f"{backup_id}.json")
            await self.prune(dest_dir, keep, keeping=backup_id, listed=listed)
        return info

    async def kept(self, dest_dir: str) -> list[BackupInfo]:
        """The complete backups kept in ``dest_dir``, newest first."""
        dest_dir = check_root(dest_dir)
        return await self._read(dest_dir, await self._listed(dest_dir))

    async def _listed(self, dest_dir: str) -> list[str]:
        return _backup_names(await self.host.list_dir(dest_dir))

    async def _read(self, dest_dir: str, names: list[str]) -> list[BackupInfo]:
        backups = []
        for data in (await self.host.read_many(f"{dest_dir}/{n}" for n in names)).values():
            try:
                backups.append(BackupInfo.from_json(data or b""))
            except (ValueError, KeyError, TypeError):
                continue  # not one of ours, or a leftover: never fatal for listing
        return sorted(backups, key=lambda b: b.created_at, reverse=True)

    async def prune(
        self,
        dest_dir: str,
        keep: int,
        *,
        keeping: str | None = None,
        listed: Iterable[str] | None = None,
    ) -> list[str]:
        """Delete all but the ``keep`` newest backups; returns the deleted ids. ``keeping``
        (the backup a deployment just took, which its rollback needs) is never deleted,
        whatever the clock said when it was named. ``listed``: the folder's names, when
        they were just listed (the folder is listed otherwise)."""
        if keep < 1:
            raise ValueError("keep at least one backup")
        dest_dir = check_root(dest_dir)
        names = await self._listed(dest_dir) if listed is None else _backup_names(listed)
        if len(names) <= keep:
            return []  # nothing to delete: no backup's JSON needs reading
        # The one just taken counts as the newest, so it takes one of the places kept.
        others = [name for name in names if name != f"{keeping}.json"]
        places = keep - (len(names) - len(others))
        old = await self._older(dest_dir, others, places)
        for backup_id in old:
            self.host.fence.check("prune backups")
            archive, metadata = _archive_paths(dest_dir, backup_id)
            # The JSON first: a backup stops being listed before its archive goes.
            await self.host.delete([metadata, archive])
        return old

    async def _older(self, dest_dir: str, names: list[str], keep: int) -> list[str]:
        """The ids of all but the ``keep`` newest of ``names`` (backups' JSON), newest
        first. A name that begins with when its backup was taken (as the deployer names
        them) says its age itself, to the second: only backups taken in the same second
        as one on the other side of the cut have their JSON read, for its ``created_at``
        (every one's, when any name does not begin so). On a target past its limit, each
        kept backup's JSON read at every deployment cost three requests. A JSON that
        cannot be read counts as the oldest of its second."""
        stamps = {name: _STAMPED.match(name) for name in names}
        seconds: dict[str, list[str]] = {}
        for name, found in stamps.items():
            if found is None:
                return [b.backup_id for b in await self._read(dest_dir, names)][keep:]
            seconds.setdefault(found.group(1), []).append(name)
        newest_first: list[str] = []
        for second in sorted(seconds, reverse=True):
            taken = sorted(seconds[second], reverse=True)
            if len(newest_first) < keep < len(newest_first) + len(taken):
                taken = await self._newest_first(dest_dir, taken)
            newest_first += taken
        return [name.removesuffix(".json") for name in newest_first[keep:]]

    async def _newest_first(self, dest_dir: str, names: list[str]) -> list[str]:
        """``names`` by their JSON's ``created_at``, newest first; unreadable ones last."""
        read = await self.host.read_many(f"{dest_dir}/{name}" for name in names)

        def created(name: str) -> str:
            try:
                return BackupInfo.from_json(read.get(f"{dest_dir}/{name}") or b"").created_at
            except (ValueError, KeyError, TypeError):
                return ""

        return sorted(names, key=lambda name: (created(name), name), reverse=True)

    async def load(self, dest_dir: str, backup_id: str) -> BackupInfo:
        for backup in await self.kept(dest_dir):
            if backup.backup_id == backup_id:
                return backup
        raise RemotePathError(
            f"backup {backup_id} not found in {dest_dir} on {self.host.label}", path=dest_dir
        )

    async def restore(
        self, root: str, backup: BackupInfo, *, touched: Iterable[str] = ()
    ) -> RestoreResult:
        """Put back exactly the backed-up files, and delete what the deployment added.

        ``touched`` lists every path the deployment wrote or deleted; those absent from the
        backup did not exist before, so they go. The result is byte-identical to the tree
        the backup was taken from, for everything the deployment touched.
        """
        host = self.host
        root = check_root(root)
        _check_listed_paths(host.label, root, backup)
        await self._verify(backup)
        await host.fence.confirm("restore")
        real_root = await host.real_root(root)
        await host.unpack(backup.archive, real_root, backup.files)
        keep = set(backup.files)
        extra = sorted({confine(p, root) for p in (*touched, *backup.absent)} - keep)
        removed = await host.remove(root, extra)
        removed_dirs = await host.remove_empty_dirs(real_root, backup.absent_dirs)
        return RestoreResult(tuple(backup.files), tuple(removed), removed_dirs)

    async def _verify(self, backup: BackupInfo) -> None:
        try:
            got = await self.host.digest(backup.archive)
        except RemoteError as exc:
            why = str(exc) or "cannot read it"
            raise BackupCorrupt(backup.archive, host=self.host.label, why=why) from None
        if got != backup.sha256:
            raise BackupCorrupt(
                backup.archive,
                host=self.host.label,
                why=f"sha256 is {got}, expected {backup.sha256}",
            )


def _backup_names(names: Iterable[str]) -> list[str]:
    """The backups' JSON among a folder's ``names``."""
    return [name for name in names if name.endswith(".json") and not name.startswith(TEMP_PREFIX)]


def _check_listed_paths(host: str, root: str, backup: BackupInfo) -> None:
    """Refuse a backup whose JSON lists a path that is not a normalised path under the root.

    The JSON lies on the target and anyone who can write there could edit it: a listed
    ``../x`` would rename a file out of the root, or a restore would delete outside it.
    Only the form :meth:`Backups.take` writes is accepted, before anything is touched."""
    for listed in (*backup.files, *backup.absent, *backup.absent_dirs):
        try:
            normal = confine(listed, root)
        except PathOutsideRoot:
            normal = None
        if normal != listed:
            raise BackupCorrupt(
                backup.archive,
                host=host,
                why=f"its list names {listed!r}, which is not a path inside {root}; "
                "nothing was restored (delete this backup or restore it by hand)",
            )
