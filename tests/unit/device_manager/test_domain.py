"""The device manager's pure domain: the Device aggregate, debounced presence, backoff."""

from __future__ import annotations

import pytest
from aioshelly.exceptions import DeviceConnectionError, InvalidAuthError, RpcCallError

from hearth_device_manager.adapters.coordinator import Backoff
from hearth_device_manager.adapters.shelly import domain_error
from hearth_device_manager.domain.device import Device, Found, IllegalTransition, normal_mac
from hearth_device_manager.domain.errors import (
    DeviceBusy,
    OtherDeviceError,
    Unreachable,
    WrongCredentials,
)
from hearth_device_manager.domain.presence import Presence
from hearth_events.catalogue import FieldDiff
from hearth_eventstore.store import Meta

META = Meta(actor="test")
FOUND = Found("shellyplus1pm-a8032ab12345", "A8032AB12345", "SNSW-001P16EU", 2, "10.0.0.5")


def names(device: Device) -> list[str]:
    return [e.type_name for e in device.collect_events() if hasattr(e, "type_name")]


def test_a_mac_is_written_one_way() -> None:
    assert normal_mac("a8:03:2a:b1:23:45") == "A8032AB12345"
    with pytest.raises(ValueError):
        normal_mac("not-a-mac")


def test_a_device_is_discovered_once_and_followed_to_a_new_address() -> None:
    device = Device(FOUND.mac)
    assert device.discover(FOUND, META)
    assert not device.discover(FOUND, META)
    moved = Found(FOUND.device_id, "a8:03:2a:b1:23:45", FOUND.model, 2, "10.0.0.9", 8080)
    assert device.discover(moved, META)
    assert device.address == "10.0.0.9:8080"
    assert names(device) == ["DeviceDiscovered"]


def test_illegal_transitions_are_refused() -> None:
    device = Device(FOUND.mac)
    with pytest.raises(IllegalTransition):
        device.adopt("porch", META)
    device.discover(FOUND, META)
    with pytest.raises(IllegalTransition):
        device.went_online(META)
    other = Found("shellyplus1pm-000000000001", "000000000001", FOUND.model, 2, "10.0.0.5")
    with pytest.raises(IllegalTransition):
        device.discover(other, META)


def test_a_released_device_forgets_what_hearth_wanted_and_can_be_adopted_again() -> None:
    device = Device(FOUND.mac)
    device.discover(FOUND, META)
    assert not device.release("operator", META)  # not managed: nothing to release
    device.adopt("porch", META)
    device.use_secret("porch-password")
    device.went_online(META)
    device.desire({"sys": {"name": "Porch"}}, "home/config", "c1", META, groups=("house",))
    diff = FieldDiff(path="sys.name", desired="Porch", actual="x")
    device.drifted([diff], META)
    assert device.release("repository", META, "gone at c2")
    assert not device.release("repository", META)
    assert (device.adopted, device.name, device.online, device.password_secret) == (
        False,
        None,
        None,
        None,
    )
    assert (device.desired, device.desired_groups, device.drift) == (None, None, ())
    with pytest.raises(IllegalTransition):
        device.went_online(META)
    with pytest.raises(IllegalTransition):
        device.drifted([diff], META)
    assert device.adopt("porch", META)  # recorded again
    assert device.went_online(META)  # presence starts afresh
    recorded = names(device)
    assert (recorded.count("DeviceAdopted"), recorded.count("DeviceReleased")) == (2, 1)


def test_presence_events_only_on_transitions() -> None:
    device = Device(FOUND.mac)
    device.discover(FOUND, META)
    assert device.adopt("porch", META)
    assert not device.adopt("porch", META)
    assert not device.went_offline(META)  # never online: nothing to announce
    assert device.went_online(META)
    assert not device.went_online(META)
    assert device.went_offline(META)
    assert not device.went_offline(META)
    assert names(device) == ["DeviceDiscovered", "DeviceAdopted", "DeviceOnline", "DeviceOffline"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flapping_device_announces_nothing_within_the_window() -> None:
    clock = FakeClock()
    presence = Presence(window_s=30, announced=True, observed=True)
    for _ in range(10):  # down and up again every 5 s
        presence.observe(False, clock())
        clock.now += 5
        assert presence.transition(clock()) is None
        presence.observe(True, clock())
        clock.now += 5
        assert presence.transition(clock()) is None
    assert presence.due_at() is None


def test_a_lasting_change_is_announced_once_after_the_window() -> None:
    clock = FakeClock()
    presence = Presence(window_s=30, announced=True, observed=True)
    presence.observe(False, clock())
    clock.now += 29.9
    assert presence.transition(clock()) is None
    assert presence.due_at() == 1030.0
    clock.now = 1030.0
    assert presence.transition(clock()) is False
    assert presence.transition(clock()) is None
    presence.observe(False, clock())  # still down: no new window
    assert presence.due_at() is None


def test_backoff_grows_to_its_bound_and_waits_long_after_wrong_credentials() -> None:
    backoff = Backoff(first_s=1, max_s=60, credentials_s=3600, jitter=0.2)
    lost = Unreachable("x")
    assert [backoff.delay(n, lost, 0.5) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(0, lost, 0.0) == pytest.approx(0.8)
    assert backoff.delay(0, lost, 0.999999) == pytest.approx(1.2, rel=1e-4)
    assert backoff.delay(0, WrongCredentials("x"), 0.5) == 3600


def test_aioshelly_errors_become_a_few_domain_errors() -> None:
    assert isinstance(domain_error(InvalidAuthError(), "d"), WrongCredentials)
    assert isinstance(domain_error(DeviceConnectionError(), "d"), Unreachable)
    assert isinstance(domain_error(ConnectionRefusedError(), "d"), Unreachable)
    assert isinstance(domain_error(RpcCallError(-108, "busy"), "d"), DeviceBusy)
    assert isinstance(domain_error(RpcCallError(-105, "no"), "d"), OtherDeviceError)
    assert "password_secret" in str(domain_error(InvalidAuthError(), "d"))


def test_bookkeeping_stored_before_named_events_replays_to_the_same_state() -> None:
    from datetime import UTC, datetime

    from eventsourcing.utils import resolve_topic

    import hearth_device_manager.adapters.store  # noqa: F401  (registers the old topic)
    from hearth_device_manager.domain.legacy import Noted

    old = resolve_topic("hearth_device_manager.domain.device:DeviceAggregate.Noted")
    assert old is Noted
    device = Device(FOUND.mac)
    device.discover(FOUND, META)
    version = device.version
    for kind, fields in [
        ("found", {"host": "10.0.0.7", "port": 8081, "sleeping": True}),
        ("credentials", {"secret": "porch-password"}),
    ]:
        version += 1
        Noted(  # type: ignore[call-arg]
            originator_id=device.id,
            originator_version=version,
            timestamp=datetime.now(UTC),
            kind=kind,
            fields=fields,
        ).apply(device)
    assert (device.address, device.sleeping) == ("10.0.0.7:8081", True)
    assert device.password_secret == "porch-password"
