"""Who may do what on the bus: one NATS user per service, plus admin and inspector.

Every stream, durable consumer and bucket is declared once by the admin (``hearth up`` or
the compose init step). Each service is then described once in :data:`SERVICES` (its
durable consumers, the buckets it reads or writes, the events it publishes, the commands it
serves) and its NATS permissions are derived from that: exactly the JetStream API subjects
it needs, its own inbox prefix ``_INBOX_<name>``, nothing that updates, deletes, purges,
snapshots or restores a stream, nothing that creates or deletes a durable consumer, and
nothing on another service's consumer or bucket. The ``inspector`` only reads streams and
events, receives replies only on ``_INBOX_inspector`` and reads no bucket (no secret).

``python -m hearth_events.permissions --write`` regenerates ``docs/permissions.md``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from hearth_events.jetstream import (
    AGENTS_BUCKET,
    CONSUMERS,
    DEVICE_STATUS_BUCKET,
    EVENTS_STREAM,
    LOCKS_BUCKET,
    SECRETS_BUCKET,
    TASKS_STREAM,
)

API = "$JS.API"


@dataclass(frozen=True)
class BusUser:
    name: str
    publish_allow: tuple[str, ...]
    publish_deny: tuple[str, ...]
    subscribe_allow: tuple[str, ...]
    allow_responses: bool = False


@dataclass(frozen=True)
class ServiceAccess:
    """What one service uses on the bus; its NATS user is derived from this alone."""

    name: str
    events: tuple[str, ...] = ()  # subjects it publishes (through JetStream)
    commands: tuple[str, ...] = ()  # request subjects it serves
    consumers: tuple[str, ...] = ()  # durable consumers it fetches from and acks
    follows_events: bool = False  # ephemeral consumers on HEARTH_EVENTS (StreamFollower)
    events_info: bool = False  # reads HEARTH_EVENTS' info (e.g. last sequence)
    events_by_seq: bool = False  # reads single events by sequence (a projector's gap)
    writes: tuple[str, ...] = ()  # buckets it reads and writes
    reads: tuple[str, ...] = ()  # buckets it only reads
    secrets: bool = False  # reads the secrets of its own scope (``<name>.`` keys) only
    watches_secrets: bool = False  # follows changes to its own scope's secrets (a push consumer)
    watches: tuple[str, ...] = ()  # buckets it follows, every key (a push consumer, read only)
    notes: str = ""


SERVICES: dict[str, ServiceAccess] = {
    s.name: s
    for s in (
        ServiceAccess(
            "webhook-gw",
            events=("hearth.evt.git.>",),
            commands=("hearth.cmd.git.>",),
            follows_events=True,
            secrets=True,
            watches_secrets=True,  # every webhook is checked against the webhook secrets
        ),
        ServiceAccess(
            "deployer",
            events=("hearth.evt.target.>", "hearth.evt.deploy.>"),
            commands=("hearth.cmd.target.>", "hearth.cmd.deploy.>"),
            consumers=("deployer",),
            follows_events=True,
            writes=(LOCKS_BUCKET,),
            secrets=True,
            watches_secrets=True,  # each deployment's SSH key and token, from memory
        ),
        ServiceAccess(
            "device-manager",
            events=("hearth.evt.device.>",),
            commands=("hearth.cmd.device.>",),
            consumers=("device-manager",),
            writes=(DEVICE_STATUS_BUCKET,),
            secrets=True,
        ),
        ServiceAccess(
            "provisioner",
            events=("hearth.evt.provision.>", "hearth.task.provision.>"),
            writes=(AGENTS_BUCKET,),
            secrets=True,
        ),
        ServiceAccess(
            "notifier",
            events=("hearth.evt.notify.>",),
            commands=("hearth.cmd.notify.>",),
            consumers=("notifier",),
            follows_events=True,
            reads=(AGENTS_BUCKET, DEVICE_STATUS_BUCKET),
            secrets=True,
        ),
        ServiceAccess(
            "query-api",
            events=(
                "hearth.evt.deploy.DeployRequested.>",
                "hearth.evt.deploy.RollbackRequested.>",
                "hearth.evt.deploy.DeploymentCancelRequested.>",
                "hearth.cmd.notify.TestNotification",  # the API's admin test button
                "hearth.cmd.device.>",  # the fleet's buttons, forwarded to the device manager
            ),
            commands=("hearth.cmd.query.>",),
            consumers=("query-api-projections",),
            follows_events=True,  # the projector's ordered consumer
            events_info=True,
            events_by_seq=True,  # events a crashed instance held come back late
            reads=(DEVICE_STATUS_BUCKET,),  # one device's live status
            watches=(DEVICE_STATUS_BUCKET,),  # every device's, sampled for the graphs
        ),
    )
}


def _bucket_read(bucket: str) -> tuple[str, ...]:
    stream = f"KV_{bucket}"
    return (
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
        f"{API}.STREAM.MSG.GET.{stream}",
    )


def secret_reads(scope: str) -> tuple[str, ...]:
    """Direct gets of the keys under ``<scope>.`` only: never ``STREAM.MSG.GET`` (its
    subject is in the request body, so it cannot be scoped) and no consumer (no listing)."""
    stream = f"KV_{SECRETS_BUCKET}"
    return (
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.DIRECT.GET.{stream}.$KV.{SECRETS_BUCKET}.{scope}.>",
    )


def secret_watch(scope: str) -> str:
    """A consumer on the secrets bucket, only through the create subject that names its
    filter: the server refuses a request whose filter is not the subject's (so not another
    scope's), and without a name token no consumer can be made at all. It is a push consumer
    delivering to the service's own inbox, so no ``MSG.NEXT`` is needed either."""
    return f"{API}.CONSUMER.CREATE.KV_{SECRETS_BUCKET}.*.$KV.{SECRETS_BUCKET}.{scope}.>"


def bucket_watch(bucket: str) -> tuple[str, ...]:
    """An ordered push consumer over every key of ``bucket`` (nats-py's ``watchall``, which
    names no consumer, so the create subject carries no filter), delivering to the
    service's own inbox, and the flow-control replies it sends. Only for a bucket the
    service may read whole anyway: a consumer there reads nothing more, and no ``$KV``
    publish (no write) comes with it."""
    stream = f"KV_{bucket}"
    return (
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.INFO.{stream}.*",  # how many values to expect first
        f"$JS.FC.{stream}.>",
    )


def _service_user(access: ServiceAccess) -> BusUser:
    allow: list[str] = [*access.events]
    deny: list[str] = []
    for name in access.consumers:
        stream = CONSUMERS[name].stream
        allow += [
            f"{API}.CONSUMER.INFO.{stream}.{name}",
            f"{API}.CONSUMER.MSG.NEXT.{stream}.{name}",
            f"$JS.ACK.{stream}.{name}.>",
        ]
    if access.follows_events:
        # Ephemeral consumers get names the server picks: allow any name on the stream
        # but refuse every durable of another service by name (deny wins in NATS).
        allow += [
            f"{API}.STREAM.NAMES",
            f"{API}.CONSUMER.CREATE.{EVENTS_STREAM}",
            f"{API}.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.*",
            f"{API}.CONSUMER.INFO.{EVENTS_STREAM}.*",
            f"$JS.FC.{EVENTS_STREAM}.>",
        ]
        deny += [
            f"{API}.CONSUMER.{verb}.{c.stream}.{c.name}"
            for c in CONSUMERS.values()
            if c.name not in access.consumers
            for verb in ("MSG.NEXT", "INFO")
        ]
    if access.events_info:
        allow.append(f"{API}.STREAM.INFO.{EVENTS_STREAM}")
    if access.events_by_seq:
        allow.append(f"{API}.STREAM.MSG.GET.{EVENTS_STREAM}")
    for bucket in access.writes:
        allow += [*_bucket_read(bucket), f"$KV.{bucket}.>"]
    for bucket in access.reads:
        allow += _bucket_read(bucket)
    if access.secrets:
        allow += secret_reads(access.name)
    if access.watches_secrets:
        allow.append(secret_watch(access.name))
    for bucket in access.watches:
        allow += bucket_watch(bucket)
    return BusUser(
        name=access.name,
        publish_allow=tuple(allow),
        publish_deny=tuple(deny),
        subscribe_allow=(f"_INBOX_{access.name}.>", *access.commands),
        allow_responses=bool(access.commands),
    )


SERVICE_USERS: dict[str, BusUser] = {name: _service_user(a) for name, a in SERVICES.items()}

JS_API_DESTRUCTIVE = (
    f"{API}.STREAM.DELETE.>",
    f"{API}.STREAM.PURGE.>",
    f"{API}.STREAM.MSG.DELETE.>",
    f"{API}.ACCOUNT.PURGE.>",
)

ADMIN = BusUser(
    name="admin",
    publish_allow=(">",),
    publish_deny=JS_API_DESTRUCTIVE,
    subscribe_allow=(">",),
    allow_responses=True,
)

INSPECTOR = BusUser(
    name="inspector",
    publish_allow=(
        f"{API}.INFO",
        f"{API}.STREAM.INFO.{EVENTS_STREAM}",
        f"{API}.STREAM.INFO.{TASKS_STREAM}",
        f"{API}.STREAM.LIST",
        f"{API}.STREAM.NAMES",
        f"{API}.STREAM.MSG.GET.{EVENTS_STREAM}",
        f"{API}.DIRECT.GET.{EVENTS_STREAM}.>",
        f"{API}.CONSUMER.INFO.{EVENTS_STREAM}.*",
        f"{API}.CONSUMER.LIST.{EVENTS_STREAM}",
        f"{API}.CONSUMER.NAMES.{EVENTS_STREAM}",
        # Ephemeral consumers for `nats stream view` / `nats sub --stream`; they lapse alone.
        f"{API}.CONSUMER.CREATE.{EVENTS_STREAM}",
        f"{API}.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.*",
        f"$JS.FC.{EVENTS_STREAM}.>",
    ),
    publish_deny=tuple(f"{API}.CONSUMER.MSG.NEXT.{c.stream}.{c.name}" for c in CONSUMERS.values()),
    subscribe_allow=("_INBOX_inspector.>", "hearth.evt.>"),
)


def all_users() -> list[BusUser]:
    return [*SERVICE_USERS.values(), ADMIN, INSPECTOR]


def render_table() -> str:
    lines = [
        "# Bus permissions",
        "",
        "Generated by `uv run python -m hearth_events.permissions --write` from",
        "`libs/events/src/hearth_events/permissions.py`; do not edit by hand.",
        "Streams, durable consumers and buckets are declared by the `admin` user only",
        "(`hearth up`, or the `nats-init` step in compose). Deny wins over allow.",
        "",
        "| user | publish allow | publish deny | subscribe allow | replies |",
        "|---|---|---|---|---|",
    ]
    for user in all_users():
        cells = [
            "<br>".join(f"`{s}`" for s in items) or "—"
            for items in (user.publish_allow, user.publish_deny, user.subscribe_allow)
        ]
        replies = "yes" if user.allow_responses else "no"
        lines.append(f"| `{user.name}` | {cells[0]} | {cells[1]} | {cells[2]} | {replies} |")
    notes = [f"- `{a.name}`: {a.notes}" for a in SERVICES.values() if a.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def docs_path() -> Path:
    return Path(__file__).resolve().parents[4] / "docs" / "permissions.md"


if __name__ == "__main__":
    if "--write" in sys.argv:
        docs_path().write_text(render_table())
    else:
        print(render_table(), end="")
