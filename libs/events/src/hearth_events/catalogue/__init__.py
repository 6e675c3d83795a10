"""The event catalogue. Importing this package registers every event class."""

from hearth_events.base import EventData, registered_classes
from hearth_events.catalogue.deploy import *  # noqa: F403
from hearth_events.catalogue.device import *  # noqa: F403
from hearth_events.catalogue.git import *  # noqa: F403
from hearth_events.catalogue.notify import *  # noqa: F403
from hearth_events.catalogue.provision import *  # noqa: F403
from hearth_events.catalogue.target import *  # noqa: F403


def all_event_classes() -> dict[str, type[EventData]]:
    """Every event class of the catalogue, by type name."""
    return registered_classes()
