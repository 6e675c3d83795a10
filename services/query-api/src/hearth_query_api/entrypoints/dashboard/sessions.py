"""Dashboard sign-in: a token becomes a server-side session behind an HttpOnly cookie.

The cookie holds a random session id; only its SHA-256 is stored, beside the token's name
and a per-session CSRF token. A session ends when it expires, on sign-out, or as soon as
its token is revoked (every lookup joins the live token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hearth_query_api.adapters.tokens import authenticate
from hearth_query_api.domain.tokens import Principal

COOKIE = "hearth_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
TTL = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def open_session(conn: Any, token: str) -> tuple[str, Session] | None:
    """A new session for a valid token: (cookie value, session); None for a bad token."""
    principal = await authenticate(conn, token.strip())
    if principal is None:
        return None
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(
        """INSERT INTO dashboard_sessions (id_hash, token_name, csrf, expires_at)
           VALUES ($1, $2, $3, now() + $4)""",
        _digest(session_id),
        principal.name,
        csrf,
        TTL,
    )
    await conn.execute("DELETE FROM dashboard_sessions WHERE expires_at < now()")
    return session_id, Session(principal, csrf)


async def find_session(conn: Any, session_id: str) -> Session | None:
    row = await conn.fetchrow(
        """SELECT s.csrf, t.name, t.role FROM dashboard_sessions s
           JOIN api_tokens t ON t.name = s.token_name
           WHERE s.id_hash = $1 AND s.expires_at > now() AND t.revoked_at IS NULL""",
        _digest(session_id),
    )
    if row is None:
        return None
    return Session(Principal(row["name"], row["role"]), row["csrf"])


async def close_session(conn: Any, session_id: str) -> None:
    await conn.execute("DELETE FROM dashboard_sessions WHERE id_hash = $1", _digest(session_id))
