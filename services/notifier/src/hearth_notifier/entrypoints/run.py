"""``python -m hearth_notifier`` (or ``hearth-notifier``): run the notifier."""

from hearth_notifier.bootstrap import bootstrap
from hearth_servicekit import run_service


def main() -> None:
    run_service(bootstrap, name="notifier", default_port=8184)
