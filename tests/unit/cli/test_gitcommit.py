"""Imported files committed to a branch with a private index: the checkout, the index and
the working tree stay byte for byte as they were; real Git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hearth.cli.gitcommit import GitProblem, commit_to_branch, write_files


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone in the middle of someone's work: a staged change and an unstaged one."""
    repo = tmp_path / "fleet"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ann@example.org")
    git(repo, "config", "user.name", "Ann")
    (repo / "devices").mkdir()
    (repo / "devices" / "hall.toml").write_text('name = "hall"\n')
    (repo / "README.md").write_text("fleet\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    (repo / "README.md").write_text("fleet, edited\n")
    git(repo, "add", "README.md")
    (repo / "devices" / "hall.toml").write_text('name = "hall"  # mine\n')
    return repo


def snapshot(repo: Path) -> tuple[str, str, str, dict[str, bytes]]:
    files = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }
    index = (repo / ".git" / "index").read_bytes().hex()
    return git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD"), index, files


def test_a_branch_gets_one_commit_and_the_checkout_is_untouched(repo: Path) -> None:
    before = snapshot(repo)
    files = {"devices/kitchen.toml": 'name = "kitchen"\n', "devices/hall.toml": "imported\n"}
    commit = commit_to_branch(repo, "import/fleet", files, "Import 2 devices")
    assert commit is not None
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "import/fleet") == commit
    assert git(repo, "rev-parse", "import/fleet^") == before[0]  # on top of the checkout
    assert git(repo, "show", "import/fleet:devices/kitchen.toml") == 'name = "kitchen"'
    assert git(repo, "show", "import/fleet:devices/hall.toml") == "imported"
    assert git(repo, "show", "import/fleet:README.md") == "fleet"  # the committed one
    assert git(repo, "log", "-1", "--format=%an %s", "import/fleet") == "Ann Import 2 devices"


def test_a_second_import_builds_on_the_branch_and_an_unchanged_one_adds_nothing(
    repo: Path,
) -> None:
    first = commit_to_branch(repo, "import", {"devices/a.toml": "a\n"}, "one")
    second = commit_to_branch(repo, "import", {"devices/b.toml": "b\n"}, "two")
    assert second is not None and git(repo, "rev-parse", "import^") == first
    assert git(repo, "show", "import:devices/a.toml") == "a"
    assert commit_to_branch(repo, "import", {"devices/b.toml": "b\n"}, "three") is None
    assert git(repo, "rev-parse", "import") == second


def test_refusals_are_one_line(tmp_path: Path, repo: Path) -> None:
    with pytest.raises(GitProblem, match="is not a Git working tree"):
        commit_to_branch(tmp_path, "x", {"a": "b"}, "m")
    with pytest.raises(GitProblem, match="is not a folder"):
        write_files(tmp_path / "missing", {"a": "b"})
    with pytest.raises(GitProblem, match="not a valid branch name"):
        commit_to_branch(repo, "bad..name", {"a": "b"}, "m")
    with pytest.raises(GitProblem, match="not a path inside"):
        commit_to_branch(repo, "ok", {"../escape.toml": "b"}, "m")
    assert git(repo, "branch", "--list", "ok") == ""


def test_without_a_branch_the_files_go_into_the_working_tree(repo: Path) -> None:
    written = write_files(repo, {"fleet/devices/porch.toml": "porch\n"})
    assert written == [repo / "fleet" / "devices" / "porch.toml"]
    assert written[0].read_text() == "porch\n"


def test_a_branch_moved_during_the_import_is_not_overwritten(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hearth.cli.gitcommit as gitcommit

    commit_to_branch(repo, "import", {"devices/a.toml": "a\n"}, "one")
    real = gitcommit._git

    def someone_pushes_first(repo_: Path, *args: str, **kwargs: object) -> str:
        if args[0] == "commit-tree":  # between reading the branch and moving it
            tree = real(repo_, "rev-parse", "import^{tree}")
            theirs = real(repo_, "commit-tree", tree, "-p", "import", "-m", "theirs")
            real(repo_, "update-ref", "refs/heads/import", theirs)
        return real(repo_, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gitcommit, "_git", someone_pushes_first)
    with pytest.raises(GitProblem, match="branch import changed while importing"):
        commit_to_branch(repo, "import", {"devices/b.toml": "b\n"}, "two")
    assert git(repo, "log", "-1", "--format=%s", "import") == "theirs"
