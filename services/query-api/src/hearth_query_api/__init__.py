"""The query API: read models, REST API, live feed and dashboard."""
