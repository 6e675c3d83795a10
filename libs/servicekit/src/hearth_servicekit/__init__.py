"""What every Hearth service runs on."""

from hearth_servicekit.bus import connect_bus
from hearth_servicekit.consumer import EventConsumer
from hearth_servicekit.logging import configure_logging, get_logger
from hearth_servicekit.metrics import ServiceMetrics
from hearth_servicekit.service import BusService, run_service
from hearth_servicekit.settings import ServiceSettings

__all__ = [
    "BusService",
    "EventConsumer",
    "ServiceMetrics",
    "ServiceSettings",
    "configure_logging",
    "connect_bus",
    "get_logger",
    "run_service",
]
