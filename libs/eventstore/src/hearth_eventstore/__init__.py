"""Event-sourced applications on PostgreSQL and the lossless relay of their events to JetStream."""
