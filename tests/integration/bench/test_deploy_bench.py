"""The deployment benchmark runs end to end (tiny sizes: this checks it works, not speed)."""

from __future__ import annotations

import re

import pytest

from bench.deploy import STEPS, Timing, run_deploy
from bench.io_floor import EVENTS, WRITES

pytestmark = pytest.mark.integration

BYTES = re.compile(r"bytes sent ([\d,]+) / bytes changed ([\d,]+)")


def bytes_reported(timing: Timing) -> tuple[int, int]:
    found = BYTES.search(timing.detail)
    assert found, f"{timing.what}: no bytes in {timing.detail!r}"
    sent, changed = (int(n.replace(",", "")) for n in found.groups())
    return sent, changed


async def test_the_deployment_benchmark_runs() -> None:
    timings = await run_deploy(files=20, repeats=2, fan_out=2)

    assert [(t.benchmark, t.what.split(":")[0]) for t in timings] == [
        ("push to live", "hearth"),
        ("push to live", "baseline"),
        ("fan-out", "hearth"),
        ("fan-out", "hearth"),
        ("fan-out", "floor"),
        ("fan-out", "baseline"),
        ("fan-out", "floor"),
        ("fan-out", "floor"),
        ("fan-out", "floor"),
        ("fan-out", "floor"),
        *[("fan-out", "step")] * len(STEPS),
        ("slow link", "hearth"),
        ("slow link", "floor"),
    ]
    assert all(t.what and t.detail for t in timings)
    budget = timings[8]  # a difference of two times: at tiny sizes it may come out below 0
    assert all(t.p50_s > 0 for t in timings if t is not budget)
    push, scp, *_ = timings
    assert "1 of 20 files" in push.what and "20 files" in scp.what
    one, many = timings[2], timings[3]
    # One target and the fan-out: the median of three rounds, each a push to one, then to all.
    for repeated in (push, scp, one, many):
        assert repeated.p95_s is not None and repeated.p95_s >= repeated.p50_s
    assert "each before one of the fan-out's" in one.detail
    assert "each after one to the 1 target" in many.detail
    assert all(t.p95_s is None for t in timings[4:10])  # the floors and scp: measured once
    assert "1 target" in one.what and "2 targets" in many.what
    for hearth in (push, one, many):
        sent, changed = bytes_reported(hearth)
        assert sent >= changed > 0, hearth.detail
    for fan in (one, many):  # the changed file, whole, to each of the pushes' targets only
        sent, changed = bytes_reported(fan)
        assert sent == changed, fan.detail
    assert bytes_reported(many)[1] == 2 * bytes_reported(one)[1]
    cpu = timings[4]  # the fan-out's CPU on every core: no scheduling of it is faster
    assert "2 deployments" in cpu.what and "times the 1-target time" in cpu.detail
    assert "sshd" in cpu.detail and "by process: " in many.detail and "deployer " in many.detail
    assert re.search(r"the deployer's CPU for each target past the first: -?[\d.]+ ms", many.detail)
    floor_one, floor_many = timings[6:8]  # the same I/O with the raw libraries
    assert "raw libraries, 1 host" in floor_one.what and "2 hosts at once" in floor_many.what
    assert "if Hearth's own work per target cost nothing" in floor_many.detail
    assert "CPU, every process:" in floor_many.detail
    # The floor counts what Hearth's deployment stores and publishes, no more, no less.
    counted = re.search(r"\((\d+) events; Hearth's last to fleet-00: (\d+)\)", floor_one.detail)
    assert counted is not None and counted[1] == counted[2] == str(sum(EVENTS)), floor_one.detail
    assert "each target past the first" in budget.what
    assert re.fullmatch(
        r"Hearth: -?[\d.]+ ms; at most 3 times the 1-target time allows [\d.]+ ms; so the raw "
        r"I/O leaves Hearth's own work per target -?[\d.]+ ms",
        budget.detail,
    ), budget.detail
    assert "no I/O" in timings[9].what and f"{len(WRITES)} saves" in timings[9].detail
    steps = timings[10:-2]  # each step of a deployment, every one of them seen in both pushes
    assert [t.what.split(":")[1].split(",")[0].strip() for t in steps] == [n for *_, n in STEPS]
    for step in steps:
        assert step.p95_s is not None and step.p95_s >= step.p50_s  # the slowest of the two
        assert "2 targets" in step.what and "1 target alone:" in step.detail
    slow, slow_floor = timings[-2:]  # across a link that delays every round trip
    assert slow.p95_s is not None and slow.p95_s >= slow.p50_s
    assert "round trips' worth slower" in slow.detail and "round trips' worth" in slow_floor.detail
