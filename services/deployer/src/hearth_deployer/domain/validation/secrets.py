"""``!secret`` names as Home Assistant looks them up.

Home Assistant looks for a name in ``secrets.yaml`` beside the file that uses it, then in
each parent folder up to the configuration directory. The tree's own ``secrets.yaml`` files
are read here; when the tree has none at its root, the names of the target's are used
(None: they could not be read, so a name found nowhere else cannot be judged).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from hearth_events.catalogue import ValidationIssue

SECRETS_FILE = "secrets.yaml"


@dataclass(frozen=True)
class SecretNames:
    by_folder: dict[str, set[str] | None]  # "" is the root; None: names unknown

    def lookup(self, rel: str, name: str) -> tuple[bool | None, list[str]]:
        """Whether ``name`` is defined for the file ``rel`` (None: cannot tell), and the
        secrets files consulted, nearest first."""
        consulted = []
        unknown = False
        folder = PurePosixPath(rel).parent
        while True:
            key = "" if str(folder) == "." else str(folder)
            if key in self.by_folder:
                consulted.append(f"{key}/{SECRETS_FILE}" if key else SECRETS_FILE)
                names = self.by_folder[key]
                if names is None:
                    unknown = True
                elif name in names:
                    return True, consulted
            if not key:
                break
            folder = folder.parent
        return (None if unknown else False), consulted


def read_secret_names(
    root: Path, present: set[str], from_target: set[str] | None
) -> tuple[SecretNames, list[ValidationIssue]]:
    by_folder: dict[str, set[str] | None] = {"": from_target}
    problems = []
    for rel in sorted(present):
        if PurePosixPath(rel).name != SECRETS_FILE:
            continue
        folder = str(PurePosixPath(rel).parent)
        names, problem = _names_in(root, rel)
        by_folder["" if folder == "." else folder] = names
        if problem is not None:
            problems.append(problem)
    return SecretNames(by_folder), problems


def _names_in(root: Path, rel: str) -> tuple[set[str], ValidationIssue | None]:
    try:
        loaded = yaml.safe_load((root / rel).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return set(), None  # the YAML check reports the syntax error itself
    if loaded is None:
        return set(), None
    if not isinstance(loaded, dict):
        return set(), ValidationIssue(
            path=rel,
            line=1,
            column=1,
            message=f"{SECRETS_FILE} must be a mapping of secret names to values",
        )
    return {str(key) for key in loaded}, None
