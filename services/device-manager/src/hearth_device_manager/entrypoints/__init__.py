"""How the outside reaches the device manager: its command server."""
