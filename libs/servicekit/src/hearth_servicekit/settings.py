"""Settings shared by every service, from ``HEARTH_*`` environment variables.

Loaded once, by a service's entry point, and passed down; never read at import time.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARTH_", extra="ignore", frozen=True)

    nats_url: str = Field(
        default="nats://127.0.0.1:4223", description="NATS server(s), comma-separated"
    )
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL DSN")
    scope_key: SecretStr | None = Field(
        default=None,
        description="this service's secret-scope key (never the installation key); "
        "`hearth secret service-key --for <service>` prints it",
    )
    data_dir: Path = Path(".hearth")
    instance: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="health/metrics port; unset: the service's own (8080, 8090, 8181, ...); "
        "0: any free port (the log's 'http listening' line says which)",
    )
    log_level: str = "info"
    log_format: str | None = Field(default=None, description="json or console; default by TTY")
    shutdown_grace_s: float = 20.0
    public_url: str = Field(default="http://127.0.0.1:8080", description="dashboard URL for links")

    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]
