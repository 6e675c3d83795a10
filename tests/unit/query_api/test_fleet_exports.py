"""The fleet's files and graphs from rows: host names, MACs, addresses, the online bar."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hearth_query_api.domain.fleet import as_dhcpd, as_kea, hostnames, ip_of, mac_colons
from hearth_query_api.entrypoints.dashboard.fleet_charts import online_strip


def device(device_id: str, name: str | None, mac: str | None, address: str | None) -> Any:
    return {"device_id": device_id, "name": name, "mac": mac, "address": address}


def test_host_names_are_dns_labels_and_unique() -> None:
    rows = [
        device("a", "Kitchen Light", None, None),
        device("b", "kitchen light", None, None),
        device("c", None, None, None),
        device("d", "*** ", None, None),
    ]
    assert hostnames(rows) == {
        "a": "kitchen-light",
        "b": "kitchen-light-2",
        "c": "c",
        "d": "device",
    }


def test_macs_and_addresses_as_dhcp_servers_take_them() -> None:
    assert mac_colons("A8032AB10001") == "a8:03:2a:b1:00:01"
    assert mac_colons("a8-03-2a-b1-00-01") == "a8:03:2a:b1:00:01"
    assert mac_colons("nonsense") is None
    assert ip_of("10.0.0.5:8081") == "10.0.0.5"  # a simulator's port is no part of it
    assert ip_of("10.0.0.5") == "10.0.0.5"
    assert ip_of("[fd00::5]:80") == "fd00::5"
    assert ip_of("fd00::5") == "fd00::5"


def test_only_devices_with_a_mac_and_an_address_get_a_reservation() -> None:
    rows = [
        device("a", "porch", "A8032AB10001", "10.0.0.5"),
        device("b", "attic", None, "10.0.0.6"),
        device("c", "shed", "A8032AB10003", None),
    ]
    assert "host porch {" in as_dhcpd(rows) and "attic" not in as_dhcpd(rows)
    assert json.loads(as_kea(rows)) == {
        "reservations": [
            {"hw-address": "a8:03:2a:b1:00:01", "ip-address": "10.0.0.5", "hostname": "porch"}
        ]
    }


def test_the_online_bar_spans_the_window_in_colours_of_state() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    end = start + timedelta(hours=24)
    changes = [
        (start - timedelta(hours=2), True),  # in force when the window opens
        (start + timedelta(hours=6), False),
        (start + timedelta(hours=12), True),
    ]
    strip = online_strip(changes, start, end, width=240, height=10)
    assert [(s.x, s.width, s.tone) for s in strip.segments] == [
        (0.0, 60.0, "ok"),
        (60.0, 60.0, "bad"),
        (120.0, 120.0, "ok"),
    ]
    assert strip.online_share == 0.75
    # Nothing known before its first report: that part stays blank and does not count.
    late = online_strip([(start + timedelta(hours=18), True)], start, end, width=240)
    assert [(s.x, s.tone) for s in late.segments] == [(180.0, "ok")] and late.online_share == 1.0
    assert online_strip([], start, end).segments == []
