"""Ids in paths: a full id, or a unique prefix of one (as Git takes a short commit id).

Deployment ids are UUIDv7, whose first eight digits change only about once a minute, so a
prefix that is ambiguous is answered with the candidates to choose from, not a guess.
"""

from __future__ import annotations

from typing import Any

from hearth_query_api.entrypoints.api.framework import ApiError

MIN_PREFIX = 4
MAX_CANDIDATES = 10


async def resolve_deployment_id(conn: Any, given: str) -> str:
    """The one deployment id ``given`` names; 404 if none, 409 with candidates if several."""
    if await conn.fetchval("SELECT id FROM deployments WHERE id = $1", given) is not None:
        return given
    if len(given) < MIN_PREFIX:
        raise ApiError(
            400,
            "id too short",
            f"{given!r} is too short to name a deployment: give at least {MIN_PREFIX} "
            "characters of its id",
        )
    rows = await conn.fetch(
        "SELECT id, target, status, requested_at FROM deployments "
        "WHERE starts_with(id, $1) ORDER BY id LIMIT $2",
        given,
        MAX_CANDIDATES + 1,
    )
    if not rows:
        raise ApiError(404, "not found", f"no deployment {given!r}")
    if len(rows) == 1:
        found: str = rows[0]["id"]
        return found
    shown = rows[:MAX_CANDIDATES]
    more = " (and more)" if len(rows) > MAX_CANDIDATES else ""
    raise ApiError(
        409,
        "ambiguous id",
        f"{given!r} is the start of {len(shown)}{more} deployment ids; give more of it: "
        + ", ".join(r["id"] for r in shown),
        candidates=[
            {
                "id": r["id"],
                "target": r["target"],
                "status": r["status"],
                "requested_at": r["requested_at"].isoformat(),
            }
            for r in shown
        ],
    )
