"""Entry point: `python -m hearth_notifier` (or `hearth-notifier`)."""

from hearth_notifier.entrypoints.run import main

if __name__ == "__main__":
    main()
