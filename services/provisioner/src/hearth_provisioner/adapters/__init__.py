"""The provisioner's clients of the outside (the device's local API, NATS), each behind a
port; none yet."""
