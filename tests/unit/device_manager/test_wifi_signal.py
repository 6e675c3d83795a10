"""Wi-Fi signal in the compact live status: in 5 dB steps, so a signal jittering by a dB or
two does not rewrite the status (and the KV bucket) on every push."""

from __future__ import annotations

from hearth_device_manager.domain.gen1_status import gen2_shape
from hearth_device_manager.domain.status import compact_status, wifi_signal


def status(rssi: int, state: str = "got ip") -> dict[str, object]:
    return {"sys": {"cfg_rev": 3}, "wifi": {"status": state, "ssid": "homelab", "rssi": rssi}}


def compact(rssi: int, state: str = "got ip") -> dict[str, object]:
    return compact_status(
        online=True,
        address="10.0.0.9",
        model="SNSW-001P16EU",
        generation=2,
        status=status(rssi, state),
    )


def test_a_jittering_signal_leaves_the_status_equal() -> None:
    assert compact(-58) == compact(-60) == compact(-62)  # no new write for 1-2 dB
    assert compact(-61)["rssi"] == -60
    assert compact(-68)["rssi"] == -70


def test_no_signal_when_not_connected() -> None:
    assert "rssi" not in compact(-60, "disconnected")
    assert wifi_signal({"status": "got ip", "rssi": 0}) is None
    assert wifi_signal({}) is None


def test_a_gen1_station_is_shown_as_gen2_wifi() -> None:
    connected = gen2_shape(
        {"wifi_sta": {"connected": True, "ssid": "lab", "ip": "10.0.0.5", "rssi": -71}}
    )
    assert connected["wifi"] == {
        "status": "got ip",
        "ssid": "lab",
        "sta_ip": "10.0.0.5",
        "rssi": -71,
    }
    assert wifi_signal(connected["wifi"]) == -70
    away = gen2_shape({"wifi_sta": {"connected": False, "ssid": "", "ip": "", "rssi": 0}})
    assert wifi_signal(away["wifi"]) is None
