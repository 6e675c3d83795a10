"""The query API's read models: one schema, created and migrated at start.

Connections use ``search_path = query_api``, so queries name tables without the schema.

Every table can be rebuilt from the event stream; ``projection_position`` records the
last stream sequence applied, in the same transaction as the rows it produced.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "query_api"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE projection_position (
        name text PRIMARY KEY,
        position bigint NOT NULL
    );
    INSERT INTO projection_position VALUES ('main', 0);

    CREATE TABLE events (
        seq bigint PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        type text NOT NULL,
        context text NOT NULL,
        key text NOT NULL,
        occurred_at timestamptz NOT NULL,
        actor text NOT NULL,
        source text NOT NULL,
        correlation_id text NOT NULL,
        causation_id text,
        data jsonb NOT NULL
    );
    CREATE INDEX ON events (type, seq);
    CREATE INDEX ON events (key, seq);
    CREATE INDEX ON events (correlation_id);
    CREATE INDEX ON events (occurred_at);

    CREATE TABLE pushes (
        event_id uuid PRIMARY KEY,
        seq bigint NOT NULL,
        repo text NOT NULL,
        ref text NOT NULL,
        branch text,
        tag text,
        before text NOT NULL,
        after text NOT NULL,
        pusher text NOT NULL,
        source text NOT NULL,
        commits int NOT NULL,
        deleted boolean NOT NULL,
        received_at timestamptz NOT NULL,
        delivery_id text NOT NULL
    );
    CREATE INDEX ON pushes (repo, seq);

    CREATE TABLE targets (
        name text PRIMARY KEY,
        kind text NOT NULL,
        host text NOT NULL,
        repo text NOT NULL,
        branch text NOT NULL,
        subdirectory text NOT NULL,
        auto_deploy boolean NOT NULL,
        spec jsonb NOT NULL,
        registered_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        removed boolean NOT NULL DEFAULT false,
        current_commit text,
        last_deployment_id text,
        last_status text,
        last_finished_at timestamptz
    );

    CREATE TABLE deployments (
        id text PRIMARY KEY,
        seq bigint NOT NULL,
        target text NOT NULL,
        repo text NOT NULL,
        commit text,
        branch text,
        trigger text NOT NULL,
        dry_run boolean NOT NULL,
        status text NOT NULL,
        step text,
        requested_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        duration_ms bigint,
        reason text,
        rolled_back boolean NOT NULL DEFAULT false,
        superseded_by text,
        correlation_id text NOT NULL,
        actor text NOT NULL,
        plan jsonb,
        diff text,
        diff_truncated boolean NOT NULL DEFAULT false
    );
    CREATE INDEX ON deployments (target, seq);
    CREATE INDEX ON deployments (status, seq);

    CREATE TABLE deployment_steps (
        deployment_id text NOT NULL,
        seq bigint NOT NULL,
        type text NOT NULL,
        at timestamptz NOT NULL,
        data jsonb NOT NULL,
        PRIMARY KEY (deployment_id, seq)
    );

    CREATE TABLE deployment_logs (
        deployment_id text NOT NULL,
        seq bigint NOT NULL,
        line_no int NOT NULL,
        at timestamptz NOT NULL,
        level text NOT NULL,
        step text,
        message text NOT NULL,
        PRIMARY KEY (deployment_id, seq, line_no)
    );

    CREATE TABLE backups (
        backup_id text PRIMARY KEY,
        target text NOT NULL,
        deployment_id text NOT NULL,
        remote_path text NOT NULL,
        sha256 text NOT NULL,
        files int NOT NULL,
        bytes bigint NOT NULL,
        taken_at timestamptz NOT NULL
    );
    CREATE INDEX ON backups (target, taken_at);

    CREATE TABLE notifications (
        notification_id text PRIMARY KEY,
        route text NOT NULL,
        scheme text NOT NULL,
        ok boolean NOT NULL,
        title text NOT NULL,
        attempts int NOT NULL,
        reason text,
        event_ids text[] NOT NULL,
        at timestamptz NOT NULL
    );
    """,
    """
    CREATE TABLE api_tokens (
        name text PRIMARY KEY,
        token_hash bytea NOT NULL UNIQUE,
        role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        revoked_at timestamptz,
        last_used_at timestamptz
    );
    """,
    """
    CREATE TABLE dashboard_sessions (
        id_hash bytea PRIMARY KEY,
        token_name text NOT NULL REFERENCES api_tokens (name) ON DELETE CASCADE,
        csrf text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
    );
    CREATE INDEX ON dashboard_sessions (expires_at);
    """,
    # Unfiltered lists are newest first: without these, every page sorts the whole table.
    """
    CREATE INDEX ON deployments (seq);
    CREATE INDEX ON pushes (seq);
    """,
    # Set when a deployment failed: false = it failed before changing the host.
    """
    ALTER TABLE deployments ADD COLUMN host_touched boolean;
    """,
    # The secrets a target's next deployment is held for.
    """
    ALTER TABLE targets ADD COLUMN waiting_for text[] NOT NULL DEFAULT '{}';
    ALTER TABLE targets ADD COLUMN waiting_deployment_id text;
    """,
    # What the dashboard shows beside a commit: where it can be seen (GitHub only) and the
    # first line of its message, as pushes announced it.
    """
    CREATE TABLE repositories (
        name text PRIMARY KEY,
        provider text NOT NULL,
        web_url text,
        removed boolean NOT NULL DEFAULT false
    );
    CREATE TABLE commits (
        repo text NOT NULL,
        sha text NOT NULL,
        subject text NOT NULL,
        PRIMARY KEY (repo, sha)
    );
    CREATE INDEX ON commits (sha);
    """,
    # Commands this API accepted, written before their event is published: the read
    # models learn of a deployment only once the deployer announces it, but a second
    # press of Roll back and the page a button leads to must know of it at once. Not a
    # read model: a rebuild keeps it.
    """
    CREATE TABLE requested_deployments (
        deployment_id text PRIMARY KEY,
        target text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('deploy', 'rollback')),
        dry_run boolean NOT NULL,
        restores text,
        actor text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON requested_deployments (target, requested_at);
    """,
    # The Shelly fleet: each device as its events left it (``seq``: the stream sequence of
    # the first event about it, the keyset of its pages), its backups, firmware rollouts
    # and each rollout's devices. A device's history is the audit log under its key.
    """
    CREATE TABLE devices (
        device_id text PRIMARY KEY,
        seq bigint NOT NULL UNIQUE,
        name text,
        mac text,
        model text,
        gen int,
        address text,
        firmware text,
        site text,
        groups text[] NOT NULL DEFAULT '{}',
        adopted boolean NOT NULL DEFAULT false,
        online boolean,
        online_changed_at timestamptz,
        last_seen timestamptz,
        drifted boolean NOT NULL DEFAULT false,
        differences jsonb NOT NULL DEFAULT '[]',
        drifted_at timestamptz,
        drift_resolved_how text,
        desired_repo text,
        desired_commit text,
        desired jsonb,
        last_applied_at timestamptz,
        last_applied_commit text,
        last_apply_error text,
        last_imported_at timestamptz,
        last_restored_at timestamptz,
        last_restored_backup text,
        firmware_available text,
        firmware_channel text,
        firmware_updating text,
        firmware_error text,
        discovered_at timestamptz,
        updated_at timestamptz NOT NULL
    );
    CREATE INDEX ON devices (model, seq);
    CREATE INDEX ON devices (site, seq);
    CREATE INDEX ON devices (online, seq);
    CREATE INDEX ON devices (drifted, seq);
    CREATE INDEX ON devices USING gin (groups);
    CREATE INDEX ON events (context, key, seq);

    CREATE TABLE device_backups (
        backup_id text PRIMARY KEY,
        seq bigint NOT NULL,
        device_id text NOT NULL,
        reason text NOT NULL,
        cfg_rev int,
        firmware text,
        taken_at timestamptz NOT NULL
    );
    CREATE INDEX ON device_backups (device_id, seq);

    CREATE TABLE rollouts (
        rollout_id text PRIMARY KEY,
        seq bigint NOT NULL,
        status text NOT NULL,
        channel text NOT NULL,
        waves int NOT NULL,
        pause_s double precision NOT NULL,
        versions jsonb NOT NULL,
        current_wave int,
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        halted_device text,
        reason text,
        actor text NOT NULL
    );
    CREATE INDEX ON rollouts (seq);

    CREATE TABLE rollout_devices (
        rollout_id text NOT NULL,
        device_id text NOT NULL,
        wave int NOT NULL,
        position int NOT NULL,
        status text NOT NULL,
        from_version text,
        to_version text,
        reason text,
        at timestamptz,
        PRIMARY KEY (rollout_id, device_id)
    );
    CREATE INDEX ON rollout_devices (device_id, status);
    """,
    # Not a read model of events: sampled from the live status (adapters/samples.py), kept
    # for a day, and left alone by a rebuild (not in READ_TABLES).
    """
    CREATE TABLE device_samples (
        device_id text NOT NULL,
        bucket timestamptz NOT NULL,
        power_w real,
        power_max_w real,
        rssi_dbm real,
        rssi_min_dbm smallint,
        online real NOT NULL,
        PRIMARY KEY (device_id, bucket)
    );
    CREATE INDEX ON device_samples (bucket);
    """,
]

READ_TABLES = (
    "events",
    "pushes",
    "targets",
    "deployments",
    "deployment_steps",
    "deployment_logs",
    "backups",
    "notifications",
    "repositories",
    "commits",
    "devices",
    "device_backups",
    "rollouts",
    "rollout_devices",
)


async def migrate(conn: Any) -> int:
    """Apply what is missing, under a lock so concurrent instances agree; returns version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hearth.query_api.migrate'))")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version int NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_version VALUES ($1)", number)
        return len(MIGRATIONS)
