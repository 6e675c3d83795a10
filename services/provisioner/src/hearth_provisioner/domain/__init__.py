"""The provisioner's pure rules (onboarding a device); none yet."""
