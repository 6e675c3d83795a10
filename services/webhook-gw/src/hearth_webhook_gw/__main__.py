"""Entry point: `python -m hearth_webhook_gw` (or `hearth-webhook-gw`)."""

from hearth_servicekit import run_service
from hearth_webhook_gw.bootstrap import bootstrap


def main() -> None:
    run_service(bootstrap, name="webhook-gw", default_port=8090)


if __name__ == "__main__":
    main()
