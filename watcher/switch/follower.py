"""What follows a strategy: one `Follower` protocol for every kind of object (rules, triggers,
emergency groups; sites, IVRs and data actions next), and the `Decision` they follow.

A kind is one small class that knows its object's path, fields and validation: what the object
should say for a decision (`wanted`), how to write that by the one write loop (`write`), how to
write it back unchanged (`fence`) and which region it names now (`region_said`). The sequence
around a write (gate, audit, metrics, errors) is written once, in `followers.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from watcher.switch.policy import WritePolicy
from watcher.switch.readiness import ReadinessCheck
from watcher.switch.writes import WriteKind, WriteOutcome


@dataclass(frozen=True)
class Decision:
    """What a strategy's followers follow: the active region, the preferred one, all-down."""

    region: str
    preferred: str | None
    all_down: bool = False

    @property
    def failed_over(self) -> bool:
        return self.preferred is not None and self.region != self.preferred


class Follower(Protocol):
    """One object that follows a strategy.

    `write` and `fence` raise one of `watcher.switch.WRITE_ERRORS` when they fail.
    """

    kind: WriteKind
    id: str
    strategy: str
    # Listed in `/status`, counted as a follower repair, and repaired by every periodic read-back
    # (the public platform's objects); a rule is repaired after a start or a failed switch.
    platform: bool
    # What following means for this kind, in messages ("leadership lost before it could ...").
    verb: str

    def wanted(self, decision: Decision) -> str:
        """What the object should say, for logs and `/status`."""
        ...

    async def prepare(self) -> None:
        """Look up, once at start, what a write would otherwise look up (deferrable requests)."""
        ...

    async def write(self, decision: Decision, policy: WritePolicy) -> WriteOutcome:
        """Make the object say what `decision` wants (read, already so?, confirm, PUT, conflicts)."""
        ...

    async def fence(self, policy: WritePolicy) -> None:
        """Write the object back unchanged (a new leader's fence: its version moves on)."""
        ...

    async def region_said(self) -> set[str | None]:
        """The region the object follows now: {region}, {None} if it names an unknown one, or the
        empty set when the kind names no region at all (a group says "emergency or not")."""
        ...

    async def readiness(self, region: str) -> tuple[ReadinessCheck, ...]:
        """Whether a switch of this object to `region` would succeed (SPEC §8): its target there
        is configured, exists and is usable; `()` when the kind has nothing region-specific."""
        ...
