"""Ids as people type them: unique prefixes in, short unambiguous prefixes out.

Deployment ids are UUIDv7: their first 12 hex digits are the millisecond they were made,
so deployments started together (one push to many targets) share a long prefix. Tables
therefore show each id as its shortest prefix (at least 8 characters) that no other id in
the table shares, without an ellipsis, so what is copied from a table can be pasted back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hearth.client import ApiClient

SHORT = 8
MIN_PREFIX = 4
FULL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PAGE = 200  # the API's largest page
CANDIDATES = 10  # an ambiguous prefix lists at most this many ids


class IdProblem(Exception):
    """A prefix that names no id, or more than one: one line, exit code 2."""


def short_ids(ids: Iterable[str]) -> dict[str, str]:
    """Each id's shortest prefix (at least ``SHORT`` long) unique among ``ids``."""
    unique = sorted(set(ids))
    shown = {}
    for i, full in enumerate(unique):
        length = SHORT
        for other in unique[max(i - 1, 0) : i + 2]:
            if other != full:
                common = next(
                    (n for n, (a, b) in enumerate(zip(full, other, strict=False)) if a != b),
                    min(len(full), len(other)),
                )
                length = max(length, common + 1)
        while length < len(full) and full[length - 1] == "-":
            length += 1
        shown[full] = full[:length]
    return shown


def match_prefix(given: str, candidates: Iterable[str], what: str) -> str | None:
    """The one candidate starting with ``given``; None if none; IdProblem if several."""
    if len(given) < MIN_PREFIX:
        raise IdProblem(
            f"{given!r} is too short: give at least {MIN_PREFIX} characters of the {what}"
        )
    found = sorted({c for c in candidates if c.startswith(given.lower()) or c.startswith(given)})
    if len(found) > 1:
        listed = ", ".join(short_ids(found).values())
        raise IdProblem(f"{given!r} matches {len(found)} {what}s: {listed}; give more characters")
    return found[0] if found else None


def _id_case(given: str) -> str:
    """Deployment ids are lower-case hex: ``0193AB4C`` is taken as ``0193ab4c``."""
    lower = given.lower()
    return lower if re.fullmatch(r"[0-9a-f-]+", lower) else given


async def resolve_deployment(client: ApiClient, given: str) -> str:
    """The full id of the deployment whose id starts with ``given``."""
    if FULL_UUID.fullmatch(given.lower()):
        return given.lower()
    match_prefix(given, (), "deployment id")  # refuses a too-short prefix before any request
    # The server keeps only the ids with this prefix: one small request, however many
    # deployments there are (it used to page through every one). A few are enough to say
    # which ones an ambiguous prefix matches.
    page: dict[str, Any] = await client.call(
        "GET", "/api/v1/deployments", id_prefix=_id_case(given), limit=CANDIDATES + 1
    )
    if len(page["items"]) > CANDIDATES:
        raise IdProblem(
            f"{given!r} matches more than {CANDIDATES} deployment ids; give more characters"
        )
    found = match_prefix(given, (d["id"] for d in page["items"]), "deployment id")
    if found is None:
        raise IdProblem(f"no deployment id starts with {given!r} (see `hearth deployments`)")
    return found


async def resolve_backup(client: ApiClient, target: str, given: str) -> str:
    """The full id of ``target``'s backup starting with ``given``, or ``given`` if none does.

    An unknown id is passed on unchanged, so that the API says what it makes of it.
    """
    listed = await client.call("GET", "/api/v1/backups", target=target, limit=PAGE)
    found = match_prefix(given, (b["backup_id"] for b in listed["items"]), "backup id")
    return found or given
