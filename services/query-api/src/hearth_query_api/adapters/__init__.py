"""The query API's PostgreSQL side: the read models' schema, API tokens and the one query
builder for filtered, paged reads; and the live device status (a NATS KV bucket)."""
