"""The gateway's pure rules: signatures, GitHub payloads, deliveries, known heads, the registry."""
