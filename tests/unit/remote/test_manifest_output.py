"""Parsing the NUL-separated manifest output, and the find command built for it."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest

from hearth_deployer.remote.manifest import (
    ManifestParseError,
    command_unsupported,
    is_managed_internal,
    manifest_command,
    parse_manifest_output,
)

DIGEST_A = hashlib.sha256(b"a").hexdigest()
DIGEST_B = hashlib.sha256(b"b").hexdigest()


def test_records_pair_up_by_path_whatever_the_names_contain() -> None:
    output = (
        b"S1 644 ./dir/with space\0"
        b"S1 755 ./new\nline \xe2\x98\x95\0"
        + DIGEST_A.encode()
        + b"  ./dir/with space\0"
        + DIGEST_B.encode()
        + b" *./new\nline \xe2\x98\x95\0"
    )
    manifest = parse_manifest_output(output, ())
    assert sorted(manifest) == ["dir/with space", "new\nline \u2615"]
    assert manifest["dir/with space"].sha256 == DIGEST_A
    assert manifest["new\nline \u2615"].mode == 0o755


def test_ignored_and_internal_paths_are_dropped() -> None:
    names = ["secrets.yaml", "a/.hearth-tmp-1f", ".hearth-restore-x/a", "keep.yaml"]
    output = b"".join(f"S1 644 ./{n}\0".encode() for n in names) + b"".join(
        f"{DIGEST_A}  ./{n}\0".encode() for n in names
    )
    assert list(parse_manifest_output(output, ("secrets.yaml",))) == ["keep.yaml"]


def test_a_file_that_vanished_between_stat_and_hash_asks_for_a_retry() -> None:
    output = b"S1 644 ./a\0S1 644 ./b\0" + f"{DIGEST_A}  ./a\0".encode()
    with pytest.raises(ManifestParseError, match="changed"):
        parse_manifest_output(output, ())


def test_empty_tree() -> None:
    assert parse_manifest_output(b"", ()) == {}


def test_unsupported_tools_are_recognised() -> None:
    assert command_unsupported(127, "sh: sha256sum: not found")
    assert command_unsupported(1, "stat: unrecognized option: printf")
    assert not command_unsupported(1, "sha256sum: ./a: Permission denied")


def test_the_command_runs_locally_and_prunes_ignored_trees(tmp_path: Path) -> None:
    """The same shell the target runs, on this machine's GNU tools."""
    (tmp_path / ".storage").mkdir()
    (tmp_path / ".storage" / "huge.db").write_bytes(b"x" * 10)
    (tmp_path / 'it\'s "quoted" $(x).yaml').write_bytes(b"a")
    (tmp_path / "secrets.yaml").write_bytes(b"s")
    command = manifest_command(str(tmp_path), (".storage/", "secrets.yaml", "*.db"))
    assert shlex.quote(str(tmp_path)) in command
    result = subprocess.run(["sh", "-c", command], capture_output=True, check=True)
    assert b".storage" not in result.stdout  # pruned in find, not just filtered later
    manifest = parse_manifest_output(result.stdout, (".storage/", "secrets.yaml"))
    assert list(manifest) == ['it\'s "quoted" $(x).yaml']
    assert manifest['it\'s "quoted" $(x).yaml'].sha256 == DIGEST_A


@pytest.mark.parametrize(
    ("path", "internal"),
    [
        ("a/.hearth-tmp-1f", True),
        (".hearth-tmp-x", True),
        (".hearth-restore-x/a/b.yaml", True),
        ("a/.hearth-restore-x/b.yaml", True),
        ("a/.hearth-tmp-1f/b.yaml", False),  # a folder of that name holds content
        ("a/x.hearth-tmp-1", False),
        ("a/.hearth-other", False),
        ("a/.hearth-", False),
        ("automations.yaml", False),
    ],
)
def test_work_files_are_found_by_their_prefix_wherever_the_mark_is(
    path: str, internal: bool
) -> None:
    """The fast check (no ``.hearth-`` in the path: no work file) agrees with the rule:
    a temporary upload is the last part, a restore's staging any folder."""
    assert is_managed_internal(path) is internal
