"""Entry point: `python -m hearth_deployer` (or `hearth-deployer`)."""

from hearth_deployer.entrypoints.run import main

if __name__ == "__main__":
    main()
