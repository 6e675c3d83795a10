"""The webhook gateway's own settings, beside those every service shares."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from hearth_servicekit import ServiceSettings
from hearth_webhook_gw.entrypoints.http import IN_FLIGHT

#: The most gateway workers one port takes; past the machine's cores more only cost memory.
MAX_WORKERS = 16


class WebhookSettings(ServiceSettings):
    webhook_in_flight: int = Field(
        default=IN_FLIGHT,
        ge=1,
        le=256,
        description="deliveries read and checked at once (HEARTH_WEBHOOK_IN_FLIGHT); each "
        "may hold a body of up to 25 MiB, and one more is answered 503 with Retry-After",
    )
    webhook_workers: int = Field(
        default=1,
        ge=1,
        le=MAX_WORKERS,
        description="gateway processes sharing the HTTP port (HEARTH_WEBHOOK_WORKERS); "
        "over 1 each listens with SO_REUSEPORT and the kernel spreads connections over them; "
        "`hearth up` starts and supervises that many",
    )
    webhook_worker: int = Field(
        default=1,
        ge=1,
        le=MAX_WORKERS,
        description="which of the workers this process is (HEARTH_WEBHOOK_WORKER, from 1); "
        "only worker 1 polls repositories",
    )

    @model_validator(mode="after")
    def _worker_in_range(self) -> Self:
        if self.webhook_worker > self.webhook_workers:
            raise ValueError(
                f"worker {self.webhook_worker} of {self.webhook_workers}: "
                "HEARTH_WEBHOOK_WORKER is at most HEARTH_WEBHOOK_WORKERS"
            )
        return self

    @property
    def polls(self) -> bool:
        """Whether this process polls repositories: one worker does it for all."""
        return self.webhook_worker == 1
