"""The sha256/size/mode manifest of a remote tree, from one shell command.

The command prints NUL-terminated records, so file names with spaces, newlines or any
UTF-8 survive: ``S<size> <mode> ./<path>`` from GNU ``stat --printf`` and
``<sha256>  ./<path>`` from ``sha256sum --zero`` (which also turns off its name escaping).
Ignored trees are pruned in ``find`` so a multi-gigabyte ``.storage/`` is never hashed;
the ignore rules are applied again in Python, which is authoritative.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from hearth_deployer.domain.paths import is_ignored
from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote.confine import STAGING_PREFIX, TEMP_PREFIX

#: Exit status the manifest script uses when the root directory is missing.
ROOT_MISSING_STATUS = 3
_GLOB_CHARACTERS = set("*?[]\\")
_UNSUPPORTED_MARKERS = (
    "not found",
    "unrecognized option",
    "unknown option",
    "invalid option",
    "illegal option",
)


def _find_filters(ignore: Iterable[str]) -> tuple[list[str], list[str]]:
    """``find`` expressions that prune ignored directories and skip ignored files.

    Only patterns whose ``find`` meaning equals :func:`is_ignored`'s are translated; the
    rest are left to the Python filter (correct, merely slower).
    """
    prune: list[str] = ["-name", f"{STAGING_PREFIX}*"]
    skip: list[str] = ["!", "-name", f"{TEMP_PREFIX}*"]
    for pattern in ignore:
        if pattern.endswith("/"):
            prefix = pattern.rstrip("/")
            if not prefix or _GLOB_CHARACTERS & set(prefix):
                continue  # is_ignored compares directory prefixes literally
            prune += ["-o", "-path", f"./{prefix}"] if "/" in prefix else ["-o", "-name", prefix]
        elif "[" not in pattern:  # bracket classes differ between fnmatch(3) and Python
            skip += ["!", "-path", f"./{pattern}"] if "/" in pattern else ["!", "-name", pattern]
    return prune, skip


def manifest_command(real_root: str, ignore: Iterable[str]) -> str:
    prune, skip = _find_filters(ignore)
    find = [
        "find",
        ".",
        "-type",
        "d",
        "(",
        *prune,
        ")",
        "-prune",
        "-o",
        "-type",
        "f",
        *skip,
        "-print0",
    ]
    per_batch = 'stat --printf "S%s %a %n\\0" -- "$@" && sha256sum --zero -- "$@"'
    return (
        f"cd -- {shlex.quote(real_root)} || exit {ROOT_MISSING_STATUS}; "
        f"{shlex.join(find)} | xargs -0r sh -c {shlex.quote(per_batch)} sh"
    )


def command_unsupported(exit_status: int, stderr: str) -> bool:
    """True when the target lacks the GNU tools the command needs (BusyBox, BSD)."""
    lowered = stderr.lower()
    return exit_status == 127 or any(marker in lowered for marker in _UNSUPPORTED_MARKERS)


class ManifestParseError(ValueError):
    pass


def _relative(name: bytes) -> str:
    text = name.decode("utf-8", "surrogateescape")
    if not text.startswith("./"):
        raise ManifestParseError(f"unexpected path in manifest output: {text!r}")
    return text[2:]


def parse_manifest_output(output: bytes, ignore: Iterable[str]) -> dict[str, FileEntry]:
    patterns = tuple(ignore)
    stats: dict[str, tuple[int, int]] = {}
    hashes: dict[str, str] = {}
    records = output.split(b"\0")
    if records and records[-1] == b"":
        records.pop()  # the terminator of the last record
    for record in records:
        if record.startswith(b"S"):
            size, mode, name = record[1:].split(b" ", 2)
            stats[_relative(name)] = (int(size), int(mode, 8))
        else:
            digest, marker, name = record[:64], record[64:66], record[66:]
            if len(digest) != 64 or marker not in (b"  ", b" *"):
                raise ManifestParseError(f"unexpected manifest record: {record[:80]!r}")
            hashes[_relative(name)] = digest.decode("ascii")
    if stats.keys() != hashes.keys():
        # A file appeared or vanished between stat and sha256sum: the caller retries.
        raise ManifestParseError("the tree changed while it was being read")
    return {
        path: FileEntry(path, hashes[path], size, mode)
        for path, (size, mode) in sorted(stats.items())
        if not is_managed_internal(path) and not is_ignored(path, patterns)
    }


#: What both prefixes begin with: a path without it is no work file (the usual case, found
#: without splitting the path).
_WORK_MARK = ".hearth-"
assert TEMP_PREFIX.startswith(_WORK_MARK) and STAGING_PREFIX.startswith(_WORK_MARK)


def is_managed_internal(path: str) -> bool:
    """Hearth's own work files (temporary uploads, restore staging) are never content."""
    if _WORK_MARK not in path:
        return False
    parts = path.split("/")
    return parts[-1].startswith(TEMP_PREFIX) or any(p.startswith(STAGING_PREFIX) for p in parts)
