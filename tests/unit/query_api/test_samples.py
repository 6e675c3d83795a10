"""Sampling live statuses into buckets: time-weighted, carried forward, peaks kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hearth_query_api.domain.samples import Sampler, reading_of
from hearth_query_api.entrypoints.dashboard.fleet_charts import line_chart, signal_quality

T0 = 1_800_000_000 - 1_800_000_000 % 600  # a bucket's start


def status(
    watts: float | None = None, rssi: int | None = -60, online: bool = True
) -> dict[str, Any]:
    found: dict[str, Any] = {"online": online}
    if rssi is not None:
        found["rssi"] = rssi
    if watts is not None:
        found["components"] = {"switch:0": {"output": True, "apower": watts / 2}}
        found["components"]["switch:1"] = {"output": True, "apower": watts / 2}
    return found


def test_a_steady_device_reads_the_same_in_every_bucket() -> None:
    """The live status is written only when it changes: the last value counts on."""
    sampler = Sampler(bucket_s=600)
    sampler.observe("plug", status(40.0), T0)
    samples = sampler.close(T0 + 3 * 600)
    assert [(s.bucket, s.power_w, s.rssi_dbm, s.online) for s in samples] == [
        (datetime.fromtimestamp(T0 + n * 600, UTC), 40.0, -60.0, 1.0) for n in range(3)
    ]


def test_a_bucket_is_the_time_weighted_average_with_the_peak() -> None:
    sampler = Sampler(bucket_s=600)
    sampler.observe("plug", status(0.0, rssi=-70), T0)
    sampler.observe("plug", status(100.0, rssi=-50), T0 + 450)
    sampler.observe("plug", status(20.0, rssi=-50), T0 + 480)
    (sample,) = sampler.close(T0 + 600)
    # 0 W for 450 s, 100 W for 30 s, 20 W for 120 s.
    assert sample.power_w == round((100 * 30 + 20 * 120) / 600, 2)
    assert sample.power_max_w == 100.0
    assert sample.rssi_dbm == round((-70 * 450 - 50 * 150) / 600, 1)
    assert sample.rssi_min_dbm == -70
    (later,) = sampler.close(T0 + 1200)
    assert (later.power_w, later.power_max_w) == (20.0, 20.0)  # the peak was the last bucket's


def test_offline_time_counts_and_an_offline_device_has_no_signal() -> None:
    sampler = Sampler(bucket_s=600)
    sampler.observe("plug", status(10.0), T0)
    sampler.observe("plug", {"online": False}, T0 + 150)
    (sample,) = sampler.close(T0 + 600)
    assert sample.online == 0.25
    assert (sample.power_w, sample.rssi_dbm) == (10.0, -60.0)  # while it was there to say


def test_a_device_that_meters_nothing_has_no_power_and_one_seen_late_counts_from_then() -> None:
    sampler = Sampler(bucket_s=600)
    sampler.observe("plug", status(5.0), T0)
    sampler.observe("sensor", status(None, rssi=-80), T0 + 300)
    samples = {s.device_id: s for s in sampler.close(T0 + 600)}
    assert samples["sensor"].power_w is None and samples["sensor"].rssi_dbm == -80.0
    assert samples["sensor"].online == 1.0
    sampler.forget("sensor")
    assert [s.device_id for s in sampler.close(T0 + 1200)] == ["plug"]


def test_a_reading_sums_the_metering_components() -> None:
    reading = reading_of(status(30.0, rssi=-55))
    assert (reading.power_w, reading.rssi_dbm, reading.online) == (30.0, -55, True)
    assert reading_of({"online": True}).power_w is None


def test_a_line_chart_has_a_gap_where_no_bucket_was_stored_and_power_starts_at_zero() -> None:
    start = datetime.fromtimestamp(T0, UTC)
    end = datetime.fromtimestamp(T0 + 6 * 600, UTC)
    at = [datetime.fromtimestamp(T0 + n * 600, UTC) for n in range(6)]
    points = [(at[0], 10.0), (at[1], 20.0), (at[4], 30.0), (at[5], None)]
    chart = line_chart(points, start, end, bucket_s=600, width=600, height=50, floor=0.0)
    assert chart is not None
    assert chart.line.count("M") == 2  # two runs: the missing buckets are not bridged
    assert (chart.low, chart.high, chart.latest) == (0.0, 30.0, 30.0)
    assert line_chart([(at[0], None)], start, end, bucket_s=600) is None


@pytest.mark.parametrize(
    ("rssi", "words"), [(-45, "good"), (-60, "good"), (-65, "fair"), (-71, "weak"), (None, None)]
)
def test_a_signal_is_said_in_plain_words(rssi: float | None, words: str | None) -> None:
    assert signal_quality(rssi) == words
