"""API tokens in PostgreSQL: stored as SHA-256 hashes (``domain.tokens``), shown once when
created."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hearth_query_api.domain.tokens import PREFIX, Principal, TokenError, hash_token, new_token

__all__ = ["Principal", "TokenError", "authenticate", "create_token", "list_tokens", "revoke_token"]


async def create_token(conn: Any, name: str, role: str, created_by: str) -> str:
    token = new_token(name, role)
    inserted = await conn.fetchval(
        """INSERT INTO api_tokens (name, token_hash, role, created_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO NOTHING RETURNING name""",
        name,
        hash_token(token),
        role,
        created_by,
    )
    if inserted is None:
        raise TokenError(f"a token named {name!r} exists; revoke it first or pick another name")
    return token


LAST_USED_PRECISION = timedelta(minutes=1)


async def authenticate(conn: Any, token: str) -> Principal | None:
    if not token.startswith(PREFIX):
        return None
    row = await conn.fetchrow(
        """SELECT name, role, last_used_at < now() - $2::interval AS stale
           FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL""",
        hash_token(token),
        LAST_USED_PRECISION,
    )
    if row is None:
        return None
    if row["stale"] is not False:  # NULL (never used) or older than the precision
        # A write per request would serialise every request of one token on its row lock
        # and a commit: last use is kept to the minute.
        await conn.execute(
            "UPDATE api_tokens SET last_used_at = now() WHERE name = $1", row["name"]
        )
    return Principal(row["name"], row["role"])


async def list_tokens(conn: Any) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT name, role, created_at, created_by, revoked_at, last_used_at FROM api_tokens "
        "ORDER BY name"
    )
    return [dict(row) for row in rows]


async def revoke_token(conn: Any, name: str) -> datetime | None:
    revoked: datetime | None = await conn.fetchval(
        "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL "
        "RETURNING revoked_at",
        name,
    )
    return revoked
