"""What reading Prometheus's alerts can tell a drill: which watched alarms fire, or that it could not tell.

Kept apart from the reader (`watcher.drills.alarms`, the only module here that does I/O) so the pure
drill machine can take a reading as input without importing an HTTP client. "Cannot read" is a value,
never an exception: a drill treats an unreadable Prometheus as a reason not to start and to abort
(SPEC §8), so the caller must always get an answer it can act on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlarmsFiring:
    """Prometheus answered; `firing` holds the watched alarm names whose alerts are in state firing.

    >>> AlarmsFiring(frozenset({"CallsFailing"})).fires(["CallsFailing", "IncidentOpen"])
    ('CallsFailing',)
    """

    firing: frozenset[str] = frozenset()

    def fires(self, names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """Those of `names` that fire, in the order given (the order of the config)."""
        return tuple(name for name in names if name in self.firing)


@dataclass(frozen=True)
class AlarmsUnreadable:
    """Prometheus could not be read (connection error, non-200, malformed answer); `reason` says which."""

    reason: str


AlarmReading = AlarmsFiring | AlarmsUnreadable
