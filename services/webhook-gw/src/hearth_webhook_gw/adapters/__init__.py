"""The gateway's clients of the outside: the secret store and the sources of branch heads."""
