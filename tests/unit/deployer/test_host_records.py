"""The host records: read from disk only when their file changed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from hearth_deployer.adapters.records import HostRecord, HostRecords
from hearth_deployer.adapters.sharedrecords import MemorySharedRecords
from hearth_deployer.remote.port import CheckedTree, Known

RECORD = HostRecord("/srv/config", 100.0, {"a.yaml": Known(3, "1.5", "ab" * 32)})


def test_a_record_written_here_is_not_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = HostRecords(tmp_path)
    records.save("pi", RECORD)
    for read in ("read_text", "read_bytes"):
        monkeypatch.setattr(Path, read, lambda *a, **k: pytest.fail("read again"))
    assert records.load("pi", "/srv/config") == RECORD
    assert records.load("pi", "/elsewhere") is None  # another root: no record


def test_a_record_replaced_on_disk_is_read_again(tmp_path: Path) -> None:
    records = HostRecords(tmp_path)
    records.save("pi", RECORD)
    assert records.load("pi", "/srv/config") == RECORD
    other = HostRecords(tmp_path)  # another process's deployer, say
    changed = HostRecord("/srv/config", 200.0, {"b.yaml": Known(1, "2.0", "cd" * 32)})
    other.save("pi", changed)
    assert records.load("pi", "/srv/config") == changed
    path = next(tmp_path.glob("pi.json"))
    data = json.loads(path.read_text())
    data["root"] = "/moved"
    path.write_text(json.dumps(data))  # written in place, as by hand
    assert records.load("pi", "/srv/config") is None
    assert records.load("pi", "/moved") is not None


def test_a_caller_changing_its_record_changes_no_other(tmp_path: Path) -> None:
    records = HostRecords(tmp_path)
    records.save("pi", RECORD)
    mine = records.load("pi", "/srv/config")
    assert mine is not None
    mine.files.clear()
    assert records.load("pi", "/srv/config") == RECORD
    records.forget("pi")
    assert records.load("pi", "/srv/config") is None


def test_a_record_an_earlier_version_wrote_is_read_and_a_broken_one_is_none(
    tmp_path: Path,
) -> None:
    """Records on disk outlive an upgrade: the JSON ``json.dumps`` wrote (spaced, lists,
    keys in any order) reads as before; a broken file is no record (a full check)."""
    (tmp_path / "pi.json").write_text(
        json.dumps(
            {
                "files": {"a.yaml": [3, "1.5", "ab" * 32]},
                "root": "/srv/config",
                "full_check_at": 100.0,
            }
        )
    )
    assert HostRecords(tmp_path).load("pi", "/srv/config") == RECORD
    (tmp_path / "pi.json").write_text('{"root": "/srv/config", "files": {')
    assert HostRecords(tmp_path).load("pi", "/srv/config") is None


def test_the_tree_saved_with_a_record_is_kept_for_its_root_until_forgotten(
    tmp_path: Path,
) -> None:
    """What the next quick check starts from (``previous``): only what this process
    saved, for the root and the ignore patterns it was saved for."""
    tree = CheckedTree({}, {}, [], "ab" * 32)
    ignore = ("*.log", "[ab].yaml")
    records = HostRecords(tmp_path)
    assert records.tree("pi", "/srv/config", ignore) is None
    records.save("pi", RECORD, tree, ignore)
    assert records.tree("pi", "/srv/config", ignore) is tree
    assert records.tree("pi", "/elsewhere", ignore) is None
    assert records.tree("pi", "/srv/config", ("*.log",)) is None  # other patterns
    assert HostRecords(tmp_path).tree("pi", "/srv/config", ignore) is None  # a restart
    records.save("pi", RECORD)  # a record with no whole tree: none kept
    assert records.tree("pi", "/srv/config", ()) is None
    records.save("pi", RECORD, tree, ignore)
    records.forget("pi")
    assert records.tree("pi", "/srv/config", ignore) is None


def test_a_record_names_the_deployment_that_wrote_it_and_an_affirmation_renames_it(
    tmp_path: Path,
) -> None:
    """Which deployment left the host as recorded is kept across restarts (a record from
    before it was kept names none); a deployment that ended without touching the host
    renames the record it found, with its tree, and changes no copy a caller holds."""
    tree = CheckedTree({}, {}, [], "ab" * 32)
    records = HostRecords(tmp_path)
    records.save("pi", replace(RECORD, deployment_id="d1"), tree, ("*.log",))
    assert HostRecords(tmp_path).load("pi", "/srv/config") == replace(RECORD, deployment_id="d1")
    found = records.load("pi", "/srv/config")
    assert found is not None
    records.affirm("pi", found, "d2")
    assert found.deployment_id == "d1"
    assert HostRecords(tmp_path).load("pi", "/srv/config") == replace(RECORD, deployment_id="d2")
    assert records.tree("pi", "/srv/config", ("*.log",)) is tree


def test_a_record_shared_by_another_instance_is_taken_only_for_the_deployment_asked(
    tmp_path: Path,
) -> None:
    shared = MemorySharedRecords()
    mine = HostRecords(tmp_path / "a", shared)
    theirs = HostRecords(tmp_path / "b", shared)
    record = replace(RECORD, deployment_id="d1")
    mine.share("pi", "d1", mine.save("pi", record))
    assert theirs.load_shared("pi", "/srv/config", "d2") is None  # a later one ended
    assert theirs.load_shared("pi", "/elsewhere", "d1") is None  # another root
    assert theirs.load_shared("nas", "/srv/config", "d1") is None  # nothing shared
    assert theirs.load_shared("pi", "/srv/config", "d1") == record
    assert HostRecords(tmp_path / "b").load("pi", "/srv/config") == record  # kept there
    shared.save("pi", "d3", b"{not json")
    assert theirs.load_shared("pi", "/srv/config", "d3") is None
    assert HostRecords(tmp_path / "c").load_shared("pi", "/srv/config", "d1") is None
