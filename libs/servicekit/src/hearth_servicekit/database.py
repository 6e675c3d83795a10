"""PostgreSQL helpers every service with a database shares."""

from __future__ import annotations

import psycopg

from hearth_servicekit.http import ReadinessProbe


def postgres_probe(dsn: str) -> ReadinessProbe:
    async def probe() -> bool:
        async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=2) as conn:
            await conn.execute("SELECT 1")
        return True

    return probe


def describe_connect_error(exc: BaseException) -> str:
    """One actionable line for a database that refuses us."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return f"PostgreSQL refused the credentials ({text}); check HEARTH_DATABASE_URL"
    if "does not exist" in lowered:
        return f"{text}; create it or fix the name in HEARTH_DATABASE_URL"
    if "connection refused" in lowered or "could not connect" in lowered:
        return (
            f"PostgreSQL is not reachable ({text}); is it running, "
            "and is HEARTH_DATABASE_URL right?"
        )
    return f"PostgreSQL error: {text}"
