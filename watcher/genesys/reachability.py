"""Is the API host there at all? Tells a region's failure from the watcher losing the API.

Every HTTP answer from the API host, whatever its status, proves the host is reachable. When a
health poll fails at the transport level, it is evidence about its region only if the host
answered something after that failure (another region's poll, or a probe): a blackout of the one
API host fails every region at once, and says nothing about any of them (SPEC §4.1).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import structlog

log = structlog.get_logger("watcher.client")


class Reachability:
    """The API host's reachability, as the client's own requests show it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_answer_at: float | None = None
        self.unreachable_since: float | None = None
        self.detail = ""
        self._answered = anyio.Event()
        self._waiting = 0  # tasks in `answered_after`: the event is renewed only for them

    @property
    def reachable(self) -> bool:
        return self.unreachable_since is None

    def answered(self) -> None:
        """An HTTP answer came back from the API host."""
        self.last_answer_at = self._clock()
        if self.unreachable_since is not None:
            log.info(
                "API host reachable again",
                unreachable_for=round(self.last_answer_at - self.unreachable_since, 3),
            )
            self.unreachable_since = None
            self.detail = ""
        if self._waiting:
            self._answered.set()
            self._answered = anyio.Event()

    def lost(self, detail: str) -> None:
        """Nothing answered: the watcher has lost the API (not a region)."""
        self.detail = detail
        if self.unreachable_since is None:
            self.unreachable_since = self._clock()
            log.error("API host unreachable; polls are no evidence about any region", detail=detail)

    async def answered_after(self, instant: float, timeout: float) -> bool:
        """True once an answer arrives later than `instant`; False if none does within `timeout`."""
        self._waiting += 1
        try:
            with anyio.move_on_after(timeout):
                while self.last_answer_at is None or self.last_answer_at <= instant:
                    await self._answered.wait()
                return True
            return False
        finally:
            self._waiting -= 1

    def describe(self, iso: Callable[[float | None], str | None]) -> dict[str, Any]:
        # Before any answer nothing is known: not "reachable" (SPEC 4.2: never say what is not so).
        known = self.last_answer_at is not None or self.unreachable_since is not None
        return {
            "reachable": self.reachable if known else None,
            "since": iso(self.unreachable_since),
            "lastAnswer": iso(self.last_answer_at),
            "detail": self.detail
            or (("ok" if self.reachable else "no answer") if known else "no answer yet"),
        }
