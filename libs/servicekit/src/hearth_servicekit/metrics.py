"""Prometheus metrics every service exposes on ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServiceMetrics:
    """One registry per service process; services add their own metrics to ``registry``."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.up = Gauge(
            "hearth_service_up", "1 while the service runs", ["service"], registry=self.registry
        )
        self.up.labels(service).set(1)
        self.nats_connected = Gauge(
            "hearth_nats_connected", "1 while connected to NATS", registry=self.registry
        )
        self.nats_reconnects = Counter(
            "hearth_nats_reconnects", "NATS reconnections", registry=self.registry
        )
        self.messages_handled = Counter(
            "hearth_messages_handled",
            "Messages handled by outcome",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "hearth_message_handle_seconds",
            "Time to handle one message",
            ["consumer"],
            registry=self.registry,
        )
        self.events_published: Counter = Counter(
            "hearth_events_published",
            "Events acknowledged by JetStream",
            ["type"],
            registry=self.registry,
        )

    def counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: list[str] | None = None) -> Gauge:
        return Gauge(name, documentation, labels or [], registry=self.registry)
