"""The notifier: routes chosen events to people through Apprise URLs."""
