"""Start the deployer as a service process."""

from hearth_deployer.bootstrap import bootstrap
from hearth_deployer.settings import DeployerSettings
from hearth_servicekit import run_service


def main() -> None:
    run_service(bootstrap, name="deployer", settings_class=DeployerSettings, default_port=8181)
