"""The read-only ``inspector`` sees streams and events, but no reply to another client (the
CLI's CreateToken answer carries a plaintext token) and no secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from hearth_events.jetstream import BUCKETS, EVENTS_STREAM
from hearth_events.permissions import SERVICES
from tests.integration.bus.conftest import SEEDED_KEY, Session, connect

pytestmark = pytest.mark.asyncio

TOKEN = b"hearth_admin_token_canary"


@pytest.fixture(scope="module")
async def inspector(bus_url: str, admin: Session) -> AsyncIterator[Session]:
    session = await connect(bus_url, "inspector")
    yield session
    await session.nc.close()


async def answer_with_token(message: Any) -> None:
    await message.respond(TOKEN)


@pytest.mark.parametrize(
    "subject", ["_INBOX.>", "_INBOX_admin.>", ">", "$KV.>", *(f"_INBOX_{s}.>" for s in SERVICES)]
)
async def test_the_inspector_cannot_listen_to_replies(inspector: Session, subject: str) -> None:
    await inspector.refuses_subscription(subject)


async def test_a_token_reply_to_the_cli_never_reaches_the_inspector(
    bus_url: str, admin: Session, inspector: Session
) -> None:
    seen: list[bytes] = []

    async def record(message: Any) -> None:
        seen.append(message.data)

    # Everything the inspector may subscribe to, and the default inbox it used to read.
    for subject in ("hearth.evt.>", "_INBOX_inspector.>", "_INBOX.>"):
        await inspector.nc.subscribe(subject, cb=record)
    await inspector.refused("Subscription", "_INBOX.>")
    query_api = await connect(bus_url, "query-api")
    await query_api.nc.subscribe("hearth.cmd.query.CreateToken", cb=answer_with_token)
    await query_api.nc.flush()
    reply = await admin.nc.request("hearth.cmd.query.CreateToken", b"{}", timeout=10)
    assert reply.data == TOKEN
    assert reply.subject.startswith("_INBOX_admin.")
    await inspector.nc.flush()  # the server has routed everything it would have sent us
    assert TOKEN not in seen
    await query_api.nc.close()


@pytest.mark.parametrize("bucket", list(BUCKETS))
async def test_the_inspector_reads_no_bucket(inspector: Session, bucket: str) -> None:
    for subject in (
        f"$JS.API.STREAM.INFO.KV_{bucket}",
        f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{SEEDED_KEY}",
        f"$JS.API.STREAM.MSG.GET.KV_{bucket}",
        f"$JS.API.CONSUMER.CREATE.KV_{bucket}",
    ):
        await inspector.refuses_publish(subject)


async def test_the_inspector_can_still_look_at_the_event_stream(
    admin: Session, inspector: Session
) -> None:
    await admin.js.publish("hearth.evt.git.PushReceived.inspect", b'{"seen": true}')
    await inspector.settle()
    refused_before = len(inspector.refusals)
    js = inspector.js
    info = await js.stream_info(EVENTS_STREAM)
    assert info.state.messages > 0
    names = await js.streams_info()
    assert EVENTS_STREAM in {s.config.name for s in names}
    # `nats stream view`: an ephemeral consumer read from the start.
    consumer = await js.add_consumer(
        EVENTS_STREAM,
        ConsumerConfig(ack_policy=AckPolicy.NONE, inactive_threshold=30),
    )
    view = await js.pull_subscribe_bind(durable=consumer.name, stream=EVENTS_STREAM)
    assert await view.fetch(1, timeout=10)
    # `nats sub --stream` / an ordered consumer, delivered to the inspector's own inbox.
    ordered = await js.subscribe("hearth.evt.>", ordered_consumer=True)
    message = await ordered.next_msg(timeout=10)
    assert message.subject.startswith("hearth.evt.")
    await ordered.unsubscribe()
    await inspector.settle()
    assert inspector.refusals[refused_before:] == []
