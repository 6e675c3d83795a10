"""Entry point: `python -m hearth_query_api` (or `hearth-query-api`)."""

from hearth_query_api.entrypoints.run import main

if __name__ == "__main__":
    main()
