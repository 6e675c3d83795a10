"""Real Git repositories for tests: a bare 'remote' reached by file:// and a work tree."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

IDENTITY = [
    "-c",
    "user.name=Alice",
    "-c",
    "user.email=alice@example.com",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


@dataclass
class GitRemote:
    bare: Path
    work: Path

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or with None, delete) files, commit, return the commit id (not pushed)."""
        for path, content in files.items():
            target = self.work / path
            if content is None:
                git(self.work, "rm", "-q", "--", path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            git(self.work, "add", "--", path)
        git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.work, "rev-parse", "HEAD")

    def push(self, branch: str = "main") -> str:
        git(self.work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return git(self.work, "rev-parse", "HEAD")

    def head(self, branch: str = "main") -> str:
        return git(self.bare, "rev-parse", f"refs/heads/{branch}")


def make_remote(directory: Path, name: str = "home-config") -> GitRemote:
    bare = directory / f"{name}.git"
    work = directory / f"{name}-work"
    bare.mkdir(parents=True)
    git(bare, "init", "-q", "--bare", "-b", "main")
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", bare.as_uri())
    return GitRemote(bare, work)
