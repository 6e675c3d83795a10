"""Entry point: `python -m hearth_notifier` (or `hearth-notifier`)."""

from hearth_notifier.bootstrap import bootstrap
from hearth_servicekit import run_service


def main() -> None:
    run_service(bootstrap, name="notifier", default_port=8184)


if __name__ == "__main__":
    main()
