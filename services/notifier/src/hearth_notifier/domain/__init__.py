"""The notifier's pure rules: which route wants an event, quiet hours, throttling and
bursts, the messages, and the routes and deliveries known from the stream."""
