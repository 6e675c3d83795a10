"""Fetch the exact commit a deployment needs into a local directory.

Plain Git: a cached bare mirror per repository, updated with ``git fetch`` and exported
with ``git archive`` (``file://`` works, which is how the demo and the tests run).
GitHub: the tarball of the exact commit through the REST API
(:mod:`hearth_deployer.adapters.githubsource`). Both keep each commit's tree once and
hand it to every deployment of it (:mod:`hearth_deployer.adapters.sharedtrees`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from pathlib import Path
from typing import Protocol

from hearth_deployer.adapters import treecache, treeio
from hearth_deployer.adapters.githubsource import GitHubTarballs
from hearth_deployer.adapters.sharedtrees import SharedTrees
from hearth_deployer.domain.fetched import FULL_SHA, FetchedTree, FetchError, tree_subdirectory
from hearth_events.catalogue import RepositorySpec
from hearth_servicekit.gitenv import git_environment

__all__ = ["ConfigSource", "FetchError", "FetchedTree", "GitHubTarballs", "GitMirrors"]

GIT_TIMEOUT_S = 300.0


class ConfigSource(Protocol):
    async def fetch(
        self,
        repo: RepositorySpec,
        *,
        commit: str | None,
        branch: str,
        subdirectory: str,
        dest: Path,
        token: str | None,
        base: str | None = None,
    ) -> FetchedTree: ...

    def release(self, dest: Path) -> None:
        """The tree fetched to ``dest`` is no longer read (the deployment ended)."""


async def _git(*args: str, cwd: Path | None = None, timeout: float = GIT_TIMEOUT_S) -> bytes:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=git_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise FetchError(f"git {args[0]} took longer than {timeout:.0f}s") from None
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise FetchError(f"git {args[0]} failed: {lines[-1] if lines else 'no output'}")
    return out


class GitMirrors:
    """One bare mirror per repository under ``cache_dir``, reused across deployments, and
    the trees of the commits deployed from it (see :mod:`hearth_deployer.adapters.treecache`)."""

    def __init__(self, cache_dir: Path, trees_dir: Path | None = None) -> None:
        self._cache = cache_dir
        self._trees = SharedTrees(trees_dir or cache_dir / ".trees")
        self.reads = treeio.GitReads()

    def _mirror(self, repo: RepositorySpec) -> Path:
        digest = hashlib.sha256(repo.url.encode()).hexdigest()[:16]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", repo.name)[:60]
        return self._cache / f"{safe}-{digest}.git"

    def _key_dir(self, repo: RepositorySpec, sub: str) -> Path:
        return self._trees.key_dir(repo.url, sub)

    async def _update(self, repo: RepositorySpec) -> Path:
        mirror = self._mirror(repo)
        if not (mirror / "HEAD").exists():
            mirror.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(mirror, ignore_errors=True)
            await _git("clone", "--quiet", "--mirror", "--", repo.url, str(mirror))
        else:
            await _git("fetch", "--quiet", "--prune", "origin", cwd=mirror)
        return mirror

    async def resolve(self, repo: RepositorySpec, *, commit: str | None, branch: str) -> str:
        async with self._trees.lock(repo.url):
            return await self._resolve(repo, commit=commit, branch=branch)

    async def _resolve(self, repo: RepositorySpec, *, commit: str | None, branch: str) -> str:
        """``resolve``, the mirror's lock held."""
        mirror = await self._update(repo)
        ref = commit or f"refs/heads/{branch}"
        try:
            out = await _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=mirror)
        except FetchError:
            what = f"commit {commit}" if commit else f"branch {branch}"
            raise FetchError(f"{what} does not exist in {repo.url}") from None
        return out.decode().strip()

    async def fetch(
        self,
        repo: RepositorySpec,
        *,
        commit: str | None,
        branch: str,
        subdirectory: str,
        dest: Path,
        token: str | None,
        base: str | None = None,
    ) -> FetchedTree:
        """The tree of the commit at ``dest``: built from the cached tree of ``base`` (the
        commit the target runs; else the newest cached one) with only the changed blobs
        read from Git, or exported whole when nothing is cached.

        ``dest`` is a symbolic link to the cached tree, which stays cached until
        :meth:`release`: twenty targets of one push read one tree, with no copy each. A
        commit whose tree is cached needs no Git at all (a commit's tree never changes),
        and is looked for once the lock is held: the twenty targets of one push wait for
        the first one's fetch, then only link its tree (looked for before the lock, each
        fetched the commit again, one after another)."""
        del token  # plain Git takes credentials from the URL or the Git configuration
        sub = tree_subdirectory(subdirectory)
        key_dir = self._key_dir(repo, sub)
        async with self._trees.lock(repo.url):
            exact = commit if commit is not None and FULL_SHA.match(commit) else None
            cached = exact is not None and self._trees.cached(key_dir, exact)
            if exact is not None and cached:
                # Nothing to build or prune: no thread, no wait for the others.
                resolved = exact
                built_from, changed = None, None
            else:
                resolved = await self._resolve(repo, commit=commit, branch=branch)
                try:
                    built_from, changed = await asyncio.to_thread(
                        treecache.ensure_tree,
                        self._mirror(repo),
                        _treeish(resolved, sub),
                        key_dir,
                        base,
                        self.reads,
                    )
                except FetchError:
                    raise FetchError(
                        f"subdirectory {sub!r} does not exist at {resolved[:12]} in {repo.url}"
                    ) from None
            tree = self._trees.hand_out(key_dir, resolved, dest)
            if not cached:
                await self._trees.prune(key_dir, resolved, base)
        return FetchedTree(
            resolved,
            dest,
            len(tree.manifest),
            tree.size,
            tree.manifest,
            built_from,
            changed,
            paths=tree.paths,
        )

    def release(self, dest: Path) -> None:
        self._trees.release(dest)

    async def prepare(self, repo: RepositorySpec, *, branch: str, subdirectory: str) -> str:
        """Mirror the repository and build the tree of the branch's head ahead of time,
        so the first deployment of a newly declared target needs neither; the commit."""
        resolved = await self.resolve(repo, commit=None, branch=branch)
        sub = tree_subdirectory(subdirectory)
        async with self._trees.lock(repo.url):
            await asyncio.to_thread(
                treecache.ensure_tree,
                self._mirror(repo),
                _treeish(resolved, sub),
                self._key_dir(repo, sub),
                None,
                self.reads,
            )
        return resolved

    async def changed_paths(self, repo: RepositorySpec, before: str, after: str) -> list[str]:
        """Paths that differ between two commits (for pushes that list no files)."""
        async with self._trees.lock(repo.url):
            mirror = await self._update(repo)
            out = await _git("diff", "--name-only", "-z", before, after, cwd=mirror)
        return [p for p in out.decode().split("\0") if p]


def _treeish(commit: str, sub: str) -> str:
    return f"{commit}:{sub}" if sub else commit
