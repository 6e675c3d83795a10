"""The device manager's pure domain: aggregates, rules and the desired-config models; no I/O."""
