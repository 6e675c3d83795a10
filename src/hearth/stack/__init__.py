"""The embedded one-machine stack behind ``hearth up``."""
