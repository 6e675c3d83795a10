"""The provisioner: an edge agent that onboards factory-fresh Shelly devices."""
