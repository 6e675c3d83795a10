"""A deployment's run: ``deployment`` calls the ``steps`` in order over the ports gathered in
``context``; it is started by the dispatcher and talks to the outside only through ports
(docs/design.md, the house plan)."""
