"""How work reaches the notifier: ``python -m`` (its consumer and command subjects are
wired in ``bootstrap.py`` through servicekit)."""
