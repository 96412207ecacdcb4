"""What a readiness check of a standby region says (SPEC §8): one named check, its verdict and,
when it fails, why. Each kind of follower answers for its own target (`Follower.readiness`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadinessCheck:
    """One check of whether a switch to a region would succeed, e.g.
    `ReadinessCheck("trigger 6b0c… workflow", False, "flow wf-usw2 is not published")`."""

    check: str
    ok: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "reason": self.reason}
