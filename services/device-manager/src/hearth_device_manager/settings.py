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
    firmware_verify_s: float = Field(
        default=600.0,
        gt=0,
        description="how long a device may take to update and come back online in a rollout",
    )
    gen1_poll_s: float = Field(
        default=60.0, gt=0, description="GET /status of a Gen1 device after this long without CoIoT"
    )
    coiot_port: int = Field(
        default=5683, ge=0, le=65535, description="UDP port of the shared CoIoT socket (Gen1)"
    )
    coiot_peer: str = Field(
        default="",
        pattern=r"^$|^[^:\s]+:\d+$",
        description="host:port Gen1 devices send CoIoT updates to; set on each device when "
        "it differs (empty: leave devices as they are, multicast 224.0.1.187:5683)",
    )
    wake_ws_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="port of the WebSocket endpoint sleeping Gen2+ devices dial "
        "(/api/shelly/ws); unset: none",
    )
    wake_ws_url: str = Field(
        default="",
        description="that endpoint's URL as the devices reach it (ws://host:port/api/shelly/ws);"
        " set on each sleeping Gen2+ device while it is awake (empty: leave devices as they are)",
    )
    sleep_grace: float = Field(
        default=0.5,
        ge=0,
        description="a sleeping device is online while its last wake-up is "
        "younger than its wake period x (1 + this)",
    )
    sleep_period_s: float = Field(
        default=21600.0, gt=0, description="wake period assumed until a sleeping device tells"
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
