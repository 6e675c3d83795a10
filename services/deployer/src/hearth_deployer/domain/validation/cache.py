"""Validate a tree once, however many targets deploy it.

A push fans out to every target that follows the branch; targets of the same repository,
subdirectory and commit read the same cached tree.
Validation has two parts:

- the scan (:func:`scan_tree`): walk the tree and parse every YAML and JSON file. Nearly
  all the cost, and it depends only on the tree and the ignore patterns, so it runs once
  per (repository, commit, subdirectory, ignore patterns) however many targets share it,
  whatever their paths or secrets; and a YAML file an earlier scan parsed with the same
  path and text is not parsed again (:class:`ParsedFiles`): a push's new commit changes
  a few files;
- the judgement (:func:`judge_tree`): every tag checked against the tree's secrets, the
  target's secret names and the folders Home Assistant may see the tree as (the target's
  ``remote_path`` among them, so targets on different paths differ here, but only when
  the tree includes an absolute path). Cheap, but not free: 400 files' tags took 8% of
  the deployer's time in a fan-out when judged once per target on its own path. Run once
  per :class:`ValidationKey`, its roots left out for a tree with no absolute include.

Both run off the event loop, once per key: the targets that ask meanwhile wait for the
same run, and each caller gets its own copy of the report. A run that raised is not kept:
the next caller tries again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from hearth_deployer.domain.validation.tree import (
    ParsedFiles,
    ScannedTree,
    ValidationReport,
    judge_tree,
    scan_tree,
)

KEPT = 64

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class ScanKey:
    """What the scan of a tree depends on."""

    repo: str
    commit: str
    subdirectory: str
    ignore: tuple[str, ...]


@dataclass(frozen=True)
class ValidationKey:
    """What a report depends on: the tree's scan, and the target's inputs."""

    scan: ScanKey
    secret_names: frozenset[str] | None
    config_roots: tuple[str, ...]


class _Runs(OrderedDict[K, "asyncio.Future[V]"]):
    """Shared runs by key, the newest ``kept``; a run that raised is forgotten."""

    def __init__(self, kept: int) -> None:
        super().__init__()
        self._kept = kept

    async def once(self, key: K, start: Callable[[], Awaitable[V]]) -> V:
        run = self.get(key)
        if run is None:
            run = asyncio.ensure_future(self._forget_failure(key, start))
            self[key] = run
            while len(self) > self._kept:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        # A cancelled deployment must not cancel the run other targets wait for.
        return await asyncio.shield(run)

    async def _forget_failure(self, key: K, start: Callable[[], Awaitable[V]]) -> V:
        try:
            return await start()
        except BaseException:
            if self.get(key) is asyncio.current_task():
                del self[key]
            raise


class ValidationCache:
    def __init__(self, kept: int = KEPT) -> None:
        self._reports: _Runs[ValidationKey, ValidationReport] = _Runs(kept)
        self._scans: _Runs[ScanKey, ScannedTree] = _Runs(kept)
        #: A new commit's scan parses only the files no earlier scan parsed as they are.
        self.files = ParsedFiles()
        self.runs = 0  # reports actually made (for tests and the benchmark)
        self.scans = 0  # trees actually scanned

    async def validate(self, key: ValidationKey, root: Path) -> ValidationReport:
        scanned = await self._scans.once(key.scan, lambda: self._scan(key.scan, root))
        if not scanned.absolute_includes:  # the roots change nothing: one report for all
            key = replace(key, config_roots=())
        report = await self._reports.once(key, lambda: self._report(key, root, scanned))
        return replace(
            report,
            files=list(report.files),
            errors=list(report.errors),
            warnings=list(report.warnings),
            ignored=list(report.ignored),
        )

    async def _report(
        self, key: ValidationKey, root: Path, scanned: ScannedTree
    ) -> ValidationReport:
        self.runs += 1
        return await asyncio.to_thread(
            judge_tree,
            root,
            scanned,
            ignore=key.scan.ignore,
            target_secret_names=set(key.secret_names) if key.secret_names is not None else None,
            config_roots=key.config_roots,
            repo_prefix=key.scan.subdirectory,
        )

    async def _scan(self, key: ScanKey, root: Path) -> ScannedTree:
        self.scans += 1
        return await asyncio.to_thread(scan_tree, root, key.ignore, self.files)
