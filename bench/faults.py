"""``python -m bench faults [N]``: N kill -9 trials at fault points across the relay, the
deployer (every deployment and rollback point), the notifier and the projector.

Trials take the components in turn (so a short run covers each), and each component's
points in a shuffled cycle (so a long run covers each point about evenly). A trial arms
one real process with ``HEARTH_FAULT=<point>:kill``, checks it died there (the marker and
the SIGKILL), lets a clean process recover, and judges the result (see bench.fault_relay,
bench.fault_deploy, bench.fault_notify, bench.fault_project for each component's checks).

The servers are started once: one PostgreSQL, and one NATS for the relay and the deployer,
one for the notifier, one for the projector (which starts each trial on a new stream).
Service processes are forked from one that imported the service already (bench.warm).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.fault_deploy import DEPLOY_POINTS, deploy_trial, open_deploy_bench
from bench.fault_notify import notify_trial, open_notify_bench
from bench.fault_project import open_project_bench, project_trial
from bench.fault_relay import RELAY_POINTS, as_trial
from bench.fault_relay import trial as relay_trial
from bench.fault_tools import Trial
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_servicekit.faults import POINTS

#: The points each component's trials draw from (the deployer's: deploy and rollback).
TRIAL_POINTS: dict[str, tuple[str, ...]] = {
    "relay": RELAY_POINTS,
    "deploy": POINTS["deploy"],
    "rollback": POINTS["rollback"],
    "notify": POINTS["notify"],
    "project": POINTS["project"],
}
assert set(DEPLOY_POINTS) == {*POINTS["deploy"], *POINTS["rollback"]}


def schedule(trials: int, rng: random.Random) -> list[str]:
    """The point of each trial: components in turn, each one's points in shuffled cycles."""
    cycles: dict[str, list[str]] = {c: [] for c in TRIAL_POINTS}
    order = list(TRIAL_POINTS)
    points = []
    for n in range(trials):
        component = order[n % len(order)]
        if not cycles[component]:
            cycles[component] = rng.sample(TRIAL_POINTS[component], len(TRIAL_POINTS[component]))
        points.append(cycles[component].pop())
    return points


Row = tuple[str, str, int, int, int, int, int, int]


def summarize(trials: list[Trial]) -> list[Row]:
    """(component, point, trials, missed kill, lost, duplicated, half-applied, other)."""
    rows = []
    for component, point in sorted({(t.component, t.point) for t in trials}):
        mine = [t for t in trials if t.point == point]
        rows.append(
            (
                component,
                point,
                len(mine),
                sum(not t.hit for t in mine),
                sum(t.lost for t in mine),
                sum(t.duplicated for t in mine),
                sum(t.half_applied for t in mine),
                sum(bool(t.other) for t in mine),
            )
        )
    return rows


def per_component(trials: list[Trial]) -> list[tuple[str, int, float]]:
    """(component, trials, mean seconds per trial)."""
    rows = []
    for component in TRIAL_POINTS:
        mine = [t.seconds for t in trials if t.component == component]
        if mine:
            rows.append((component, len(mine), sum(mine) / len(mine)))
    return rows


async def run_faults(
    trials: int, seed: int = 1, progress: Callable[[Trial], None] | None = None
) -> list[Trial]:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="hearth-faults-"))
    servers = {name: EmbeddedNats(work / f"nats-{name}", port=free_port()) for name in "abc"}
    postgres = EmbeddedPostgres(work / "pg", port=free_port())
    for server in servers.values():
        server.start()
    postgres.start()
    dsn, main, notify_url, project_url = (
        postgres.dsn(),
        servers["a"].url,
        servers["b"].url,
        servers["c"].url,
    )
    deploy = notify = project = None
    results: list[Trial] = []
    try:
        import nats

        from hearth_events.jetstream import STREAMS, ensure

        nc = await nats.connect(main)
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS))
        deploy = await open_deploy_bench(main, dsn, work / "deploy")
        notify = await open_notify_bench(notify_url, work / "notify")
        project = await open_project_bench(project_url, dsn, work / "project")
        for n, point in enumerate(schedule(trials, rng)):
            component = point.split(".", maxsplit=1)[0]
            began = time.monotonic()
            try:
                if component == "relay":
                    outcome = await relay_trial(dsn, main, js, n, rng, work, point)
                    result = as_trial(outcome, time.monotonic() - began)
                elif component in {"deploy", "rollback"}:
                    result = await deploy_trial(deploy, n, point, rng)
                elif component == "notify":
                    result = await notify_trial(notify, n, point)
                else:
                    result = await project_trial(project, n, point, rng)
            except Exception as exc:  # the bench's own trouble: counted, and the run goes on
                reason = f"the trial broke: {type(exc).__name__}: {exc}"
                result = Trial(component, point, False, other=(reason,))
            results.append(result)
            if progress is not None:
                progress(result)
        await nc.close()
        return results
    finally:
        if deploy is not None:
            await deploy.close()
        if notify is not None:
            await notify.close()
        if project is not None:
            await project.close()
        for server in servers.values():
            server.stop()
        postgres.stop(mode="immediate")
        shutil.rmtree(work, ignore_errors=True)
