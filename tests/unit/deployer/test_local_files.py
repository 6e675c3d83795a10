"""The files a deployment manages, listed the fast way, are exactly the ones the plain
``rglob`` listing finds: dotfiles, nested folders, symlinks to files (counted), symlinked
folders (not entered), broken links and ignored paths."""

from __future__ import annotations

import os
from pathlib import Path

from hearth_deployer.domain.fetched import FetchedTree
from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.workflows.steps.planning import local_files

IGNORE = ("secrets.yaml", "*.log", ".storage/")


def reference(root: Path, ignore: tuple[str, ...]) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not is_ignored(p.relative_to(root).as_posix(), ignore)
    )


def test_the_listing_equals_rglob_on_a_tricky_tree(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    for path in (
        "configuration.yaml",
        ".hidden",
        "secrets.yaml",
        "automations/a.yaml",
        "automations/deep/b.yaml",
        "automations/deep/debug.log",
        ".storage/core.config",
        "packages/z.yaml",
        "packages/ä ö.yaml",
    ):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(path)
    (root / "empty").mkdir()
    os.symlink("configuration.yaml", root / "link.yaml")
    os.symlink("packages", root / "linked-folder")
    os.symlink("missing.yaml", root / "broken.yaml")
    os.mkfifo(root / "pipe")
    tree = FetchedTree("c" * 40, root, 0, 0)

    for ignore in ((), IGNORE):
        assert local_files(tree, ignore) == reference(root, ignore)
    assert local_files(tree, IGNORE) == [
        ".hidden",
        "automations/a.yaml",
        "automations/deep/b.yaml",
        "configuration.yaml",
        "link.yaml",
        "packages/z.yaml",
        "packages/ä ö.yaml",
    ]


def test_a_tree_whose_source_lists_its_files_is_not_walked(tmp_path: Path) -> None:
    """A kept commit's tree comes with its file list (one walk for a push's twenty
    targets): the deployment filters that list, and never walks the tree again."""
    listed = ("a.log", "automations/a.yaml", "configuration.yaml", "secrets.yaml")
    gone = FetchedTree("c" * 40, tmp_path / "never-there", 0, 0, paths=listed)
    assert local_files(gone, IGNORE) == ["automations/a.yaml", "configuration.yaml"]
    assert local_files(gone, ()) == list(listed)
