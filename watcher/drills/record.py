"""The record of one drill: what was asked, how far it got, and how it ended.

One record is both the running drill in `/status` and, once ended, its report (audit trail, event,
metrics, `drill status`). Times are wall-clock seconds since the epoch, not the monotonic clock the
failover core uses: a drill must survive a restart (the next instance ends it and moves the
strategy back), so its times are stored and must mean the same thing to the next process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

Leg = Literal["to", "back"]


class Outcome(StrEnum):
    """How a drill ended. A drill has exactly one, decided once (the first abort reason wins)."""

    NOT_STARTED = "NOT_STARTED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


class Phase(StrEnum):
    """Where a drill is: moving to the drill region, holding there, returning, or over."""

    MOVING = "MOVING"
    HOLDING = "HOLDING"
    RETURNING = "RETURNING"
    ENDED = "ENDED"


@dataclass(frozen=True)
class DrillWrite:
    """One write of a drill's move (the strategy or a follower): its latency and result.

    `leg` says whether it moved the strategy to the drill region or back.
    """

    kind: str
    id: str
    latency_ms: float
    result: str
    leg: Leg = "to"


@dataclass(frozen=True)
class Drill:
    """A drill of `strategy` from its preferred region to `to` for `duration_seconds`.

    `outcome` and `reason` are set when the drill's end is decided (an abort while it moves or
    returns decides it before the move back lands); `phase` is ENDED when nothing more will be done.
    `reason` is None only for SUCCEEDED; `to` is None only for a drill refused for want of a standby.
    """

    id: str
    strategy: str
    preferred: str
    to: str | None
    duration_seconds: float
    origin: str
    phase: Phase
    started_at: float
    arrived_at: float | None = None
    returning_at: float | None = None
    back_at: float | None = None
    ended_at: float | None = None
    outcome: Outcome | None = None
    reason: str | None = None
    writes: tuple[DrillWrite, ...] = field(default=())

    @property
    def ended(self) -> bool:
        return self.phase is Phase.ENDED

    @property
    def switch_seconds(self) -> float | None:
        """From the move's start to the read-back that confirmed every follower followed."""
        return None if self.arrived_at is None else max(self.arrived_at - self.started_at, 0.0)

    @property
    def back_seconds(self) -> float | None:
        """From the move back's start to its confirmation (None when S was not moved back)."""
        if self.returning_at is None or self.back_at is None:
            return None
        return max(self.back_at - self.returning_at, 0.0)

    def to_state(self) -> dict[str, Any]:
        """A JSON-ready form that `from_state` reads back (the shell stores the running drill)."""
        state = asdict(self)
        state["writes"] = [asdict(w) for w in self.writes]
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Drill:
        """The record `to_state` wrote; KeyError/ValueError/TypeError when it is not one."""
        fields = dict(state)
        fields["phase"] = Phase(fields["phase"])
        outcome = fields.get("outcome")
        fields["outcome"] = None if outcome is None else Outcome(outcome)
        fields["writes"] = tuple(DrillWrite(**w) for w in fields.get("writes", ()))
        return cls(**fields)
