"""Each service user, logged in to a real nats-server with the generated permissions, is
refused everything outside its declaration and can do everything inside it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.errors import NoRespondersError
from nats.js.api import AckPolicy, ConsumerConfig

from hearth_events.jetstream import (
    BUCKETS,
    CONSUMERS,
    EVENTS_STREAM,
    SECRET_SCOPES,
    SECRETS_BUCKET,
    STREAMS,
)
from hearth_events.permissions import SERVICES, ServiceAccess
from hearth_servicekit.secret_watch import WatchedSecrets
from hearth_servicekit.secrets import SecretBox, new_secret_key
from tests.integration.bus.conftest import SEEDED_KEY, Session, connect

pytestmark = pytest.mark.asyncio

# One event subject per publisher; every other service must be refused each of them.
SAMPLE_EVENTS = {
    "webhook-gw": "hearth.evt.git.PushReceived.repo",
    "deployer": "hearth.evt.deploy.DeploymentSucceeded.d1",
    "device-manager": "hearth.evt.device.DeviceOnline.dev1",
    "provisioner": "hearth.evt.provision.DeviceProvisioned.dev1",
    "notifier": "hearth.evt.notify.NotificationSent.n1",
}


def matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def concrete(pattern: str) -> str:
    return pattern.replace(">", "x").replace("*", "x")


def forbidden_publishes(access: ServiceAccess) -> list[str]:
    subjects = [
        f"$JS.API.STREAM.{verb}.{stream}"
        for stream in STREAMS
        for verb in ("UPDATE", "PURGE", "DELETE", "SNAPSHOT", "RESTORE", "CREATE")
    ]
    subjects += [f"$JS.API.STREAM.MSG.DELETE.{stream}" for stream in STREAMS]
    for c in CONSUMERS.values():
        subjects += [
            f"$JS.API.CONSUMER.DURABLE.CREATE.{c.stream}.{c.name}",
            f"$JS.API.CONSUMER.CREATE.{c.stream}.{c.name}",
            f"$JS.API.CONSUMER.CREATE.{c.stream}.{c.name}.hearth.evt.>",
            f"$JS.API.CONSUMER.DELETE.{c.stream}.{c.name}",
        ]
        if c.name not in access.consumers:
            subjects += [
                f"$JS.API.CONSUMER.MSG.NEXT.{c.stream}.{c.name}",
                f"$JS.API.CONSUMER.INFO.{c.stream}.{c.name}",
                f"$JS.ACK.{c.stream}.{c.name}.1.1.1.1.1",
            ]
    for bucket in BUCKETS:
        if bucket not in access.writes:
            subjects.append(f"$KV.{bucket}.{SEEDED_KEY}")
        if bucket not in access.writes + access.reads:
            if not (bucket == SECRETS_BUCKET and access.secrets):
                subjects.append(f"$JS.API.STREAM.INFO.KV_{bucket}")
            subjects += [
                f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{SEEDED_KEY}",
                f"$JS.API.STREAM.MSG.GET.KV_{bucket}",
                f"$JS.API.CONSUMER.CREATE.KV_{bucket}",
            ]
    # Watching a whole bucket: only a service that does, and never the secrets.
    subjects += [
        f"$JS.API.CONSUMER.CREATE.KV_{bucket}.w.$KV.{bucket}.>"
        for bucket in BUCKETS
        if bucket not in access.watches
    ]
    # Secrets: only the service's own scope, and only by direct get of a key under it.
    subjects += [
        f"$JS.API.DIRECT.GET.KV_{SECRETS_BUCKET}.$KV.{SECRETS_BUCKET}.{scope}.{SEEDED_KEY}"
        for scope in SECRET_SCOPES
        if scope != access.name
    ]
    # Watching secrets: only the own scope's filter, and only by a service that watches.
    subjects += [
        f"$JS.API.CONSUMER.CREATE.KV_{SECRETS_BUCKET}.w.$KV.{SECRETS_BUCKET}.{scope}.>"
        for scope in SECRET_SCOPES
        if scope != access.name or not access.watches_secrets
    ]
    subjects += [
        s
        for owner, s in SAMPLE_EVENTS.items()
        if owner != access.name and not any(matches(p, s) for p in access.events)
    ]
    return subjects


def forbidden_subscriptions(access: ServiceAccess) -> list[str]:
    others = [f"_INBOX_{name}.>" for name in (*SERVICES, "admin", "inspector")]
    return ["_INBOX.>", ">", *(s for s in others if s != f"_INBOX_{access.name}.>")]


CASES = [
    (name, kind, subject)
    for name, access in SERVICES.items()
    for kind, subjects in (
        ("publish", forbidden_publishes(access)),
        ("subscribe", forbidden_subscriptions(access)),
    )
    for subject in subjects
]


@pytest.fixture(scope="module")
async def sessions(bus_url: str, admin: Session) -> AsyncIterator[dict[str, Session]]:
    opened = {name: await connect(bus_url, name) for name in SERVICES}
    yield opened
    for session in opened.values():
        await session.nc.close()


@pytest.mark.parametrize(("user", "kind", "subject"), CASES)
async def test_the_server_refuses(
    sessions: dict[str, Session], user: str, kind: str, subject: str
) -> None:
    session = sessions[user]
    if kind == "publish":
        await session.refuses_publish(subject)
    else:
        await session.refuses_subscription(subject)


async def test_max_msgs_one_is_refused_and_the_stream_keeps_its_limits(
    sessions: dict[str, Session], admin: Session
) -> None:
    config = {**STREAMS[EVENTS_STREAM].as_dict(), "max_msgs": 1}
    subject = f"$JS.API.STREAM.UPDATE.{EVENTS_STREAM}"
    await sessions["webhook-gw"].refuses_publish(subject, json.dumps(config).encode())
    info = await admin.js.stream_info(EVENTS_STREAM)
    assert info.config.max_msgs == -1


@pytest.mark.parametrize("user", [n for n, a in SERVICES.items() if a.follows_events])
@pytest.mark.parametrize("field", ["durable_name", "name"])
async def test_a_follower_cannot_take_over_a_durable_by_name(
    sessions: dict[str, Session], admin: Session, user: str, field: str
) -> None:
    """The ephemeral-create subject followers may use cannot make or change a durable."""
    for c in CONSUMERS.values():
        config = {field: c.name, "ack_policy": "none", "deliver_policy": "all"}
        request = {"stream_name": c.stream, "config": config}
        reply = await sessions[user].nc.request(
            f"$JS.API.CONSUMER.CREATE.{c.stream}", json.dumps(request).encode(), timeout=10
        )
        assert "error" in json.loads(reply.data), reply.data
        info = await admin.js.consumer_info(c.stream, c.name)
        assert info.config.ack_policy == AckPolicy.EXPLICIT


@pytest.mark.parametrize("user", [n for n, a in SERVICES.items() if a.watches_secrets])
@pytest.mark.parametrize("body", ["another scope", "another scope in a list", "the whole bucket"])
async def test_a_secrets_watch_cannot_reach_beyond_its_scope(
    sessions: dict[str, Session], user: str, body: str
) -> None:
    """The create subject names the own scope's filter; the server refuses a request whose
    filter in the body is another (or none), so the permission cannot be stretched."""
    own = f"$KV.{SECRETS_BUCKET}.{user}.>"
    other = f"$KV.{SECRETS_BUCKET}.{'notifier' if user != 'notifier' else 'deployer'}.>"
    bodies: dict[str, dict[str, Any]] = {
        "another scope": {"filter_subject": other},
        "another scope in a list": {"filter_subjects": [other]},
        "the whole bucket": {},
    }
    config = bodies[body]
    session = sessions[user]
    request = {
        "stream_name": f"KV_{SECRETS_BUCKET}",
        "config": {
            "name": "stretch",
            "deliver_subject": session.nc.new_inbox(),
            "ack_policy": "none",
            **config,
        },
    }
    reply = await session.nc.request(
        f"$JS.API.CONSUMER.CREATE.KV_{SECRETS_BUCKET}.stretch.{own}",
        json.dumps(request).encode(),
        timeout=10,
    )
    assert "error" in json.loads(reply.data), reply.data


async def request_when_served(admin: Session, subject: str) -> Any:
    """nats-py's flush can return before the server has the SUB (its PING overtakes the
    queued SUB): until the server has it, a request finds no responders. Ask again then."""
    async with asyncio.timeout(10):
        while True:
            try:
                return await admin.nc.request(subject, b"", timeout=10)
            except NoRespondersError:
                await asyncio.sleep(0.05)


async def respond_served(message: Any) -> None:
    await message.respond(b"served")


@pytest.mark.parametrize("user", list(SERVICES))
async def test_what_a_service_is_declared_to_do_works(
    sessions: dict[str, Session], admin: Session, user: str
) -> None:
    session, access = sessions[user], SERVICES[user]
    js = session.js
    await session.settle()  # a refusal an earlier test caused may still be on its way
    refused_before = len(session.refusals)
    for subject in (concrete(p) for p in access.events):
        if subject.startswith(("hearth.evt.", "hearth.task.")):
            ack = await js.publish(subject, b"{}")
            assert ack.seq > 0
    for name in access.consumers:
        c = CONSUMERS[name]
        await admin.js.publish(concrete(c.filter_subjects[0]), b"{}")
        assert (await js.consumer_info(c.stream, name)).name == name
        subscription = await js.pull_subscribe_bind(durable=name, stream=c.stream)
        messages = await subscription.fetch(1, timeout=10)
        for message in messages:
            await message.ack_sync()
    for bucket in access.writes:
        kv = await js.key_value(bucket)
        await kv.put(f"{user}-own", b"v")
        assert (await kv.get(f"{user}-own")).value == b"v"
    for bucket in access.reads:
        await (await admin.js.key_value(bucket)).put(SEEDED_KEY, b"seed")
        kv = await js.key_value(bucket)
        assert (await kv.get(SEEDED_KEY)).value is not None
    if access.secrets:
        kv = await js.key_value(SECRETS_BUCKET)
        assert (await kv.get(f"{user}.{SEEDED_KEY}")).value is not None
    if access.watches_secrets:
        watch = WatchedSecrets(session.nc, js, SecretBox.for_scope(new_secret_key(), user))
        stop = asyncio.Event()
        watching = asyncio.create_task(watch.run(stop))
        async with asyncio.timeout(10):
            while not watch.current:
                watch.changed.clear()
                await watch.changed.wait()
        stop.set()
        await watching
    for bucket in access.watches:  # every key, current values first (adapters.samples)
        await (await admin.js.key_value(bucket)).put(SEEDED_KEY, b"seed")
        watcher = await (await js.key_value(bucket)).watchall()
        keys = []
        while (entry := await watcher.updates(timeout=10)) is not None:  # None: all current
            keys.append(entry.key)
        assert SEEDED_KEY in keys
        await watcher.stop()
    if access.follows_events:
        await admin.js.publish("hearth.evt.git.PushReceived.follow", b"{}")
        info = await js.add_consumer(
            EVENTS_STREAM,
            ConsumerConfig(
                ack_policy=AckPolicy.NONE, filter_subject="hearth.evt.>", inactive_threshold=30
            ),
        )
        subscription = await js.pull_subscribe_bind(durable=info.name, stream=EVENTS_STREAM)
        assert await subscription.fetch(1, timeout=10)
    if access.events_info:
        assert (await js.stream_info(EVENTS_STREAM)).state.last_seq > 0
    if access.events_by_seq:
        assert (await js.get_msg(EVENTS_STREAM, 1)).seq == 1
    for pattern in access.commands:
        subject = concrete(pattern)
        served = await session.nc.subscribe(subject, cb=respond_served)
        await session.nc.flush()
        reply = await request_when_served(admin, subject)
        assert reply.data == b"served"
        await served.unsubscribe()
    await session.settle()
    assert session.refusals[refused_before:] == []
