"""Files into a Git repository: into its working tree, or as one commit on a branch that
leaves the checkout alone.

``hearth devices import --repo DIR --branch NAME`` commits with Git's plumbing and a
private index: the checked-out branch, the index and every file in the working tree stay
exactly as they were, so an import can be made in the middle of someone's own work and
pushed for review (``git push origin NAME``). The branch moves only from the commit it had
when the import began (``update-ref`` with the old value): a change to it in between is
refused, not overwritten.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

ZERO = "0" * 40
#: Who commits when the repository and the user have no identity configured.
FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "Hearth",
    "GIT_AUTHOR_EMAIL": "hearth@localhost",
    "GIT_COMMITTER_NAME": "Hearth",
    "GIT_COMMITTER_EMAIL": "hearth@localhost",
}


class GitProblem(Exception):
    """The repository or the branch cannot take the files: one line to act on."""


def _git(
    repo: Path, *args: str, data: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=data,
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitProblem(f"git {args[0]} failed in {repo}: {said[-1] if said else done.returncode}")
    return done.stdout.decode().strip()


def check_repository(repo: Path) -> None:
    """Refuse what is not the work tree of a Git repository."""
    if not repo.is_dir():
        raise GitProblem(f"{repo} is not a folder (give --repo the clone of your config repo)")
    try:
        inside = _git(repo, "rev-parse", "--is-inside-work-tree")
    except GitProblem:
        inside = "false"
    if inside != "true":
        raise GitProblem(f"{repo} is not a Git working tree (give --repo a clone)")


def write_files(repo: Path, files: dict[str, str]) -> list[Path]:
    """Write each file (a path inside ``repo``) into the working tree."""
    check_repository(repo)
    written = []
    for relative, text in files.items():
        path = repo / _inside(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def commit_to_branch(repo: Path, branch: str, files: dict[str, str], message: str) -> str | None:
    """One commit on ``branch`` holding ``files`` on top of what the branch (or, for a new
    branch, the checked-out commit) holds. Returns the commit, or None when the files are
    already there as given. Touches neither the checkout, nor the index, nor the tree."""
    check_repository(repo)
    try:
        _git(repo, "check-ref-format", "--branch", branch)
    except GitProblem:
        raise GitProblem(f"{branch!r} is not a valid branch name") from None
    ref = f"refs/heads/{branch}"
    old = _optional(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    parent = old or _optional(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    with tempfile.TemporaryDirectory(prefix="hearth-import-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if parent:
            _git(repo, "read-tree", parent, env=index)
        else:
            _git(repo, "read-tree", "--empty", env=index)
        for relative, text in files.items():
            blob = _git(repo, "hash-object", "-w", "--stdin", data=text.encode())
            path = _inside(relative).as_posix()
            _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=index)
        tree = _git(repo, "write-tree", env=index)
    if parent and tree == _git(repo, "rev-parse", f"{parent}^{{tree}}"):
        return None
    parents = ["-p", parent] if parent else []
    commit = _git(repo, "commit-tree", tree, *parents, "-m", message, env=_identity(repo))
    try:
        _git(repo, "update-ref", "-m", "hearth devices import", ref, commit, old or ZERO)
    except GitProblem:
        raise GitProblem(f"branch {branch} changed while importing; run the import again") from None
    return commit


def _inside(relative: str) -> Path:
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts:
        raise GitProblem(f"{relative!r} is not a path inside the repository")
    return path


def _optional(repo: Path, *args: str) -> str | None:
    try:
        return _git(repo, *args) or None
    except GitProblem:
        return None


def _identity(repo: Path) -> dict[str, str]:
    """The user's own identity where Git has one; Hearth's where it has none."""
    if _optional(repo, "var", "GIT_AUTHOR_IDENT") and _optional(repo, "var", "GIT_COMMITTER_IDENT"):
        return {}
    return FALLBACK_IDENTITY
