"""The webhook gateway's own settings, beside those every service shares."""

from __future__ import annotations

from pydantic import Field

from hearth_servicekit import ServiceSettings
from hearth_webhook_gw.entrypoints.http import IN_FLIGHT


class WebhookSettings(ServiceSettings):
    webhook_in_flight: int = Field(
        default=IN_FLIGHT,
        ge=1,
        le=256,
        description="deliveries read and checked at once (HEARTH_WEBHOOK_IN_FLIGHT); each "
        "may hold a body of up to 25 MiB, and one more is answered 503 with Retry-After",
    )
