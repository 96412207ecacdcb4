"""What a failed write raises: one base class, so every caller catches one set.

A write fails either because the API said no (`watcher.genesys.GenesysError`: refused, conflict
after the last attempt, unreachable) or for a reason of its own (`WriteError`: the plan does not
fit the object, the object cannot point where the decision says, leadership not confirmed).
`WRITE_ERRORS` is both: the one set the executor, the followers and the fencing catch.
"""

from __future__ import annotations

from watcher.genesys import GenesysError


class WriteError(Exception):
    """A write that was not made, for a reason found before or between its requests."""


class WriteRefused(WriteError):
    """The write was not sent: this instance could not confirm it still leads."""


class PlanError(WriteError, ValueError):
    """The requested order does not fit the object (unknown or missing regions, no target)."""


class NotFollowable(WriteError):
    """The object cannot follow the decision: nothing configured for the region, or its target is
    gone from the API. Checked before the write, so the report names what is wrong."""


WRITE_ERRORS: tuple[type[Exception], ...] = (GenesysError, WriteError)
