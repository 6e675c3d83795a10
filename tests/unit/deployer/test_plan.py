import hashlib
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.domain import plan as plan_module
from hearth_deployer.domain.plan import FileEntry, local_manifest, plan_changes, unified_diff


def entry(path: str, content: str, mode: int = 0o644) -> FileEntry:
    import hashlib

    data = content.encode()
    return FileEntry(path, hashlib.sha256(data).hexdigest(), len(data), mode)


def test_added_changed_removed_and_unchanged_files_are_told_apart() -> None:
    local = {p: entry(p, c) for p, c in {"a.yaml": "new", "b.yaml": "same", "c.yaml": "x"}.items()}
    remote = {
        "b.yaml": entry("b.yaml", "same"),
        "c.yaml": entry("c.yaml", "old"),
        "gone.yaml": entry("gone.yaml", "bye"),
        "users-own.txt": entry("users-own.txt", "mine"),
    }
    plan = plan_changes(local, remote, deployed_before={"b.yaml", "c.yaml", "gone.yaml"}, ignore=())
    assert [e.path for e in plan.added] == ["a.yaml"]
    assert [e.path for e in plan.changed] == ["c.yaml"]
    assert [e.path for e in plan.removed] == ["gone.yaml"]  # users-own.txt is not Hearth's
    assert plan.unchanged == 1
    assert plan.touched == ["a.yaml", "c.yaml", "gone.yaml"]


def test_a_mode_change_is_a_change() -> None:
    plan = plan_changes(
        {"run.sh": entry("run.sh", "x", 0o755)},
        {"run.sh": entry("run.sh", "x", 0o644)},
        deployed_before=set(),
        ignore=(),
    )
    assert [e.path for e in plan.changed] == ["run.sh"]


def test_ignored_paths_are_never_planned() -> None:
    plan = plan_changes(
        {"secrets.yaml": entry("secrets.yaml", "new")},
        {
            "secrets.yaml": entry("secrets.yaml", "old"),
            ".storage/auth": entry(".storage/auth", "x"),
        },
        deployed_before={".storage/auth"},
        ignore=("secrets.yaml", ".storage/"),
    )
    assert plan.empty


def test_local_manifest_hashes_files_and_keeps_the_executable_bit(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("x")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    manifest = local_manifest(tmp_path, ["a.yaml", "run.sh"])
    assert manifest["a.yaml"] == entry("a.yaml", "x")
    assert manifest["run.sh"].mode == 0o755


def test_the_diff_shows_text_changes_and_names_binary_ones(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("homeassistant:\n  name: New\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\0\0")
    old = {"configuration.yaml": b"homeassistant:\n  name: Old\n", "gone.yaml": b"x: 1\n"}
    local = local_manifest(tmp_path, ["configuration.yaml", "logo.png"])
    remote = {
        "configuration.yaml": entry("configuration.yaml", old["configuration.yaml"].decode()),
        "gone.yaml": entry("gone.yaml", "x: 1\n"),
    }
    plan = plan_changes(local, remote, deployed_before={"gone.yaml"}, ignore=())
    diff, truncated = unified_diff(plan, tmp_path, old.get)
    assert not truncated
    assert "--- a/configuration.yaml\n+++ b/configuration.yaml\n" in diff
    assert "-  name: Old\n+  name: New\n" in diff
    assert "Binary files a/logo.png and b/logo.png differ" in diff
    assert "--- a/gone.yaml\n+++ /dev/null\n" in diff


def test_a_huge_diff_is_truncated_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("".join(f"line {i}\n" for i in range(20000)))
    plan = plan_changes(
        local_manifest(tmp_path, ["big.yaml"]), {}, deployed_before=set(), ignore=()
    )
    diff, truncated = unified_diff(plan, tmp_path, lambda _: None, limit=1000)
    assert truncated and diff == ""


def test_a_file_too_big_to_diff_is_never_read(tmp_path: Path) -> None:
    # The entry says 2 MB; there is no file at all: reading it would fail.
    big = FileEntry("sounds/door.mp3", "0" * 64, 2 * 1024 * 1024, 0o644)
    plan = plan_changes({big.path: big}, {}, deployed_before=set(), ignore=())
    diff, _ = unified_diff(plan, tmp_path, lambda _: None)
    assert diff == "Binary files a/sounds/door.mp3 and b/sounds/door.mp3 differ\n"


def test_local_files_are_hashed_in_chunks(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "image.jpg").write_bytes(bytes(range(256)) * 4096)
    monkeypatch.setattr(plan_module, "HASH_CHUNK", 4096)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} read whole"))
    manifest = local_manifest(tmp_path, ["image.jpg"])
    assert manifest["image.jpg"].size == 256 * 4096
    assert manifest["image.jpg"].sha256 == hashlib.sha256(bytes(range(256)) * 4096).hexdigest()
