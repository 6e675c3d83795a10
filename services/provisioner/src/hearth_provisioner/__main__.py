"""Entry point: `python -m hearth_provisioner` (or `hearth-provisioner`)."""

from hearth_provisioner.entrypoints.run import main

if __name__ == "__main__":
    main()
