"""A change costs what changed: only its blobs are read from Git, and nothing is read whole."""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from hearth_deployer.adapters import sources, treecache, treeio
from hearth_deployer.adapters.sources import FetchError, GitMirrors
from hearth_events.catalogue import RepositorySpec
from tests.support.git import GitRemote, git, make_remote
from tests.support.spies import spy

pytestmark = pytest.mark.integration

KIB = 1024


def listing(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def test_a_one_file_change_reads_one_blob_and_reuses_the_rest(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "remote")
    files: dict[str, str | None] = {
        f"ha/packages/room-{n:02}.yaml": f"room: {n}\n" for n in range(40)
    }
    first = remote.commit(files | {"ha/old.yaml": "a: 1\n", "other/readme.md": "x\n"})
    remote.push()
    remote.commit({"ha/packages/room-07.yaml": "room: seven\n", "ha/old.yaml": None})
    remote.commit({"ha/new/added.yaml": "b: 2\n", "other/readme.md": "y\n"})
    second = remote.push()
    spec = RepositorySpec(name="alice/home", url=remote.url)
    mirrors = GitMirrors(tmp_path / "cache")
    fetch: dict[str, Any] = {"branch": "main", "subdirectory": "ha", "token": None}

    old = await mirrors.fetch(spec, commit=first, dest=tmp_path / "a", **fetch)
    assert (mirrors.reads.exports, mirrors.reads.blobs) == (1, 0)
    new = await mirrors.fetch(spec, commit=second, dest=tmp_path / "b", base=first, **fetch)

    assert (mirrors.reads.exports, mirrors.reads.blobs) == (1, 2)  # no second export
    assert new.base == first
    assert new.changed == ("new/added.yaml", "old.yaml", "packages/room-07.yaml")
    tree = listing(tmp_path / "b")
    assert tree["packages/room-07.yaml"] == b"room: seven\n"
    assert tree["new/added.yaml"] == b"b: 2\n" and "old.yaml" not in tree
    assert len(tree) == 41 and new.files == 41
    assert new.manifest is not None and set(new.manifest) == set(tree)
    for path, entry in new.manifest.items():
        assert entry.sha256 == hashlib.sha256(tree[path]).hexdigest()
    assert listing(tmp_path / "a")["packages/room-07.yaml"] == b"room: 7\n"  # untouched
    assert old.manifest is not None and len(old.manifest) == 41


async def test_big_files_are_copied_in_chunks_never_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(treeio, "CHUNK", 64 * KIB)
    remote = make_remote(tmp_path / "remote")
    sound = random.Random(1).randbytes(1024 * KIB + 17)
    (remote.work / "sounds").mkdir()
    (remote.work / "sounds" / "door.mp3").write_bytes(sound)
    git(remote.work, "add", "-A")
    remote.commit({"configuration.yaml": "homeassistant:\n"})
    first = remote.push()
    (remote.work / "sounds" / "door.mp3").write_bytes(sound[::-1])
    git(remote.work, "add", "-A")
    second = remote.commit({}, message="new sound")
    remote.push()
    spec = RepositorySpec(name="alice/home", url=remote.url)
    mirrors = GitMirrors(tmp_path / "cache")
    fetch: dict[str, Any] = {"branch": "main", "subdirectory": "", "token": None}

    await mirrors.fetch(spec, commit=first, dest=tmp_path / "a", **fetch)
    assert (tmp_path / "a" / "sounds" / "door.mp3").read_bytes() == sound
    assert 0 < mirrors.reads.largest_read <= 64 * KIB  # the export streamed
    await mirrors.fetch(spec, commit=second, dest=tmp_path / "b", base=first, **fetch)
    assert mirrors.reads.blobs == 1
    assert (tmp_path / "b" / "sounds" / "door.mp3").read_bytes() == sound[::-1]
    assert mirrors.reads.largest_read <= 64 * KIB  # and so did the changed blob


async def test_deletions_and_folders_turned_into_files_apply_like_a_full_export(
    tmp_path: Path,
) -> None:
    """A change deleting the last other file of a folder while modifying one in it, a
    folder that becomes a file and a file that becomes a folder: the incremental tree is
    exactly the tree a full export of the same commit gives."""
    remote = make_remote(tmp_path / "remote")
    first = remote.commit(
        {
            "conf/a.yaml": "a: 1\n",
            "conf/b.yaml": "b: 1\n",
            "was_dir/inside.yaml": "x: 1\n",
            "was_file": "y: 1\n",
            "keep.yaml": "k: 1\n",
        }
    )
    remote.push()
    second = remote.commit(
        {
            "conf/a.yaml": "a: 2\n",
            "conf/b.yaml": None,
            "was_dir/inside.yaml": None,
            "was_file": None,
        }
    )
    remote.commit({"was_dir": "now a file\n", "was_file/inside.yaml": "now a folder\n"})
    third = remote.push()
    spec = RepositorySpec(name="alice/home", url=remote.url)
    fetch: dict[str, Any] = {"branch": "main", "subdirectory": "", "token": None}
    mirrors = GitMirrors(tmp_path / "cache")
    await mirrors.fetch(spec, commit=first, dest=tmp_path / "first", **fetch)
    for n, (commit, base) in enumerate(((second, first), (third, first))):
        got = await mirrors.fetch(
            spec, commit=commit, dest=tmp_path / f"inc{n}", base=base, **fetch
        )
        whole = await GitMirrors(tmp_path / f"cache{n}").fetch(
            spec, commit=commit, dest=tmp_path / f"full{n}", **fetch
        )
        assert got.changed is not None  # it really was applied as a change
        assert listing(tmp_path / f"inc{n}") == listing(tmp_path / f"full{n}")
        assert got.manifest == whole.manifest


#: The fetch arguments of a whole repository's main branch.
WHOLE_TREE: dict[str, Any] = {"branch": "main", "subdirectory": "", "token": None}


def one_commit(
    tmp_path: Path, configuration: str
) -> tuple[GitRemote, str, RepositorySpec, GitMirrors]:
    """A remote with one pushed commit of ``configuration.yaml``, and fresh mirrors."""
    remote = make_remote(tmp_path / "remote")
    commit = remote.commit({"configuration.yaml": configuration})
    remote.push()
    return (
        remote,
        commit,
        RepositorySpec(name="alice/home", url=remote.url),
        GitMirrors(tmp_path / "cache"),
    )


async def test_targets_of_one_commit_read_one_cached_tree_kept_until_released(
    tmp_path: Path,
) -> None:
    """Each deployment's tree is a link to the one cached tree (no copy per target); a
    tree still read is never pruned, however many newer commits are fetched meanwhile,
    and is pruned once released."""
    remote, first, spec, mirrors = one_commit(tmp_path, "a: 0\n")
    fetch = WHOLE_TREE
    one = await mirrors.fetch(spec, commit=first, dest=tmp_path / "one" / "tree", **fetch)
    two = await mirrors.fetch(spec, commit=first, dest=tmp_path / "two" / "tree", **fetch)
    assert one.root.resolve() == two.root.resolve()  # the same tree, read by both
    assert listing(two.root) == {"configuration.yaml": b"a: 0\n"}

    newer = []
    for n in range(1, treecache.TREES_KEPT + 3):
        newer.append(remote.commit({"configuration.yaml": f"a: {n}\n"}))
        remote.push()
        await mirrors.fetch(spec, commit=newer[-1], dest=tmp_path / "other" / "tree", **fetch)
    assert listing(one.root) == {"configuration.yaml": b"a: 0\n"}  # still there
    mirrors.release(tmp_path / "one" / "tree")
    mirrors.release(tmp_path / "two" / "tree")
    remote.commit({"configuration.yaml": "a: last\n"})
    await mirrors.fetch(spec, commit=remote.push(), dest=tmp_path / "other" / "tree", **fetch)
    assert not one.root.exists()  # released, then pruned


async def test_a_commit_already_cached_is_fetched_without_git(tmp_path: Path) -> None:
    """A fan-out's second target (or a retried deployment) needs no Git at all: the
    repository can even be unreachable meanwhile."""
    remote, commit, spec, mirrors = one_commit(tmp_path, "a: 1\n")
    fetch = WHOLE_TREE
    await mirrors.fetch(spec, commit=commit, dest=tmp_path / "a" / "tree", **fetch)
    shutil.rmtree(remote.bare)  # the Git server is gone
    again = await mirrors.fetch(spec, commit=commit, dest=tmp_path / "b" / "tree", **fetch)
    assert listing(again.root) == {"configuration.yaml": b"a: 1\n"}
    with pytest.raises(FetchError):  # a branch still has to be asked for
        await mirrors.fetch(spec, commit=None, dest=tmp_path / "c" / "tree", **fetch)


async def test_targets_fetching_one_new_commit_together_run_git_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twenty targets of one push ask for its commit at the same moment: the first
    fetches it, the others wait for the mirror and then find its tree, without Git (each
    fetching again, one after another, made the twentieth begin 400 ms late)."""
    _, commit, spec, mirrors = one_commit(tmp_path, "a: 1\n")
    git_calls = spy(monkeypatch, sources, "_git")
    trees = await asyncio.gather(
        *(
            mirrors.fetch(spec, commit=commit, dest=tmp_path / f"t{n}" / "tree", **WHOLE_TREE)
            for n in range(5)
        )
    )
    assert [args[0] for args in git_calls] == ["clone", "rev-parse"]  # the first target's only
    assert {listing(tree.root)["configuration.yaml"] for tree in trees} == {b"a: 1\n"}


async def test_a_cached_commit_is_linked_without_building_or_pruning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nineteen targets after the first only link the tree and pin it, holding the
    mirror's lock for no thread's work (each one's build check and prune, in turn, kept
    the last target waiting 200 ms)."""
    _, commit, spec, mirrors = one_commit(tmp_path, "a: 1\n")
    await mirrors.fetch(spec, commit=commit, dest=tmp_path / "first" / "tree", **WHOLE_TREE)
    built = spy(monkeypatch, treecache, "ensure_tree")
    pruned = spy(monkeypatch, treecache, "prune_trees")
    again = await mirrors.fetch(spec, commit=commit, dest=tmp_path / "next" / "tree", **WHOLE_TREE)
    assert built == [] and pruned == []
    assert listing(again.root) == {"configuration.yaml": b"a: 1\n"}
    assert (again.base, again.changed) == (None, None)
