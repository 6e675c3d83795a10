"""The desired-config repository, read with the ``git`` command: a bare mirror per
repository under the data directory, updated with ``git fetch``, and the files of one folder
at one commit read with ``git archive`` into memory (a config repository is small).

The deployer has its own, richer Git source (tree caches, GitHub tarballs); services never
import each other, and this needs only "the files of a folder at a commit", so the few lines
of subprocess handling are repeated here rather than moved into a shared library.
Credentials come from the URL's transport (SSH keys, a credential helper), as for the
deployer's plain Git repositories; a URL never carries a token (hearth.yaml refuses it).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import tarfile
from pathlib import Path

from hearth_events.catalogue import RepositorySpec
from hearth_servicekit.gitenv import git_environment

GIT_TIMEOUT_S = 120.0
MAX_FILE_BYTES = 1 << 20


class GitError(Exception):
    """The repository could not be read; the message says which and why, in one line."""


async def _git(*args: str, cwd: Path | None = None) -> bytes:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=git_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(GIT_TIMEOUT_S):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT_S:.0f}s") from None
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {lines[-1] if lines else 'no output'}")
    return out


class GitTrees:
    def __init__(self, cache_dir: Path) -> None:
        self._cache = cache_dir
        self._locks: dict[str, asyncio.Lock] = {}

    def _mirror(self, repo: RepositorySpec) -> Path:
        digest = hashlib.sha256(repo.url.encode()).hexdigest()[:16]
        return self._cache / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', repo.name)[:60]}-{digest}.git"

    async def read(
        self, repo: RepositorySpec, branch: str, folder: str, commit: str | None = None
    ) -> tuple[str, dict[str, bytes]]:
        """The commit (``commit``, else the branch's head) and the files under ``folder``
        there, by path relative to ``folder``."""
        async with self._locks.setdefault(repo.url, asyncio.Lock()):
            mirror = self._mirror(repo)
            if not (mirror / "HEAD").exists():
                mirror.parent.mkdir(parents=True, exist_ok=True)
                await _git("clone", "--quiet", "--mirror", "--", repo.url, str(mirror))
            else:
                await _git("fetch", "--quiet", "--prune", "origin", cwd=mirror)
            ref = commit or f"refs/heads/{branch}"
            try:
                out = await _git(
                    "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=mirror
                )
            except GitError:
                what = f"commit {commit}" if commit else f"branch {branch}"
                raise GitError(f"{what} does not exist in {repo.name}") from None
            resolved = out.decode().strip()
            treeish = f"{resolved}:{folder}" if folder else resolved
            try:
                archive = await _git("archive", "--format=tar", treeish, cwd=mirror)
            except GitError:
                raise GitError(
                    f"folder {folder!r} does not exist at {resolved[:12]} in {repo.name}"
                ) from None
        return resolved, _files(archive)


def _files(archive: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            if not member.isfile() or member.size > MAX_FILE_BYTES:
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                files[member.name] = handle.read()
    return files
