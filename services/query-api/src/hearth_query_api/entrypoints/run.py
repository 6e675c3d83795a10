"""``python -m hearth_query_api`` (or ``hearth-query-api``): run the query API."""

from hearth_query_api.bootstrap import bootstrap
from hearth_servicekit import run_service


def main() -> None:
    run_service(bootstrap, name="query-api", default_port=8080)
