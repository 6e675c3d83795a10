"""Fetch the exact commit a deployment needs into a local directory.

Plain Git: a cached bare mirror per repository, updated with ``git fetch`` and exported
with ``git archive`` (``file://`` works, which is how the demo and the tests run).
GitHub: the tarball of the exact commit through the REST API (githubkit), with a token
and a configurable API base URL (GitHub Enterprise, or a local test server).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from hearth_deployer.adapters import treecache, treeio
from hearth_deployer.domain.fetched import FetchedTree, FetchError
from hearth_deployer.domain.paths import UnsafePath, safe_relative
from hearth_deployer.domain.plan import FileEntry
from hearth_events.catalogue import RepositorySpec
from hearth_servicekit.gitenv import git_environment

if TYPE_CHECKING:
    from githubkit import GitHub
    from githubkit.response import Response

__all__ = ["ConfigSource", "FetchError", "FetchedTree", "GitHubTarballs", "GitMirrors"]

GIT_TIMEOUT_S = 300.0
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


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


def _subdirectory(subdirectory: str) -> str:
    if subdirectory.strip("/") in ("", "."):
        return ""
    try:
        return safe_relative(subdirectory)
    except UnsafePath as exc:
        raise FetchError(f"subdirectory {subdirectory!r} is not inside the repository") from exc


class GitMirrors:
    """One bare mirror per repository under ``cache_dir``, reused across deployments, and
    the trees of the commits deployed from it (see :mod:`hearth_deployer.adapters.treecache`)."""

    def __init__(self, cache_dir: Path, trees_dir: Path | None = None) -> None:
        self._cache = cache_dir
        self._trees = trees_dir or cache_dir / ".trees"
        self._locks: dict[str, asyncio.Lock] = {}
        self.reads = treeio.GitReads()
        #: The cached tree each fetched ``dest`` links to, kept from pruning until released.
        self._pins: dict[Path, tuple[Path, str]] = {}
        self._manifests = _Manifests()

    def _mirror(self, repo: RepositorySpec) -> Path:
        digest = hashlib.sha256(repo.url.encode()).hexdigest()[:16]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", repo.name)[:60]
        return self._cache / f"{safe}-{digest}.git"

    def _key_dir(self, repo: RepositorySpec, sub: str) -> Path:
        return self._trees / hashlib.sha256(f"{repo.url}\0{sub}".encode()).hexdigest()[:20]

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
        async with self._locks.setdefault(repo.url, asyncio.Lock()):
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
        sub = _subdirectory(subdirectory)
        key_dir = self._key_dir(repo, sub)
        async with self._locks.setdefault(repo.url, asyncio.Lock()):
            cached = False
            if commit is not None and _SHA.match(commit) and treecache.has_tree(key_dir, commit):
                cached = True  # nothing to build or prune: no thread, no wait for the others
                resolved = commit
                treecache.touch(key_dir, resolved)
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
            manifest = self._manifests.get(key_dir, resolved)
            self.release(dest)
            _link(dest, key_dir / resolved)
            self._pins[dest] = (key_dir, resolved)
            if not cached:
                pinned = [c for k, c in self._pins.values() if k == key_dir]
                await asyncio.to_thread(
                    treecache.prune_trees, key_dir, [resolved, *([base] if base else []), *pinned]
                )
        size = sum(e.size for e in manifest.values())
        return FetchedTree(resolved, dest, len(manifest), size, manifest, built_from, changed)

    def release(self, dest: Path) -> None:
        self._pins.pop(dest, None)

    async def prepare(self, repo: RepositorySpec, *, branch: str, subdirectory: str) -> str:
        """Mirror the repository and build the tree of the branch's head ahead of time,
        so the first deployment of a newly declared target needs neither; the commit."""
        resolved = await self.resolve(repo, commit=None, branch=branch)
        sub = _subdirectory(subdirectory)
        async with self._locks.setdefault(repo.url, asyncio.Lock()):
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
        async with self._locks.setdefault(repo.url, asyncio.Lock()):
            mirror = await self._update(repo)
            out = await _git("diff", "--name-only", "-z", before, after, cwd=mirror)
        return [p for p in out.decode().split("\0") if p]


def _link(dest: Path, tree: Path) -> None:
    """``dest`` as a symbolic link to ``tree``, replacing whatever was there."""
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(tree, dest, target_is_directory=True)


class _Manifests:
    """Cached trees' manifests, read once (a commit's never changes); each caller gets
    its own dict."""

    KEPT = 16

    def __init__(self) -> None:
        self._read: OrderedDict[tuple[Path, str], dict[str, FileEntry]] = OrderedDict()

    def get(self, key_dir: Path, commit: str) -> dict[str, FileEntry]:
        found = self._read.get((key_dir, commit))
        if found is None:
            found = treecache.load_manifest(key_dir / f"{commit}.json")
            assert found is not None
            self._read[(key_dir, commit)] = found
            while len(self._read) > self.KEPT:
                self._read.popitem(last=False)
        else:
            self._read.move_to_end((key_dir, commit))
        return dict(found)


def _treeish(commit: str, sub: str) -> str:
    return f"{commit}:{sub}" if sub else commit


async def _full_sha(github: GitHub[Any], repo: RepositorySpec, ref: str) -> str:
    """The full id of a short commit id, a branch or a tag: what a person types is recorded
    as the exact commit deployed."""
    from githubkit.exception import RequestFailed

    owner, _, name = repo.name.partition("/")
    try:
        response = await github.rest.repos.async_get_commit(
            owner, name, ref, headers={"Accept": "application/vnd.github.sha"}
        )
    except RequestFailed as exc:
        if exc.response.status_code in (404, 422):
            raise FetchError(
                f"{repo.name} has no commit, branch or tag {ref!r} (or a short id that is "
                "ambiguous): give more of the commit id"
            ) from None
        raise
    sha = response.text.strip()
    if not _SHA.match(sha):
        raise FetchError(f"GitHub API answered {sha[:80]!r} for commit {ref!r} of {repo.name}")
    return sha


async def _spool(response: Response[Any], spool: IO[bytes]) -> None:
    """Write a streamed response to ``spool`` at most one chunk at a time."""
    async for chunk in response.aiter_bytes(treeio.CHUNK):
        await asyncio.to_thread(spool.write, chunk)


class GitHubTarballs:
    """The tarball of an exact commit from the GitHub REST API."""

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
        del base  # every fetch downloads the commit's tarball
        # githubkit costs a service 0.4-0.8 s of CPU to import; only GitHub repositories need it.
        from githubkit import GitHub, TokenAuthStrategy, UnauthAuthStrategy
        from githubkit.exception import RequestError, RequestFailed

        owner, _, name = repo.name.partition("/")
        auth = TokenAuthStrategy(token) if token else UnauthAuthStrategy()
        sub = _subdirectory(subdirectory)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # The tarball is spooled to an unnamed file beside dest (not /tmp, which may be
        # memory) a chunk at a time, then decompressed and extracted as a stream.
        with tempfile.TemporaryFile(dir=dest.parent) as spool:
            async with GitHub(auth, base_url=repo.api_url, http_cache=False, timeout=120) as github:
                try:
                    if commit is None:
                        ref = await github.rest.git.async_get_ref(owner, name, f"heads/{branch}")
                        commit = ref.parsed_data.object_.sha
                    elif not _SHA.match(commit):
                        commit = await _full_sha(github, repo, commit)
                    response = await github.rest.repos.async_download_tarball_archive(
                        owner, name, commit, stream=True
                    )
                    await _spool(response, spool)
                except RequestFailed as exc:
                    raise FetchError(
                        f"GitHub API answered {exc.response.status_code} for {repo.name} "
                        f"at {commit or branch}"
                    ) from None
                except RequestError as exc:
                    raise FetchError(
                        f"GitHub API {repo.api_url} unreachable: {exc.exc!r}"
                    ) from None
            spool.seek(0)
            manifest = await asyncio.to_thread(
                treeio.extract_stream,
                spool,
                dest,
                strip=sub,
                reads=treeio.GitReads(),
                gzipped=True,
                top_level=True,
            )
        if not manifest and sub:
            raise FetchError(f"subdirectory {sub!r} does not exist at {commit[:12]} in {repo.name}")
        size = sum(e.size for e in manifest.values())
        return FetchedTree(commit, dest, len(manifest), size, manifest)

    def release(self, dest: Path) -> None:
        del dest  # the tree lies in the deployment's own folder, removed with it
