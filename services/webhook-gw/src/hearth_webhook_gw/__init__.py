"""The webhook gateway: verified GitHub webhooks and repository polling become git events."""
