"""The device manager's pure domain: rules and models, no I/O."""
