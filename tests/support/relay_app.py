"""A small event-sourced application for the relay tests, and a relay process to kill.

Run as ``python -m tests.support.relay_app DSN SCHEMA NATS_URL`` to relay until killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import nats
from eventsourcing.domain import event

from hearth_events import EventData
from hearth_events.catalogue import DeploymentLogged, LogLine
from hearth_eventstore.relay import Relay
from hearth_eventstore.store import HearthAggregate, HearthApplication, Meta, open_application


class Journal(HearthAggregate):
    """Keeps numbered log lines; each ``write`` records one DeploymentLogged."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines = 0

    def write(self, n: int) -> None:
        self.record(
            DeploymentLogged(
                deployment_id=self.name,
                target="relay-test",
                lines=(LogLine(at=datetime(2026, 11, 22, tzinfo=UTC), message=f"line {n}"),),
            ),
            Meta(actor="test"),
        )

    def when(self, data: EventData) -> None:
        if isinstance(data, DeploymentLogged):
            self.lines += 1

    class Noted(HearthAggregate.Event):
        n: int

    @event(Noted)
    def note(self, n: int) -> None:
        """Bookkeeping of the aggregate's own, as a deployment stores between its catalogue
        events: stored, never published."""
        self.noted = n


class JournalApp(HearthApplication):
    def start(self, name: str) -> UUID:
        journal = Journal(name)
        self.save(journal)
        return journal.id

    def append(self, journal_id: UUID, count: int, first: int = 0, *, notes: bool = False) -> None:
        """``count`` catalogue events; with ``notes``, each followed by a bookkeeping one."""
        journal: Journal = self.repository.get(journal_id)
        for n in range(first, first + count):
            journal.write(n)
            if notes:
                journal.note(n)
        self.save(journal)


class Inserts:
    """Counts an application's inserts (one transaction each)."""

    def __init__(self, app: HearthApplication) -> None:
        self.count = 0
        insert = app.recorder.insert_events

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return insert(*args, **kwargs)

        app.recorder.insert_events = counted  # type: ignore[method-assign]


#: Events per batch of the test relay (each batch is one pass of the relay's fault points).
BATCH_ENV = "RELAY_MAX_EVENTS"


def journal_app(dsn: str, schema: str) -> JournalApp:
    return open_application(JournalApp, dsn, schema)


async def relay_forever(dsn: str, schema: str, nats_url: str) -> None:
    app = journal_app(dsn, schema)
    nc = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    # Small batches, so a fault armed for the Nth pass lands within a few dozen events.
    batch = int(os.environ.get(BATCH_ENV, "5"))
    await Relay(app, dsn, nc, source="relay-test", poll_s=0.05, max_events=batch).run(stop)
    await nc.close()


if __name__ == "__main__":
    asyncio.run(relay_forever(*sys.argv[1:4]))
