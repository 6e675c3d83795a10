"""How work reaches the query API: the REST routes (``api/``), the live feed, the
dashboard and ``python -m`` (its consumer and command subjects are wired in
``bootstrap.py`` through servicekit)."""
