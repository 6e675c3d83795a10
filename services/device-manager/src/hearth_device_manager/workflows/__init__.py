"""The device manager's multi-step operations: each is started by a handler or a command and
talks to the outside only through ports (docs/design.md, the house plan)."""
