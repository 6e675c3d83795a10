"""Hearth: the ``hearth`` CLI and the embedded one-machine runtime."""

__version__ = "0.1.0"
