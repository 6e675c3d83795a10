"""The deployer: targets and deployments, event-sourced."""
