"""The plan's view of the host: quick or full check against Hearth's record, and drift.

See :mod:`hearth_deployer.adapters.records` for what is recorded and when.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from hearth_deployer.adapters.records import HostRecord
from hearth_deployer.domain import Deployment
from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote.port import (
    CheckedTree,
    FileStat,
    Known,
    QuickCheckUnsupported,
    RemoteHost,
    stats_digest,
)
from hearth_deployer.workflows.context import DeployContext
from hearth_deployer.workflows.steps.base import Level
from hearth_events.catalogue import TargetSpec

log = logging.getLogger(__name__)

#: After an upload of at most this many files only they are listed again (one ``find``
#: naming them); after a bigger one, the whole tree.
LIST_UPLOADED_UP_TO = 200


class RunView(Protocol):
    """What the host check reads: the target, the deployment, the host, the log."""

    ctx: DeployContext
    spec: TargetSpec
    d: Deployment
    ignore: tuple[str, ...]
    managed: list[str]
    #: The deployment that ended on the target last (its line says), whoever ran it.
    last_ended: str | None

    def log(self, message: str, *, step: str | None = None, level: Level = "info") -> None: ...

    async def host(self) -> RemoteHost: ...


class HostCheck:
    def __init__(self, run: RunView) -> None:
        self.run = run
        self.checked: CheckedTree | None = None
        self.full = False
        self.drifted: list[str] = []
        self.uploaded: dict[str, FileEntry] = {}
        self.removed: set[str] = set()
        #: What the upload knows the host shows for the files it wrote (see ``stamp``).
        self.written: dict[str, FileStat] = {}
        self._record: HostRecord | None = None
        self._pending: asyncio.Task[CheckedTree | dict[str, FileEntry]] | None = None

    def prefetch(self) -> None:
        """Start reading the host's manifest now (it only reads), so it overlaps
        validation; :meth:`manifest` takes the result. :meth:`discard` if unused."""
        if self._pending is None:
            self._pending = asyncio.create_task(self._read_from_host(), name="host-manifest")

    def discard(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            # Its outcome no longer matters: never warn that it went unretrieved.
            pending.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _read_from_host(self) -> CheckedTree | dict[str, FileEntry]:
        return await self._read(await self.run.host())

    async def _up_to_date(self) -> HostRecord | None:
        """This deployer's record of the host; when it is behind (or missing), the one
        another instance shared, if that one names the last deployment that ended there."""
        run, spec = self.run, self.run.spec
        records = run.ctx.records
        if records is None:
            return None
        record = records.load(spec.name, spec.remote_path)
        behind = record is None or self._behind(record)
        if behind and records.shared is not None and run.last_ended is not None:
            shared = await asyncio.to_thread(
                records.load_shared, spec.name, spec.remote_path, run.last_ended
            )
            if shared is not None:
                return shared
        return record

    async def _read(self, host: RemoteHost) -> CheckedTree | dict[str, FileEntry]:
        run, spec = self.run, self.run.spec
        records = run.ctx.records
        record = await self._up_to_date()
        self._record = record
        self.full = (
            bool(run.d.request.get("full_check"))
            or record is None
            or record.full_check_due(spec.full_check_interval_h)
        )
        known = {} if self.full or record is None else record.files
        # What this deployer left there, if it still knows: a host whose listing is
        # unchanged since is not parsed again (a fan-out parsed 400 files per target).
        previous = None
        if records is not None and not self.full:
            previous = records.tree(spec.name, spec.remote_path, run.ignore)
        try:
            return await host.checked_manifest(spec.remote_path, run.ignore, known, previous)
        except QuickCheckUnsupported:
            return await host.manifest(spec.remote_path, run.ignore)

    async def manifest(self, host: RemoteHost) -> dict[str, FileEntry]:
        """The host's manifest, hashing there only what the record cannot vouch for."""
        pending, self._pending = self._pending, None
        checked = await (pending if pending is not None else self._read(host))
        if not isinstance(checked, CheckedTree):
            return checked
        run, spec, record = self.run, self.run.spec, self._record
        self.checked = checked
        why = (
            "full check (asked for)"
            if run.d.request.get("full_check")
            else "full check (no record of this host yet)"
            if record is None
            else f"full check (the last one is over {spec.full_check_interval_h:g} h old)"
            if self.full
            else "quick check (size and mtime against the last deployment's record)"
        )
        run.log(
            f"{why}: hashed {len(checked.hashed)} of {len(checked.entries)} files on the host",
            step="plan",
        )
        if record is not None and self._behind(record):
            # Another instance deployed here since and shared no record of it: what
            # changed since this one's record is its work as much as anyone's. The check
            # above hashed what changed all the same, so the plan is exact; drift waits
            # for a record of the last deployment.
            run.log(
                f"drift not judged: no record of the host as deployment {run.last_ended} "
                "left it (another deployer instance ran it and shared none, or its "
                "rollback failed)",
                step="plan",
            )
        elif record is not None:
            self.drifted = _drifted(record, checked.entries, run.managed)
        if self.drifted:
            shown = ", ".join(self.drifted[:10]) + (" …" if len(self.drifted) > 10 else "")
            run.log(
                f"drift: {len(self.drifted)} file(s) Hearth deployed were changed on the host "
                f"since its last deployment, and are overwritten: {shown}",
                step="plan",
                level="warning",
            )
        return checked.entries

    def _behind(self, record: HostRecord) -> bool:
        """Whether a deployment the record does not know of ended on the target since it
        was written (a record from before they were named is taken as it is)."""
        return record.deployment_id is not None and record.deployment_id != self.run.last_ended

    async def affirm(self) -> None:
        """The run ended with the host's files as the last success left them (before its
        upload, or restored from its backup): a record that was up to date when it began
        still is, and now names this run (one that was behind stays behind)."""
        records, spec = self.run.ctx.records, self.run.spec
        if records is None:
            return
        record = self._record if self._record is not None else await self._up_to_date()
        if record is None or self._behind(record):
            return
        deployment_id = self.run.d.deployment_id
        data = records.affirm(spec.name, record, deployment_id)
        await self._share(deployment_id, data)

    async def _share(self, deployment_id: str, data: bytes) -> None:
        records = self.run.ctx.records
        if records is not None and records.shared is not None:
            await asyncio.to_thread(records.share, self.run.spec.name, deployment_id, data)

    async def remember(self, host: RemoteHost, *, files_changed: bool) -> None:
        """After a success: record what the host holds now (or forget, if unknown)."""
        records, spec = self.run.ctx.records, self.run.spec
        if records is None:
            return
        checked = self.checked
        if checked is None:
            records.forget(spec.name)
            return
        stats: dict[str, FileStat] | None = checked.stats
        if files_changed:
            stats = await self._stats_after_upload(host)
        if stats is None:
            records.forget(spec.name)
            return
        entries: dict[str, FileEntry] = {}
        for path, found in stats.items():
            uploaded = self.uploaded.get(path)
            if uploaded is not None:
                if uploaded.size == found.size:
                    entries[path] = FileEntry(path, uploaded.sha256, found.size, found.mode)
                continue
            before = checked.stats.get(path)
            if (before is found or before == found) and path in checked.entries:
                entries[path] = checked.entries[path]
        full_at = time.time() if self.full or self._record is None else self._record.full_check_at
        recorded = self._record.files if self._record is not None else {}
        files = {p: _known(recorded.get(p), stats[p], e.sha256) for p, e in entries.items()}
        record = HostRecord(spec.remote_path, full_at, files, self.run.d.deployment_id)
        # The tree the next check starts from: what the host holds, when every file of
        # it is known (a file left out above is hashed at the next check).
        whole = len(entries) == len(stats)
        listing = checked.listing if stats is checked.stats else stats_digest(stats)
        tree = CheckedTree(entries, dict(stats), [], listing) if whole else None
        data = records.save(spec.name, record, tree, self.run.ignore)
        await self._share(self.run.d.deployment_id, data)

    def stamp(self, path: str) -> int:
        """The whole second an uploaded file is stamped with: now, or one past every
        mtime the host's file and Hearth's record of it show, whichever is later. The
        upload then knows the file's stat without listing it again (``written``), and a
        record that still holds the file's earlier stat (a run that stopped before its
        success, a file written twice within a second) never matches the new file: it
        is hashed at the next check."""
        stamp = int(time.time())
        seen: list[FileStat | Known | None] = [
            self.checked.stats.get(path) if self.checked is not None else None,
            self._record.files.get(path) if self._record is not None else None,
        ]
        for found in seen:
            if found is not None:
                with contextlib.suppress(ValueError):
                    stamp = max(stamp, int(float(found.mtime)) + 1)
        return stamp

    async def _stats_after_upload(self, host: RemoteHost) -> dict[str, FileStat] | None:
        """What the host holds after the upload: the uploaded files as the upload stamped
        them, or listed again when it could not say; the rest as the check before it found
        them (a file changed meanwhile by someone else shows at the next check, by its
        mtime, as it would have here). Many uploads not stamped: all listed."""
        checked, spec = self.checked, self.run.spec
        assert checked is not None
        unknown = sorted(self.uploaded.keys() - self.written.keys())
        if len(unknown) > LIST_UPLOADED_UP_TO:
            return await host.file_stats(spec.remote_path, self.run.ignore)
        fresh: dict[str, FileStat] | None = {}
        if unknown:
            fresh = await host.file_stats(spec.remote_path, self.run.ignore, unknown)
        if fresh is None:
            return None
        fresh = {**{p: self.written[p] for p in self.uploaded if p in self.written}, **fresh}
        changed = self.uploaded.keys() | self.removed
        kept = {p: s for p, s in checked.stats.items() if p not in changed}
        return {**kept, **fresh}

    def forget(self) -> None:
        if self.run.ctx.records is not None:
            self.run.ctx.records.forget(self.run.spec.name)


def _known(recorded: Known | None, stat: FileStat, sha256: str) -> Known:
    """What to record for a file: the entry recorded before when it says the same (most
    files of a deployment; making 400 anew at each success was 6% of the deployer's time
    in a fan-out), else a new one."""
    if (
        recorded is not None
        and recorded.sha256 == sha256
        and recorded.size == stat.size
        and recorded.mtime == stat.mtime
    ):
        return recorded
    return Known(stat.size, stat.mtime, sha256)


def _drifted(record: HostRecord, now: dict[str, FileEntry], managed: list[str]) -> list[str]:
    drifted = []
    for path in managed:
        known = record.files.get(path)
        if known is None:
            continue
        current = now.get(path)
        if current is None or current.sha256 != known.sha256:
            drifted.append(path)
    return sorted(drifted)
