"""Entry point: `python -m hearth_device_manager` (or `hearth-device-manager`)."""

from hearth_device_manager.bootstrap import bootstrap
from hearth_device_manager.settings import DeviceManagerSettings
from hearth_servicekit import run_service


def main() -> None:
    run_service(
        bootstrap, name="device-manager", settings_class=DeviceManagerSettings, default_port=8182
    )


if __name__ == "__main__":
    main()
