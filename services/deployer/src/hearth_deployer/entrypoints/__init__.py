"""Entrypoints: `python -m`, the command server and the timers."""
