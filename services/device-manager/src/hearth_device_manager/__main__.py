"""Entry point: `python -m hearth_device_manager` (or `hearth-device-manager`)."""

from hearth_device_manager.entrypoints.run import main

if __name__ == "__main__":
    main()
