"""Entry point: `python -m hearth_webhook_gw` (or `hearth-webhook-gw`)."""

from hearth_webhook_gw.entrypoints.run import main

if __name__ == "__main__":
    main()
