"""Servers Hearth runs itself on one machine: NATS and PostgreSQL from their wheels."""
