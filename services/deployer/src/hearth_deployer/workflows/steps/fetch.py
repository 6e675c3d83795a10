"""Fetch: the commit's tree into the run's work directory (``ConfigFetched`` once)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from hearth_deployer.adapters.sources import ConfigSource
from hearth_deployer.domain.fetched import FetchedTree
from hearth_deployer.workflows.context import DeployContext
from hearth_deployer.workflows.steps.base import Recording, StepFailed
from hearth_events.catalogue import ConfigFetched


class FetchRun(Recording, Protocol):
    """Reads the repository, its token and the commit the target's line holds (the base of
    an incremental fetch); writes into ``workdir``; remembers the source, which is told
    when the run no longer reads the tree."""

    ctx: DeployContext
    workdir: Path
    fetched_from: ConfigSource | None
    base_commit: str | None


async def fetch(run: FetchRun) -> FetchedTree:
    """The tree to deploy: the commit asked for, or once fetched, the commit recorded."""
    ctx, spec, d = run.ctx, run.spec, run.d
    repo = ctx.repository(spec.repo)
    if repo is None:
        raise StepFailed(
            "fetch",
            f"repository {spec.repo!r} is not declared; add it under repositories: "
            "in hearth.yaml and run `hearth apply`",
        )
    token = None
    if repo.token_secret:
        token = await ctx.secret(spec.name, repo.token_secret, "the API token")
    shutil.rmtree(run.workdir, ignore_errors=True)
    run.workdir.mkdir(parents=True)
    commit = d.commit if d.is_fetched else d.request.get("commit")
    source = run.fetched_from = ctx.source_for(repo)
    try:
        tree = await source.fetch(
            repo,
            commit=commit,
            branch=d.request.get("branch") or spec.branch,
            subdirectory=spec.subdirectory,
            dest=run.workdir / "tree",
            token=token,
            base=run.base_commit,
        )
    except Exception as exc:
        raise StepFailed("fetch", fetch_failure(repo.name, exc)) from exc
    if not d.is_fetched:
        run.log(
            f"fetched {tree.commit[:12]}: {tree.files} files, {tree.bytes} bytes"
            + (
                f" ({len(tree.changed)} changed since {tree.base[:12]}, read from Git; "
                "the rest reused)"
                if tree.base and tree.changed is not None
                else ""
            ),
            step="fetch",
        )
        await run.write(
            run.app.fetched,
            ConfigFetched(
                **run.ids(),
                commit=tree.commit,
                files=tree.files,
                bytes=tree.bytes,
                via="github" if repo.provider == "github" else "git",
            ),
        )
    return tree


def fetch_failure(repo: str, exc: Exception) -> str:
    """One line that names the repository as hearth.yaml does (a source may name its URL)."""
    reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    reason = reason or type(exc).__name__
    return reason if repo in reason else f"repository {repo}: {reason}"
