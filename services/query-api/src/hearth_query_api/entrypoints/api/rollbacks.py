"""What a rollback restores, and whether the same rollback was already asked for.

A backup holds the files as they were before the deployment that took it, so "roll back
this deployment" restores that deployment's backup, never merely the newest one (which,
after a rollback, is the rollback's own safety copy). Restoring the backup that the
target's newest change already restored does nothing new: it is answered, not repeated.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# The commit the newest successful deployment before the backup had put on the host.
BEFORE_COMMIT = """(SELECT p.commit FROM deployments p
    WHERE p.target = b.target AND p.status = 'succeeded' AND NOT p.dry_run
      AND p.finished_at <= b.taken_at
    ORDER BY p.finished_at DESC LIMIT 1) AS before_commit"""
BACKUPS = f"SELECT b.*, {BEFORE_COMMIT} FROM backups b"  # noqa: S608 (no input in it)
# A rollback still under way or done: asking for it again changes nothing.
STANDING = {"queued", "running", "rolling_back", "rolled_back", "succeeded"}
# One the deployer has not announced (yet) stands this long; after that a new request may go.
UNSEEN_STANDS = timedelta(minutes=10)


async def list_backups(conn: Any, target: str | None, limit: int) -> list[Any]:
    rows: list[Any] = await conn.fetch(
        f"{BACKUPS} WHERE ($1::text IS NULL OR b.target = $1) ORDER BY b.taken_at DESC LIMIT $2",
        target,
        limit,
    )
    return rows


async def backup_of(conn: Any, deployment_id: str) -> Any:
    """The backup a deployment took before it changed files (None: it changed none)."""
    return await conn.fetchrow(
        f"{BACKUPS} WHERE b.deployment_id = $1 ORDER BY b.taken_at LIMIT 1", deployment_id
    )


async def undo_backup(conn: Any, target: str) -> str | None:
    """The backup that undoes the target's newest deployment: its newest backup that was
    not a rollback's safety copy (None: it has no backups yet)."""
    found: str | None = await conn.fetchval(
        """SELECT b.backup_id FROM backups b JOIN deployments d ON d.id = b.deployment_id
           WHERE b.target = $1 AND d.trigger <> 'rollback'
           ORDER BY b.taken_at DESC LIMIT 1""",
        target,
    )
    return found


async def lock_target(conn: Any, target: str) -> None:
    """Serialise rollback requests per target until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"hearth.rollback.{target}")


async def standing_rollback(conn: Any, target: str, restores: str) -> Any:
    """The target's newest change if it is a rollback to ``restores`` that has not failed."""
    newest = await conn.fetchrow(
        """SELECT n.id, r.kind, r.restores, d.status,
                  r.requested_at > now() - $2::interval AS recent FROM (
               SELECT id, requested_at FROM deployments WHERE target = $1 AND NOT dry_run
               UNION ALL
               SELECT deployment_id, requested_at FROM requested_deployments
               WHERE target = $1 AND NOT dry_run
           ) n
           LEFT JOIN requested_deployments r ON r.deployment_id = n.id
           LEFT JOIN deployments d ON d.id = n.id
           ORDER BY n.requested_at DESC LIMIT 1""",
        target,
        UNSEEN_STANDS,
    )
    if (
        newest is not None
        and newest["kind"] == "rollback"
        and newest["restores"] == restores
        and (newest["status"] in STANDING or (newest["status"] is None and newest["recent"]))
    ):
        return newest
    return None


async def record_request(
    conn: Any,
    deployment_id: str,
    target: str,
    kind: str,
    *,
    dry_run: bool = False,
    restores: str | None = None,
    actor: str,
) -> None:
    await conn.execute(
        """INSERT INTO requested_deployments (deployment_id, target, kind, dry_run, restores,
               actor) VALUES ($1, $2, $3, $4, $5, $6)""",
        deployment_id,
        target,
        kind,
        dry_run,
        restores,
        actor,
    )


async def was_requested(conn: Any, deployment_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM requested_deployments WHERE deployment_id = $1", deployment_id
    )
    return found is not None
