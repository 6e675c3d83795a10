"""Debounced presence: a flapping device does not become a storm of events.

The coordinator reports every connection change; ``Presence`` announces a transition only
once the new state has held for ``window_s`` seconds. A device that drops and comes back
within the window announces nothing. Time comes from the caller (a fake clock in tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Presence:
    window_s: float
    #: What was last announced (None: nothing yet).
    announced: bool | None = None
    observed: bool | None = None
    since: float = 0.0
    _pending: bool = field(default=False, repr=False)

    def observe(self, online: bool, now: float) -> None:
        if online != self.observed:
            self.observed, self.since = online, now

    def due_at(self) -> float | None:
        """When ``transition`` will announce something, if nothing else is observed."""
        if self.observed is None or self.observed == self.announced:
            return None
        return self.since + self.window_s

    def transition(self, now: float) -> bool | None:
        """The state to announce now (True online, False offline), or None."""
        due = self.due_at()
        if due is None or now < due:
            return None
        self.announced = self.observed
        return self.announced
