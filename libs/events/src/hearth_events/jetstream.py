"""The one place where Hearth's streams, durable consumers and KV buckets are defined.

The admin declares all of them (:func:`declare_all`: ``hearth up``, or
``python -m hearth_events.declare`` in compose) before any service starts; a service's NATS
user may not create or change them. Declaring is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, BadRequestError, NotFoundError, ServiceUnavailableError

from hearth_events.subjects import EVENTS_PREFIX, TASKS_PREFIX, event_filter

EVENTS_STREAM = "HEARTH_EVENTS"
TASKS_STREAM = "HEARTH_TASKS"

LOCKS_BUCKET = "hearth_locks"
AGENTS_BUCKET = "hearth_agents"
DEVICE_STATUS_BUCKET = "hearth_device_status"
SECRETS_BUCKET = "hearth_secrets"
#: Who owns each kind of secret; a secret is stored under ``<scope>.<name>`` and only the
#: service of that name may read that prefix (webhook secrets, SSH keys/HA tokens/repository
#: tokens, Apprise URLs, device credentials, Wi-Fi credentials).
SECRET_SCOPES = ("webhook-gw", "deployer", "notifier", "device-manager", "provisioner")

DUPLICATE_WINDOW_S = 15 * 60
LOCK_TTL_S = 30.0
AGENT_HEARTBEAT_TTL_S = 30.0

STREAMS: dict[str, StreamConfig] = {
    EVENTS_STREAM: StreamConfig(
        name=EVENTS_STREAM,
        description="Every Hearth event, in order; the source of every read model",
        subjects=[f"{EVENTS_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_S,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        # The relays publish in atomic batches (all stored in order, or none): see
        # hearth_eventstore.batches. Servers before 2.12 ignore the flag.
        allow_atomic=True,
    ),
    TASKS_STREAM: StreamConfig(
        name=TASKS_STREAM,
        description="Work handed to one worker each (provisioning tasks per site)",
        subjects=[f"{TASKS_PREFIX}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
    ),
}

BUCKETS: dict[str, KeyValueConfig] = {
    LOCKS_BUCKET: KeyValueConfig(
        bucket=LOCKS_BUCKET,
        description="Per-target deployment leases; a lease lapses unless renewed",
        history=1,
        ttl=LOCK_TTL_S,
        storage=StorageType.FILE,
    ),
    AGENTS_BUCKET: KeyValueConfig(
        bucket=AGENTS_BUCKET,
        description="Provisioner agent heartbeats; an agent is online while its key lives",
        history=1,
        ttl=AGENT_HEARTBEAT_TTL_S,
        storage=StorageType.FILE,
    ),
    DEVICE_STATUS_BUCKET: KeyValueConfig(
        bucket=DEVICE_STATUS_BUCKET,
        description="Live status of each device, last value wins",
        history=1,
        storage=StorageType.FILE,
    ),
    SECRETS_BUCKET: KeyValueConfig(
        bucket=SECRETS_BUCKET,
        description="Secrets as <scope>.<name>, each value encrypted with its scope's key",
        history=1,
        storage=StorageType.FILE,
        # Reads go to $JS.API.DIRECT.GET.KV_hearth_secrets.<key subject>, which permissions
        # can scope to a prefix; STREAM.MSG.GET carries the subject in its body and cannot be.
        direct=True,
    ),
}


@dataclass(frozen=True)
class DurableConsumer:
    """A durable pull consumer shared by every instance of one service."""

    stream: str
    name: str
    filter_subjects: tuple[str, ...]
    description: str = ""
    ack_wait_s: float = 60.0
    max_ack_pending: int = 1000
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self) -> ConsumerConfig:
        filters = list(self.filter_subjects)
        return ConsumerConfig(
            durable_name=self.name,
            description=self.description or None,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,
            max_ack_pending=self.max_ack_pending,
            filter_subject=filters[0] if len(filters) == 1 else None,
            filter_subjects=filters if len(filters) > 1 else None,
            **self.extra,
        )


CONSUMERS: dict[str, DurableConsumer] = {
    c.name: c
    for c in (
        DurableConsumer(
            EVENTS_STREAM,
            "deployer",
            (
                event_filter("git", "PushReceived"),
                event_filter("git", "CiCompleted"),
                event_filter("deploy", "DeployRequested"),
                event_filter("deploy", "RollbackRequested"),
                event_filter("deploy", "DeploymentCancelRequested"),
            ),
            "Pushes and deployment commands for the deployer",
        ),
        DurableConsumer(
            EVENTS_STREAM,
            "device-manager",
            (
                event_filter("git", "PushReceived"),
                event_filter("provision", "DeviceProvisioned"),
            ),
            "Pushes (desired device config) and newly provisioned devices",
        ),
        DurableConsumer(
            EVENTS_STREAM,
            "notifier",
            (event_filter(),),
            "Every event, routed to people by the notifier",
            # Short, so a crashed notifier's events come back soon; slow work keeps alive.
            ack_wait_s=15.0,
        ),
        DurableConsumer(
            EVENTS_STREAM,
            "query-api-projections",
            (event_filter(),),
            "Every event, projected into the query API's read models",
            max_ack_pending=10_000,
        ),
    )
}


class DeclarationConflict(RuntimeError):
    """An existing stream or bucket cannot be changed into what Hearth needs."""


def replicated_stream(name: str, replicas: int) -> StreamConfig:
    """``STREAMS[name]`` stored on ``replicas`` servers of a cluster (1 on a single server)."""
    return STREAMS[name].evolve(num_replicas=replicas)


def replicated_bucket(name: str, replicas: int) -> KeyValueConfig:
    """``BUCKETS[name]`` stored on ``replicas`` servers of a cluster (1 on a single server)."""
    return BUCKETS[name].evolve(replicas=replicas)


#: JetStream's answers while a cluster has no leader for what was asked (it is forming, or
#: a node died and an election runs): unavailable, insufficient resources, no suitable
#: peers. With the 503 "no responders" status and a request that timed out, they mean
#: "ask again shortly", never "this is wrong".
FORMING_ERRORS = (10008, 10023, 10005)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` is JetStream being briefly unavailable (worth asking again)."""
    if isinstance(exc, ServiceUnavailableError):  # a bare 503 status carries no code
        return True
    if isinstance(exc, APIError):
        return exc.code == 503 or exc.err_code in FORMING_ERRORS
    return isinstance(exc, NatsTimeoutError | NoRespondersError)


async def ensure(
    js: Any,
    *,
    streams: tuple[str, ...] = (),
    buckets: tuple[str, ...] = (),
    consumers: tuple[str, ...] = (),
    replicas: int | None = None,
) -> None:
    """Declare the named streams, buckets and consumers; leave matching ones alone.

    ``js`` is a ``nats.js.JetStreamContext``. ``replicas`` applies to the streams and
    buckets (3 on a 3-node cluster; an existing one is scaled to it); durable consumers
    follow their stream's. Without ``replicas`` (a service declaring what it uses on a bus
    without users) new ones get one and existing ones keep theirs: a service must never
    scale down what the admin declared on a cluster.
    """
    for name in streams:
        wanted = STREAMS[name] if replicas is None else replicated_stream(name, replicas)
        await _ensure_stream(js, wanted)
    for name in buckets:
        bucket = BUCKETS[name] if replicas is None else replicated_bucket(name, replicas)
        await _ensure_bucket(js, bucket)
    for name in consumers:
        consumer = CONSUMERS[name]
        await js.add_consumer(consumer.stream, config=consumer.config())


async def declare_all(js: Any, *, replicas: int = 1) -> None:
    """Every stream, bucket and durable consumer Hearth uses (admin credentials)."""
    await ensure(
        js,
        streams=tuple(STREAMS),
        buckets=tuple(BUCKETS),
        consumers=tuple(CONSUMERS),
        replicas=replicas,
    )


async def _ensure_stream(js: Any, config: StreamConfig) -> None:
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config=config)
        return
    if _differs(info.config, config):
        try:
            await js.update_stream(config=config)
        except BadRequestError as exc:
            raise DeclarationConflict(
                f"stream {config.name} exists with settings that cannot be changed to "
                f"Hearth's ({exc.description}); inspect it with `nats stream info "
                f"{config.name}`"
            ) from exc


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    keys = (
        "subjects",
        "retention",
        "storage",
        "duplicate_window",
        "deny_delete",
        "deny_purge",
        "description",
    )
    if wanted.allow_atomic and not current.allow_atomic:
        return True  # a stream declared before batches (on a server that has them)
    if wanted.num_replicas and current.num_replicas != wanted.num_replicas:
        return True  # a stream moved onto a cluster (JetStream scales it in place)
    return any(getattr(current, k) != getattr(wanted, k) for k in keys)


async def _ensure_bucket(js: Any, config: KeyValueConfig) -> None:
    try:
        await js.key_value(config.bucket)
    except NotFoundError:  # BucketNotFoundError is a NotFoundError
        await js.create_key_value(config=config)
        return
    if config.direct or config.replicas != 1:
        info = await js.stream_info(f"KV_{config.bucket}")
        changes: dict[str, Any] = {}
        if config.direct and not info.config.allow_direct:
            changes["allow_direct"] = True  # declared before direct reads were required
        if config.replicas not in (1, info.config.num_replicas):
            changes["num_replicas"] = config.replicas  # a bucket moved onto a cluster
        if changes:
            await js.update_stream(config=info.config.evolve(**changes))
