"""``python -m hearth.cli``."""

from hearth.cli import main

main()
