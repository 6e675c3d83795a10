"""The device manager: Shelly devices, event-sourced."""
