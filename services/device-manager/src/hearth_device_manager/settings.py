"""The device manager's own settings (``HEARTH_*``), beside those every service shares."""

from __future__ import annotations

from pydantic import Field

from hearth_servicekit import ServiceSettings


class DeviceManagerSettings(ServiceSettings):
    discovery_cidrs: list[str] = Field(
        default=[], description="networks scanned on the schedule, e.g. 192.168.1.0/24"
    )
    discovery_ports: list[int] = Field(
        default=[80], description="ports asked for GET /shelly; real devices answer on 80"
    )
    discovery_interval_s: float = Field(
        default=0.0, ge=0, description="seconds between scheduled scans; 0 = on demand only"
    )
    discovery_mdns: bool = Field(default=True, description="browse mDNS for Shelly services")
    discovery_mdns_interfaces: list[str] = Field(
        default=[], description="addresses of the interfaces browsed; empty = all"
    )
    scan_concurrency: int = Field(default=64, ge=1, description="addresses asked at once")
    scan_timeout_s: float = Field(default=1.0, gt=0, description="per address")
    presence_window_s: float = Field(
        default=30.0, ge=0, description="a state must hold this long to become an event"
    )
    connect_concurrency: int = Field(default=16, ge=1, description="devices connecting at once")
    reconnect_first_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=300.0, gt=0)
    wrong_credentials_retry_s: float = Field(
        default=3600.0, gt=0, description="wait after a device refused its password"
    )
    drift_interval_s: float = Field(
        default=300.0, ge=0, description="seconds between drift checks (cfg_rev first); 0 = off"
    )
    apply_concurrency: int = Field(
        default=8, ge=1, description="devices compared or applied at once"
    )
    apply_comeback_s: float = Field(
        default=60.0, gt=0, description="how long a device rebooting during an apply may take"
    )
    apply_attempts: int = Field(
        default=3, ge=1, description="sends of one apply when the device drops the connection"
    )
