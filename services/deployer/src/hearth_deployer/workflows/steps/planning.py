"""Plan: compare the tree with the host (quick or full check) and record the change
(``DeploymentPlanned``, with its diff and drift, once)."""

from __future__ import annotations

import asyncio
from typing import Protocol

from hearth_deployer.adapters.treeio import tree_files
from hearth_deployer.domain.fetched import FetchedTree
from hearth_deployer.domain.paths import matcher
from hearth_deployer.domain.plan import (
    TEXT_LIMIT_BYTES,
    Plan,
    local_manifest,
    plan_changes,
    unified_diff,
)
from hearth_deployer.remote.port import RemoteHost
from hearth_deployer.workflows.steps.base import Recording, StepFailed
from hearth_deployer.workflows.steps.hostcheck import HostCheck
from hearth_events.catalogue import DeploymentPlanned


class PlanRun(Recording, Protocol):
    """Reads the ignore list, what Hearth deployed there before, the host's manifest."""

    ignore: tuple[str, ...]
    managed: list[str]
    check: HostCheck

    async def host(self) -> RemoteHost: ...


def local_files(tree: FetchedTree, ignore: tuple[str, ...]) -> list[str]:
    """The tree's files a deployment manages: every regular file not ignored (a symlink
    to a file counts; a symlinked directory is not entered), as POSIX paths, sorted. The
    source's list of them when it has one (:attr:`FetchedTree.paths`), else a walk."""
    ignored = matcher(ignore)
    paths = tree.paths if tree.paths is not None else tree_files(tree.root)
    return [path for path in paths if not ignored(path)]


def managed_after(
    tree: FetchedTree, ignore: tuple[str, ...], before: list[str]
) -> list[str] | None:
    """The files the deployment leaves Hearth managing (:func:`local_files`); None when
    they are ``before``, the ones the target's line holds: not stored again (a one-file
    change to a tree of 400 files stored the 400 paths with every deployment)."""
    files = local_files(tree, ignore)
    return None if files == before else files


async def plan(run: PlanRun, tree: FetchedTree) -> Plan:
    host = await run.host()
    try:
        remote = await run.check.manifest(host)
    except Exception as exc:
        raise StepFailed("plan", str(exc)) from exc
    files = local_files(tree, run.ignore)
    known = tree.manifest or {}
    unknown = [p for p in files if p not in known]
    local = {p: known[p] for p in files if p in known}
    local.update(await asyncio.to_thread(local_manifest, tree.root, unknown))
    planned = plan_changes(local, remote, deployed_before=set(run.managed), ignore=run.ignore)
    run.check.uploaded = {e.path: e for e in planned.to_upload}
    run.check.removed = {e.path for e in planned.removed}
    if not run.d.is_planned:
        await _record(run, host, tree, planned)
    return planned


async def _record(run: PlanRun, host: RemoteHost, tree: FetchedTree, planned: Plan) -> None:
    olds = await host.read_files(
        run.spec.remote_path,
        [e.path for e in (*planned.changed, *planned.removed)],
        limit=TEXT_LIMIT_BYTES,
    )
    diff, truncated = unified_diff(planned, tree.root, olds.get)
    run.log(
        f"plan: {len(planned.added)} added, {len(planned.changed)} changed, "
        f"{len(planned.removed)} removed, {planned.unchanged} unchanged",
        step="plan",
    )
    await run.write(
        run.app.planned,
        DeploymentPlanned(
            **run.ids(),
            added=tuple(e.changed_file() for e in planned.added),
            changed=tuple(e.changed_file() for e in planned.changed),
            removed=tuple(e.changed_file() for e in planned.removed),
            diff=diff,
            diff_truncated=truncated,
            drifted=tuple(run.check.drifted),
        ),
    )
