"""Validate what will be deployed, before anything touches a target."""

from hearth_deployer.domain.validation.tree import ValidationReport, validate_tree

__all__ = ["ValidationReport", "validate_tree"]
