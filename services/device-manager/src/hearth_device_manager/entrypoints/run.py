"""Start the device manager as a service process."""

from hearth_device_manager.bootstrap import bootstrap
from hearth_device_manager.settings import DeviceManagerSettings
from hearth_servicekit import run_service


def main() -> None:
    run_service(
        bootstrap, name="device-manager", settings_class=DeviceManagerSettings, default_port=8182
    )
