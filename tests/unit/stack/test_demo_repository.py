"""The demo's repositories are made whole or not at all (real git, no services)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import hearth.demo.launch as demo
from hearth.demo.launch import FILES


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_demo_repository_cut_off_before_its_first_push_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first start stopped between the commit and the push once left a bare repository
    without a branch; the next start took it as made, and Hearth polled it forever."""
    real_git = demo._git

    def cut_off_at_push(cwd: Path, *args: str) -> None:
        if args[0] == "push":
            raise subprocess.CalledProcessError(130, ["git", *args])
        real_git(cwd, *args)

    monkeypatch.setattr(demo, "_git", cut_off_at_push)
    with pytest.raises(subprocess.CalledProcessError):
        demo._repository(tmp_path, "home-config", FILES)
    monkeypatch.setattr(demo, "_git", real_git)

    bare, checkout = demo._repository(tmp_path, "home-config", FILES)
    assert git(bare, "log", "--format=%s", "main") == "Demo configuration"
    assert (checkout / "automations.yaml").read_text() == FILES["automations.yaml"]
    # The checkout pushes to the repository Hearth follows, not to a temporary one.
    assert git(checkout, "remote", "get-url", "origin") == str(bare)
    (checkout / "scripts.yaml").write_text("# mine\n")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "mine")
    git(checkout, "push", "-q", "origin", "HEAD:main")
    assert git(bare, "log", "-1", "--format=%s", "main") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home-config", "home-config.git"]


def test_a_made_demo_repository_is_kept_with_the_users_commits(tmp_path: Path) -> None:
    bare, checkout = demo._repository(tmp_path, "home-config", FILES)
    (checkout / "scripts.yaml").write_text("# mine\n")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "mine")
    git(checkout, "push", "-q", "origin", "HEAD:main")
    head: Any = git(bare, "rev-parse", "main")
    assert demo._repository(tmp_path, "home-config", FILES) == (bare, checkout)
    assert git(bare, "rev-parse", "main") == head
    assert (checkout / "scripts.yaml").read_text() == "# mine\n"
