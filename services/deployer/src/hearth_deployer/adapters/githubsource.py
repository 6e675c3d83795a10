"""GitHub: the tarball of an exact commit through the REST API (githubkit), with a token
and a configurable API base URL (GitHub Enterprise, or a local test server).

Each commit's tree is downloaded once and kept (:class:`SharedTrees`): the targets of one
push, and every later deployment or drift check of the same commit, read that tree. Only
a branch needs the API at all once its commit is kept (one small request for its head);
a push names the full commit, so its twenty targets make one download between them, not
twenty against the account's rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hearth_deployer.adapters import treecache, treeio
from hearth_deployer.adapters.sharedtrees import SharedTrees
from hearth_deployer.domain.fetched import FULL_SHA, FetchedTree, FetchError, tree_subdirectory
from hearth_deployer.domain.plan import FileEntry
from hearth_events.catalogue import RepositorySpec

if TYPE_CHECKING:
    from githubkit import GitHub
    from githubkit.response import Response


class GitHubTarballs:
    """Commit trees from GitHub's tarballs, kept under ``cache_dir``."""

    def __init__(self, cache_dir: Path) -> None:
        self._trees = SharedTrees(cache_dir)

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
        """The tree of the commit at ``dest``, a symbolic link to the kept tree (until
        :meth:`release`); downloaded only if no earlier fetch kept it."""
        sub = tree_subdirectory(subdirectory)
        key_dir = self._trees.key_dir(repo.api_url, repo.name.lower(), sub)
        async with self._trees.lock(f"{repo.api_url}\0{repo.name.lower()}"):
            downloaded = False
            if commit is None or not FULL_SHA.match(commit):
                commit = await _resolve(repo, token, commit=commit, branch=branch)
            if not self._trees.cached(key_dir, commit):
                await _download(repo, token, commit, sub, key_dir)
                downloaded = True
            tree = self._trees.hand_out(key_dir, commit, dest)
            if downloaded:
                await self._trees.prune(key_dir, commit, base)
        return FetchedTree(
            commit, dest, len(tree.manifest), tree.size, tree.manifest, paths=tree.paths
        )

    def release(self, dest: Path) -> None:
        self._trees.release(dest)


def _client(repo: RepositorySpec, token: str | None) -> GitHub[Any]:
    # githubkit costs a service 0.4-0.8 s of CPU to import; only GitHub repositories need it.
    from githubkit import GitHub, TokenAuthStrategy, UnauthAuthStrategy

    auth = TokenAuthStrategy(token) if token else UnauthAuthStrategy()
    return GitHub(auth, base_url=repo.api_url, http_cache=False, timeout=120)


async def _resolve(
    repo: RepositorySpec, token: str | None, *, commit: str | None, branch: str
) -> str:
    """The full id of the branch's head, or of a short id, branch or tag a person typed."""
    owner, _, name = repo.name.partition("/")
    async with _client(repo, token) as github, _api_errors(repo, commit or branch):
        if commit is None:
            ref = await github.rest.git.async_get_ref(owner, name, f"heads/{branch}")
            sha: str = ref.parsed_data.object_.sha
            return sha
        return await _full_sha(github, repo, commit)


async def _download(
    repo: RepositorySpec, token: str | None, commit: str, sub: str, key_dir: Path
) -> None:
    """Download and extract ``commit``'s tree into ``key_dir``, whole or not at all.

    The tarball is spooled to an unnamed file in the cache (not /tmp, which may be memory)
    a chunk at a time, then decompressed and extracted as a stream."""
    owner, _, name = repo.name.partition("/")
    building = await asyncio.to_thread(_building, key_dir)
    try:
        with tempfile.TemporaryFile(dir=building) as spool:
            async with _client(repo, token) as github, _api_errors(repo, commit):
                response = await github.rest.repos.async_download_tarball_archive(
                    owner, name, commit, stream=True
                )
                await _spool(response, spool)
            spool.seek(0)
            manifest = await asyncio.to_thread(
                treeio.extract_stream,
                spool,
                building / "tree",
                strip=sub,
                reads=treeio.GitReads(),
                gzipped=True,
                top_level=True,
            )
        if not manifest and sub:
            raise FetchError(f"subdirectory {sub!r} does not exist at {commit[:12]} in {repo.name}")
        await asyncio.to_thread(_keep, building / "tree", key_dir, commit, manifest)
    finally:
        await asyncio.to_thread(shutil.rmtree, building, ignore_errors=True)


def _building(key_dir: Path) -> Path:
    key_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".building-", dir=key_dir))


def _keep(tree: Path, key_dir: Path, commit: str, manifest: dict[str, FileEntry]) -> None:
    """The built tree in the cache; its manifest is written last (see ``has_tree``)."""
    tree.rename(key_dir / commit)
    treecache.save_manifest(key_dir / f"{commit}.json", manifest)


@contextlib.asynccontextmanager
async def _api_errors(repo: RepositorySpec, what: str) -> AsyncIterator[None]:
    """GitHub's answers and outages as one line naming the repository."""
    from githubkit.exception import RequestError, RequestFailed

    try:
        yield
    except RequestFailed as exc:
        raise FetchError(
            f"GitHub API answered {exc.response.status_code} for {repo.name} at {what}"
        ) from None
    except RequestError as exc:
        raise FetchError(f"GitHub API {repo.api_url} unreachable: {exc.exc!r}") from None


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
    if not FULL_SHA.match(sha):
        raise FetchError(f"GitHub API answered {sha[:80]!r} for commit {ref!r} of {repo.name}")
    return sha


async def _spool(response: Response[Any], spool: IO[bytes]) -> None:
    """Write a streamed response to ``spool`` at most one chunk at a time."""
    async for chunk in response.aiter_bytes(treeio.CHUNK):
        await asyncio.to_thread(spool.write, chunk)
