"""Validate a tree once, however many targets deploy it.

A push fans out to every target that follows the branch; targets of the same repository,
subdirectory and commit get byte-identical trees (hard-linked from one cached tree), so
their validation reports are identical too, as long as everything else validation reads
is the same: the ignore patterns, the secret names it checks ``!secret`` against, and the
folders Home Assistant may see the tree as. :class:`ValidationCache` keys the report by
all of that, runs :func:`validate_tree` once per key (off the event loop; the targets that
ask meanwhile wait for the same run), and hands each caller its own copy of the report.
A run that raised is not kept: the next caller tries again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

from hearth_deployer.domain.validation.tree import ValidationReport, validate_tree

KEPT = 64


@dataclass(frozen=True)
class ValidationKey:
    repo: str
    commit: str
    subdirectory: str
    ignore: tuple[str, ...]
    secret_names: frozenset[str] | None
    config_roots: tuple[str, ...]


class ValidationCache:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._runs: OrderedDict[ValidationKey, asyncio.Future[ValidationReport]] = OrderedDict()
        self.runs = 0  # validations actually run (for tests and the benchmark)

    async def validate(self, key: ValidationKey, root: Path) -> ValidationReport:
        run = self._runs.get(key)
        if run is None:
            run = asyncio.ensure_future(self._run(key, root))
            self._runs[key] = run
            while len(self._runs) > self._kept:
                self._runs.popitem(last=False)
        else:
            self._runs.move_to_end(key)
        # A cancelled deployment must not cancel the run other targets wait for.
        report = await asyncio.shield(run)
        return replace(
            report,
            files=list(report.files),
            errors=list(report.errors),
            warnings=list(report.warnings),
            ignored=list(report.ignored),
        )

    async def _run(self, key: ValidationKey, root: Path) -> ValidationReport:
        self.runs += 1
        try:
            return await asyncio.to_thread(
                validate_tree,
                root,
                ignore=key.ignore,
                target_secret_names=set(key.secret_names) if key.secret_names is not None else None,
                config_roots=key.config_roots,
                repo_prefix=key.subdirectory,
            )
        except BaseException:
            if self._runs.get(key) is asyncio.current_task():
                del self._runs[key]
            raise
