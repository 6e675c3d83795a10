"""Relay trials of ``python -m bench faults``: kill -9 at a relay point, each one judged.

A trial stores a random number of events in a fresh schema, starts a relay process armed
with ``HEARTH_FAULT=<point>@<n>:kill`` (the points in turn, the pass at random), checks it
died by SIGKILL at that point (its marker), lets the store grow, restarts a clean relay
until it has saved the store's last position, and then reads the stream's new messages:
every stored event must be there exactly once and in store order.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import psycopg

from bench.fault_tools import Trial
from hearth_events import parse_event
from hearth_events.jetstream import EVENTS_STREAM, STREAMS, ensure
from hearth_eventstore.store import HearthAggregate
from hearth_servicekit.faults import FAULT_ENV, READY_ENV
from tests.support.relay_app import BATCH_ENV, JournalApp, journal_app

RELAY_POINTS = (
    "relay.before_publish",
    "relay.after_publish_before_position",
    "relay.after_position",
)


@dataclass(frozen=True)
class Outcome:
    point: str
    hit: bool  # died by SIGKILL with the point's marker
    resent: bool  # the restarted relay re-sent an event JetStream already held
    lost: int
    duplicated: int
    reordered: bool


def judge(
    point: str, hit: bool, expected: list[str], streamed: list[str], resent: bool = False
) -> Outcome:
    seen = set(streamed)
    first_copies = list(dict.fromkeys(streamed))
    return Outcome(
        point,
        hit,
        resent,
        lost=sum(1 for event_id in expected if event_id not in seen),
        duplicated=len(streamed) - len(seen),
        reordered=first_copies != [e for e in expected if e in seen],
    )


def summarize(outcomes: list[Outcome]) -> list[tuple[str, int, int, int, int, int, int]]:
    """(point, trials, missed, re-sent, lost, duplicated, reordered) per point, by point."""
    rows = []
    for point in sorted({o.point for o in outcomes}):
        mine = [o for o in outcomes if o.point == point]
        rows.append(
            (
                point,
                len(mine),
                sum(not o.hit for o in mine),
                sum(o.resent for o in mine),
                sum(o.lost for o in mine),
                sum(o.duplicated for o in mine),
                sum(o.reordered for o in mine),
            )
        )
    return rows


def _stored(app: JournalApp) -> list[tuple[int, str]]:
    events: list[tuple[int, str]] = []
    start = 1
    while section := app.recorder.select_notifications(start, 100):
        for notification in section:
            event = app.mapper.to_domain_event(notification)
            if isinstance(event, HearthAggregate.Recorded):
                events.append((notification.id, event.event_id))
        start = section[-1].id + 1
    return events


def _saved_position(dsn: str, schema: str) -> int | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT position FROM {schema}.hearth_relay_position WHERE name = 'main'"
        ).fetchone()
    return None if row is None else int(row[0])


BATCH = 5


def _relay(dsn: str, schema: str, url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.relay_app", dsn, schema, url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, FAULT_ENV: "", BATCH_ENV: str(BATCH), **env},
    )


async def _streamed_since(js: Any, first_seq: int) -> list[str]:
    info = await js.stream_info(EVENTS_STREAM)
    ids = []
    for seq in range(first_seq, info.state.last_seq + 1):
        message = await js.get_msg(EVENTS_STREAM, seq)
        ids.append(str(parse_event(message.data).event_id))
    return ids


async def trial(
    dsn: str, url: str, js: Any, n: int, rng: random.Random, work: Path, point: str | None = None
) -> Outcome:
    schema = f"faults_{n}"
    app = await asyncio.to_thread(journal_app, dsn, schema)
    journal = await asyncio.to_thread(app.start, f"trial-{n}")
    count = rng.randint(5, 40)
    await asyncio.to_thread(app.append, journal, count)
    point = point or RELAY_POINTS[n % len(RELAY_POINTS)]  # each in turn, unless given
    # The test relay sends a first event alone, then batches of BATCH: one pass each.
    nth = rng.randint(1, 1 + math.ceil((count - 1) / BATCH))
    first_seq = (await js.stream_info(EVENTS_STREAM)).state.last_seq + 1
    marker = work / f"fault-{n}"
    env = {FAULT_ENV: f"{point}@{nth}:kill", READY_ENV: str(marker)}
    relay = _relay(dsn, schema, url, env)
    code = await asyncio.to_thread(relay.wait, 120)
    hit = code == -signal.SIGKILL and marker.exists() and marker.read_text().startswith(point)
    await asyncio.to_thread(app.append, journal, rng.randint(0, 10), 1000)
    expected = await asyncio.to_thread(_stored, app)
    resend = work / f"resend-{n}"
    env = {FAULT_ENV: "relay.duplicate_acked:mark", READY_ENV: str(resend)}
    relay = _relay(dsn, schema, url, env)
    try:
        async with asyncio.timeout(120):
            while await asyncio.to_thread(_saved_position, dsn, schema) != expected[-1][0]:
                await asyncio.sleep(0.05)
    finally:
        relay.send_signal(signal.SIGTERM)
        await asyncio.to_thread(relay.wait, 20)
    streamed = await _streamed_since(js, first_seq)
    ids = [event_id for _, event_id in expected]
    return judge(point, hit, ids, streamed, resent=resend.exists())


def as_trial(outcome: Outcome, seconds: float) -> Trial:
    other = ("out of store order",) if outcome.reordered else ()
    return Trial(
        "relay",
        outcome.point,
        outcome.hit,
        outcome.lost,
        outcome.duplicated,
        other=other,
        seconds=seconds,
    )


async def run_trials(dsn: str, url: str, trials: int, seed: int = 1) -> list[Outcome]:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="hearth-faults-"))
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS))
        return [await trial(dsn, url, js, n, rng, work) for n in range(trials)]
    finally:
        await nc.close()
        shutil.rmtree(work, ignore_errors=True)
