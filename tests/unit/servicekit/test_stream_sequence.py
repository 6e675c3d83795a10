"""The stream sequence and the pending count read from a JetStream ack subject are the ones
nats-py reads."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from hearth_servicekit.consumer import stream_pending, stream_sequence

REPLIES = [
    # the plain form: stream, consumer, delivered, stream seq, consumer seq, time, pending
    "$JS.ACK.HEARTH_EVENTS.query-api-projections.1.4711.4700.1733400000000000000.12",
    "$JS.ACK.HEARTH_EVENTS.query-api-projections.3.1.1.1733400000000000000.0",
    # with a domain and an account hash, and a random token after them
    "$JS.ACK.hub.ACCOUNTHASH.HEARTH_EVENTS.query-api-projections.2.99.98.1733400000000000000.5",
    "$JS.ACK._.ACCOUNTHASH.HEARTH_EVENTS.query-api-projections.2.99.98.1733400000000000000.5.x",
]


@pytest.mark.parametrize("reply", REPLIES)
def test_the_sequence_is_what_nats_py_reads(reply: str) -> None:
    message = Msg(None, subject="hearth.evt.x", reply=reply)  # type: ignore[arg-type]
    assert stream_sequence(message) == Msg.Metadata._from_reply(reply).sequence.stream


@pytest.mark.parametrize("reply", REPLIES)
def test_the_pending_count_is_what_nats_py_reads(reply: str) -> None:
    message = Msg(None, subject="hearth.evt.x", reply=reply)  # type: ignore[arg-type]
    assert stream_pending(message) == Msg.Metadata._from_reply(reply).num_pending


def test_a_message_without_an_ack_subject_is_refused_as_nats_py_refuses_it() -> None:
    with pytest.raises(Exception) as refused:
        stream_sequence(Msg(None, subject="hearth.evt.x", reply=""))  # type: ignore[arg-type]
    assert type(refused.value).__name__ == "NotJSMessageError"
