"""Who may do what on the bus: one NATS user per service, plus admin and inspector.

Each service may publish only its own events (the webhook gateway only ``hearth.evt.git.>``),
write only its own KV buckets, serve only its own commands and receive replies only on its
own inbox prefix. No service may delete or purge a stream or delete stored messages. The
``inspector`` only reads: stream, consumer and bucket info, messages, and live events.
"""

from __future__ import annotations

from dataclasses import dataclass

JS_API_DESTRUCTIVE = (
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.ACCOUNT.PURGE.>",
)


@dataclass(frozen=True)
class BusUser:
    name: str
    publish_allow: tuple[str, ...]
    publish_deny: tuple[str, ...]
    subscribe_allow: tuple[str, ...]
    allow_responses: bool = False


def _service(
    name: str,
    events: tuple[str, ...],
    buckets: tuple[str, ...] = (),
    commands: tuple[str, ...] = (),
) -> BusUser:
    return BusUser(
        name=name,
        publish_allow=(
            *events,
            *(f"$KV.{b}.>" for b in buckets),
            "$JS.API.>",
            "$JS.ACK.>",
            "$JS.FC.>",
        ),
        publish_deny=JS_API_DESTRUCTIVE,
        subscribe_allow=(f"_INBOX_{name}.>", *commands),
        allow_responses=bool(commands),
    )


SERVICE_USERS: dict[str, BusUser] = {
    user.name: user
    for user in (
        _service("webhook-gw", ("hearth.evt.git.>",), commands=("hearth.cmd.git.>",)),
        _service(
            "deployer",
            ("hearth.evt.target.>", "hearth.evt.deploy.>"),
            buckets=("hearth_locks",),
            commands=("hearth.cmd.target.>", "hearth.cmd.deploy.>"),
        ),
        _service(
            "device-manager",
            ("hearth.evt.device.>",),
            buckets=("hearth_device_status",),
            commands=("hearth.cmd.device.>",),
        ),
        _service(
            "provisioner",
            ("hearth.evt.provision.>", "hearth.task.provision.>"),
            buckets=("hearth_agents",),
        ),
        _service("notifier", ("hearth.evt.notify.>",), commands=("hearth.cmd.notify.>",)),
        _service(
            "query-api",
            (
                "hearth.evt.deploy.DeployRequested.>",
                "hearth.evt.deploy.RollbackRequested.>",
                "hearth.evt.deploy.DeploymentCancelRequested.>",
                "hearth.cmd.notify.TestNotification",  # the API's admin test button
            ),
            commands=("hearth.cmd.query.>",),
        ),
    )
}

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
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.*",
        "$JS.API.STREAM.LIST",
        "$JS.API.STREAM.NAMES",
        "$JS.API.STREAM.MSG.GET.*",
        "$JS.API.DIRECT.GET.>",
        "$JS.API.CONSUMER.INFO.*.*",
        "$JS.API.CONSUMER.LIST.*",
        "$JS.API.CONSUMER.NAMES.*",
        # Ephemeral consumers for `nats stream view` / `nats sub --stream`; they lapse alone.
        "$JS.API.CONSUMER.CREATE.*",
        "$JS.API.CONSUMER.MSG.NEXT.*.*",
    ),
    publish_deny=(
        *JS_API_DESTRUCTIVE,
        "$JS.API.CONSUMER.DURABLE.>",
        "$JS.API.CONSUMER.DELETE.>",
        "hearth.>",
        "$KV.>",
    ),
    subscribe_allow=("_INBOX.>", "hearth.evt.>"),
)


def all_users() -> list[BusUser]:
    return [*SERVICE_USERS.values(), ADMIN, INSPECTOR]
