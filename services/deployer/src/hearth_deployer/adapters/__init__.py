"""Clients of the world: the event store, NATS KV (leases), Git and GitHub, Home Assistant,
the records of what each host held, and the dispatcher that runs deployments under leases.
The SSH side is ``hearth_deployer.remote``."""
