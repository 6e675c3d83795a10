"""Cached commit trees handed to deployments: one tree, however many targets read it.

Both sources keep each commit's tree once per (repository, subdirectory) in a folder of
its own (:mod:`hearth_deployer.adapters.treecache`): plain Git builds it from the mirror,
GitHub extracts it from the commit's tarball. A deployment gets a symbolic link to it
at its ``dest``, and the tree is kept from pruning until :meth:`SharedTrees.release`:
the twenty targets of one push read one tree, fetched once, with no copy each.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from hearth_deployer.adapters import treecache, treeio
from hearth_deployer.domain.plan import FileEntry


class SharedTrees:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}
        #: The cached tree each handed-out ``dest`` links to, kept from pruning until released.
        self._pins: dict[Path, tuple[Path, str]] = {}
        self._manifests = _Manifests()

    def key_dir(self, *key: str) -> Path:
        """The folder of one repository's and subdirectory's trees."""
        return self.root / hashlib.sha256("\0".join(key).encode()).hexdigest()[:20]

    def lock(self, name: str) -> asyncio.Lock:
        """One lock per repository: a push's targets wait for the first one's fetch, then
        find its tree."""
        return self._locks.setdefault(name, asyncio.Lock())

    def cached(self, key_dir: Path, commit: str) -> bool:
        """Whether ``commit``'s tree is kept whole; if so, it is marked as used now."""
        if not treecache.has_tree(key_dir, commit):
            return False
        treecache.touch(key_dir, commit)
        return True

    def hand_out(self, key_dir: Path, commit: str, dest: Path) -> Handed:
        """Link ``dest`` to the cached tree, pinned until :meth:`release`; what is known of
        it (its manifest the caller's own copy)."""
        kept = self._manifests.get(key_dir, commit)
        self.release(dest)
        _link(dest, key_dir / commit)
        self._pins[dest] = (key_dir, commit)
        return Handed(dict(kept.manifest), kept.paths, kept.size)

    async def prune(self, key_dir: Path, *keep: str | None) -> None:
        """Drop the oldest trees but ``keep`` and every tree a deployment still reads."""
        pinned = [c for k, c in self._pins.values() if k == key_dir]
        kept = [c for c in (*keep, *pinned) if c]
        await asyncio.to_thread(treecache.prune_trees, key_dir, kept)

    def release(self, dest: Path) -> None:
        self._pins.pop(dest, None)


def _link(dest: Path, tree: Path) -> None:
    """``dest`` as a symbolic link to ``tree``, replacing whatever was there."""
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(tree, dest, target_is_directory=True)


@dataclass(frozen=True)
class Handed:
    """A cached tree as handed out: its manifest, every regular file of it (a symlink to
    one included, sorted: what a walk of it finds), and their bytes."""

    manifest: dict[str, FileEntry]
    paths: tuple[str, ...]
    size: int


class _Manifests:
    """What is known of each cached tree, read once (a commit's tree never changes): its
    manifest, its files as a walk finds them, their size."""

    KEPT = 16

    def __init__(self) -> None:
        self._read: OrderedDict[tuple[Path, str], Handed] = OrderedDict()

    def get(self, key_dir: Path, commit: str) -> Handed:
        found = self._read.get((key_dir, commit))
        if found is None:
            manifest = treecache.load_manifest(key_dir / f"{commit}.json")
            assert manifest is not None
            paths = tuple(treeio.tree_files(key_dir / commit))
            found = Handed(manifest, paths, sum(e.size for e in manifest.values()))
            self._read[(key_dir, commit)] = found
            while len(self._read) > self.KEPT:
                self._read.popitem(last=False)
        else:
            self._read.move_to_end((key_dir, commit))
        return found
