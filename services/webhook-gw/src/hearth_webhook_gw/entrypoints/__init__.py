"""How work reaches the gateway: the webhook route, the poll timer, ``python -m``."""
