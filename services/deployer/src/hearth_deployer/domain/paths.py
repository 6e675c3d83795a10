"""Relative paths inside a deploy root, and the patterns a target never lets Hearth touch."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import PurePosixPath


class UnsafePath(ValueError):
    """A path that is absolute or climbs out of the deploy root."""


def safe_relative(path: str) -> str:
    """Normalise a repository-relative path; refuse absolute paths and ``..`` escapes."""
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise UnsafePath(f"{path}: absolute paths are not allowed")
    parts: list[str] = []
    for part in pure.parts:
        if part == "..":
            if not parts:
                raise UnsafePath(f"{path}: leaves the configuration root")
            parts.pop()
        elif part != ".":
            parts.append(part)
    if not parts:
        raise UnsafePath(f"{path!r} names the root itself")
    return "/".join(parts)


def is_ignored(path: str, patterns: Iterable[str]) -> bool:
    """True if ``path`` matches a pattern: ``dir/`` (a tree), a glob, or a plain name.

    A pattern without a slash matches the name in any directory, like ``.gitignore``.
    """
    for pattern in patterns:
        if pattern.endswith("/"):
            prefix = pattern.rstrip("/")
            if (
                path == prefix
                or path.startswith(prefix + "/")
                or ("/" not in prefix and f"/{prefix}/" in f"/{path}")
            ):
                return True
        elif "/" in pattern:
            if fnmatch.fnmatchcase(path, pattern):
                return True
        elif fnmatch.fnmatchcase(PurePosixPath(path).name, pattern):
            return True
    return False
