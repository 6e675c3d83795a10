"""rsync's quick check for a remote tree: list size, mode and mtime of every file in one
command, and hash only the files whose size or mtime differ from what was recorded.

``find -printf`` prints ``<size> <mode> <mtime> ./<path>\\0`` per file (the mtime with
its fraction, compared as the exact text GNU find prints); the files to hash are sent
NUL-separated on the standard input of ``xargs -0 sha256sum --zero``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from hearth_deployer.domain.paths import matcher
from hearth_deployer.domain.plan import FileEntry
from hearth_deployer.remote.confine import confine
from hearth_deployer.remote.errors import RemoteCommandFailed, RemotePathError
from hearth_deployer.remote.manifest import (
    ROOT_MISSING_STATUS,
    ManifestParseError,
    _find_filters,
    _relative,
    command_unsupported,
    is_managed_internal,
)
from hearth_deployer.remote.port import (
    CheckedTree,
    FileStat,
    Known,
    QuickCheckUnsupported,
    listing_digest,
)
from hearth_deployer.remote.session import SSHSession
from hearth_deployer.remote.sftperrors import command_error

__all__ = ["CheckedTree", "FileStat", "Known", "QuickCheckUnsupported", "checked_manifest"]

_ATTEMPTS = 3


def stat_command(real_root: str, ignore: Iterable[str]) -> str:
    prune, skip = _find_filters(ignore)
    find = [
        "find", ".", "-type", "d", "(", *prune, ")", "-prune", "-o",
        "-type", "f", *skip, "-printf", "%s %m %T@ %p\\0",
    ]  # fmt: skip
    return f"cd -- {shlex.quote(real_root)} || exit {ROOT_MISSING_STATUS}; {shlex.join(find)}"


def paths_stat_command(real_root: str, root: str, paths: Sequence[str]) -> str:
    """:func:`stat_command`'s records for ``paths`` only (confined, relative): a path that
    is missing or not a regular file is left out, never an error (the record it feeds is
    a cache; a file left out is hashed at the next check)."""
    named = [f"./{confine(p, root)}" for p in paths]
    find = ["find", *named, "-maxdepth", "0", "-type", "f", "-printf", "%s %m %T@ %p\\0"]
    return (
        f"cd -- {shlex.quote(real_root)} || exit {ROOT_MISSING_STATUS}; "
        f"{shlex.join(find)} 2>/dev/null; exit 0"
    )


def hash_command(real_root: str) -> str:
    return (
        f"cd -- {shlex.quote(real_root)} || exit {ROOT_MISSING_STATUS}; "
        "xargs -0r sha256sum --zero --"
    )


def parse_stats(output: bytes, ignore: Iterable[str]) -> dict[str, FileStat]:
    ignored = matcher(tuple(ignore))
    stats = {}
    for record in output.split(b"\0"):
        if not record:
            continue
        size, mode, mtime, name = record.split(b" ", 3)
        path = _relative(name)
        if is_managed_internal(path) or ignored(path):
            continue
        stats[path] = FileStat(int(size), int(mode, 8), mtime.decode("ascii"))
    return dict(sorted(stats.items()))


def parse_hashes(output: bytes) -> dict[str, str]:
    hashes = {}
    for record in output.split(b"\0"):
        if not record:
            continue
        digest, marker, name = record[:64], record[64:66], record[66:]
        if len(digest) != 64 or marker not in (b"  ", b" *"):
            raise ManifestParseError(f"unexpected hash record: {record[:80]!r}")
        hashes[_relative(name)] = digest.decode("ascii")
    return hashes


def raw_digest(output: bytes) -> str:
    """:func:`.port.listing_digest` of ``find``'s output as it came, unparsed."""
    return listing_digest(record for record in output.split(b"\0") if record)


async def checked_manifest(
    host: SSHSession,
    root: str,
    ignore: Iterable[str],
    known: dict[str, Known],
    previous: CheckedTree | None = None,
) -> CheckedTree:
    """The manifest of ``root``, hashing only files whose size or mtime differ from
    ``known`` (pass ``{}`` for a full re-hash); ``previous`` again when the listing is
    still its own (see :meth:`.port.RemoteHost.checked_manifest`): the listing is then
    only hashed, not parsed. Retries when the tree changes meanwhile."""
    patterns = tuple(ignore)
    async with host.pool.sftp(host.target) as sftp:
        real_root = await host.resolve_root(sftp, root)
    for _ in range(_ATTEMPTS):
        listing = await _run(host, root, stat_command(real_root, patterns))
        digest = raw_digest(listing)
        if previous is not None and previous.listing == digest:
            return previous.unchanged()
        before = parse_stats(listing, patterns)
        hashes: dict[str, str] = {}
        stale = []
        for path, found in before.items():
            seen = known.get(path)
            if seen is not None and (seen.size, seen.mtime) == (found.size, found.mtime):
                hashes[path] = seen.sha256
            else:
                stale.append(path)
        if stale:
            names = b"".join(f"./{p}".encode("utf-8", "surrogateescape") + b"\0" for p in stale)
            result = await host.run_raw(hash_command(real_root), stdin=names)
            if result.exit_status != 0:
                continue  # a file vanished between the listing and the hash: list again
            fresh = parse_hashes(result.stdout)
            if fresh.keys() != set(stale):
                continue
            after = parse_stats(await _run(host, root, stat_command(real_root, patterns)), patterns)
            if any(after.get(p) != before[p] for p in stale):
                continue  # a hashed file changed while it was read
            hashes.update(fresh)
        entries = {
            path: FileEntry(path, hashes[path], found.size, found.mode)
            for path, found in before.items()
        }
        return CheckedTree(entries, before, stale, digest)
    raise RemotePathError(
        f"the tree under {root} on {host.label} kept changing while read", path=root
    )


async def _run(host: SSHSession, root: str, command: str) -> bytes:
    result = await host.run_raw(command)
    if result.exit_status == 0:
        return result.stdout
    stderr = result.stderr.decode("utf-8", "replace")
    if command_unsupported(result.exit_status, stderr):
        raise QuickCheckUnsupported(stderr.strip())
    if result.exit_status == ROOT_MISSING_STATUS:
        raise RemotePathError(f"{root} vanished on {host.label}", path=root)
    raise command_error(
        stderr, root, host=host.label, user=host.target.user, action="read"
    ) or RemoteCommandFailed(
        "find (quick check)", host=host.label, exit_status=result.exit_status, stderr=stderr
    )
