"""How work reaches the provisioner: ``python -m`` for now."""
