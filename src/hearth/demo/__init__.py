"""The demo `hearth up` runs when there is no ``hearth.yaml``: a Git repository, a
simulated Home Assistant behind a real OpenSSH server, and a fleet of simulated Shelly
devices (``launch`` starts them).

This package itself imports nothing: its simulators run as processes of their own
(``python -m hearth.demo.homeassistant``), and Python imports a package before any of its
modules, so anything imported here would be paid again by each of them at every start.
"""
