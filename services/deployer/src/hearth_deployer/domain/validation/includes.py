"""Where an include tag points, as Home Assistant resolves it, mapped onto the deployed tree.

Home Assistant joins an include's value to the folder of the file that holds it
(``os.path.join``): a relative value climbs from there, an absolute value stands on its own.
The tree being validated is what Home Assistant sees as its configuration directory: on the
host that is the target's ``remote_path``, and inside Home Assistant OS or the container
image it is ``/config``. An absolute value under one of these roots is mapped back onto the
tree and checked there; anything else cannot be deployed by Hearth and is refused.

``!include_dir_*`` reads every ``*.yaml`` below the folder, recursively, skipping names
that start with a dot and ``secrets.yaml``; Home Assistant expands no other wildcards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from posixpath import normpath

from hearth_deployer.domain.paths import UnsafePath, safe_relative

WILDCARDS = ("*", "?", "[")


@dataclass(frozen=True)
class Candidate:
    """One tree path an include may mean; ``root`` is the configuration root it was
    mapped through (None for a relative value). ``path`` is "" for the root itself."""

    path: str
    root: str | None = None


class Refused(Exception):
    """The include cannot name anything Hearth deploys; the message says why."""


def resolve(including: str, value: str, roots: tuple[str, ...]) -> list[Candidate]:
    """The tree paths ``value``, written in the tree file ``including``, may name.

    An absolute value under several roots (say ``/srv/ha`` and ``/srv``) has one candidate
    per root, innermost root first; the caller takes the first that exists.
    """
    if not PurePosixPath(value).is_absolute():
        base = PurePosixPath(including).parent
        try:
            return [Candidate(safe_relative(str(base / value)))]
        except UnsafePath:
            raise Refused("leaves the configuration directory") from None
    wanted = normpath(value)
    found = []
    for root in sorted({normpath(r) for r in roots}, key=len, reverse=True):
        if wanted == root:
            found.append(Candidate("", root))
        elif wanted.startswith(root.rstrip("/") + "/"):
            found.append(Candidate(wanted[len(root.rstrip("/")) + 1 :], root))
    if found:
        return found
    if not roots:
        raise Refused("an absolute path, and this target declares no configuration directory")
    raise Refused(
        "outside the configuration directory Home Assistant sees; tried "
        f"{', '.join(sorted({normpath(r) for r in roots}))} (list the folder Home Assistant "
        "uses as its configuration directory under the target's config_roots)"
    )


def describe(candidate: Candidate, repo_prefix: str) -> str:
    """How a message names a mapped path: as it lies in the repository, and via which root."""
    if candidate.root is None:
        return candidate.path or "the configuration directory"
    inside = "/".join(p for p in (repo_prefix.strip("/"), candidate.path) if p)
    return f"{inside or 'the repository root'} in the repository (through {candidate.root})"


def has_yaml_below(directory: str, files: set[str]) -> bool:
    """True if Home Assistant's ``!include_dir_*`` would load at least one file here."""
    prefix = f"{directory}/" if directory else ""
    for path in files:
        if not path.startswith(prefix) or not path.endswith(".yaml"):
            continue
        below = path[len(prefix) :].split("/")
        if not any(part.startswith(".") for part in below) and below[-1] != "secrets.yaml":
            return True
    return False


def wildcard_hint(value: str) -> str:
    if any(w in value for w in WILDCARDS):
        return (
            "; Home Assistant expands no wildcards in include paths: name one file, or "
            "include a folder with !include_dir_merge_list or !include_dir_merge_named"
        )
    return ""
