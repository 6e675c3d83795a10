"""Adapters of the device manager's ports: aioshelly, zeroconf, HTTP scans, NATS KV."""
