"""``python -m hearth_provisioner`` (or ``hearth-provisioner``): run the provisioner."""

from hearth_provisioner.bootstrap import bootstrap
from hearth_servicekit import run_service


def main() -> None:
    run_service(bootstrap, name="provisioner", default_port=8183)
