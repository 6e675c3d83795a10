"""Entry point: `python -m hearth_webhook_gw` (or `hearth-webhook-gw`)."""

from hearth_servicekit import run_service
from hearth_webhook_gw.bootstrap import bootstrap
from hearth_webhook_gw.settings import WebhookSettings


def main() -> None:
    run_service(bootstrap, name="webhook-gw", settings_class=WebhookSettings, default_port=8090)


if __name__ == "__main__":
    main()
