"""The query API's pure rules: API tokens and roles, a target's status colour."""
