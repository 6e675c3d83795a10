"""``python -m hearth_webhook_gw`` (or ``hearth-webhook-gw``): run the gateway."""

from hearth_servicekit import run_service
from hearth_webhook_gw.bootstrap import bootstrap
from hearth_webhook_gw.settings import WebhookSettings


def main() -> None:
    run_service(bootstrap, name="webhook-gw", settings_class=WebhookSettings, default_port=8090)
