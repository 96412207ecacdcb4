"""Several health sources of one region, combined by a quorum (SPEC §6.1)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import anyio

from watcher.core import Observation
from watcher.health._evidence import HealthSource, NoEvidence, Reused, SourceBoard, Throttled


class QuorumSource:
    """Several sources asked at once; the region is good when at least `quorum` of them say so.

    With one source and quorum 1 it is that source. The reason names what each source said, in the
    configured order, so an explanation still says what each vantage point saw. A source with no
    evidence (a status page that could not be fetched, a throttled probe) neither votes good nor bad:
    the answer is evidence only when the silent sources could not change it; otherwise the whole
    observation is no evidence (SPEC §4.1: a source's failure is not the region's).

    A source's verdict that is not fresh (`Reused`: a status-page document already counted) still
    votes, but the poll is new evidence only when a fresh answer is among those that decided the
    verdict (SPEC §4.2): a stale bad page and a fresh good probe under quorum 2 decide "bad" on the
    stale answer, and that is `Reused`, no new evidence, however often it is polled.

    >>> # QuorumSource([statuspage, probe], quorum=2).observe("us-east-1")
    """

    name = "quorum"

    def __init__(
        self,
        sources: Sequence[HealthSource],
        quorum: int | None = None,
        *,
        board: SourceBoard | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not sources:
            raise ValueError("at least one health source")
        self.sources = list(sources)
        self.quorum = quorum or (len(sources) // 2 + 1)
        self._board = board
        self._clock = clock

    def _record(self, region: str, source: HealthSource, outcome: Observation | NoEvidence) -> None:
        if self._board is not None:
            kind = getattr(source, "kind", source.name)
            self._board.record(region, source.name, kind, outcome, self._clock())

    async def _ask(self, region: str, source: HealthSource) -> Observation | NoEvidence:
        try:
            obs = await source.observe(region)
        except NoEvidence as exc:
            self._record(region, source, exc)
            return exc
        self._record(region, source, obs)
        return obs

    async def observe(self, region: str) -> Observation:
        if len(self.sources) == 1:
            outcome = await self._ask(region, self.sources[0])
            if isinstance(outcome, NoEvidence):
                raise outcome
            return outcome
        answers: dict[int, Observation | NoEvidence] = {}

        async def ask(i: int, source: HealthSource) -> None:
            answers[i] = await self._ask(region, source)

        async with anyio.create_task_group() as tg:
            for i, source in enumerate(self.sources):
                tg.start_soon(ask, i, source)
        # Reasons named by their own source, in the configured order (not in order of arrival).
        ordered = [(self.sources[i], answers[i]) for i in sorted(answers)]
        # Every verdict votes, fresh or reused: (observation, fresh).
        votes = [
            (o, True) if isinstance(o, Observation) else (o.observation, False)
            for _, o in ordered
            if isinstance(o, Observation | Reused)
        ]
        seen = [o for o, _ in votes]
        good = sum(1 for o in seen if o.ok)
        silent = len(self.sources) - len(seen)
        reasons = "; ".join(
            f"{source.name}: {o.reason}"
            if isinstance(o, Observation)
            else f"{source.name}: {o.observation.reason} (already counted)"
            if isinstance(o, Reused)
            else f"{source.name}: no evidence ({o})"
            for source, o in ordered
        )
        summary = f"{good}/{len(seen)} good (quorum {self.quorum}): {reasons}"
        if not seen:
            raise Throttled(f"no source gave evidence: {reasons}")
        if good < self.quorum and good + silent >= self.quorum:
            # The silent sources could still make the quorum: saying "bad" would blame the region
            # for a source's failure.
            raise NoEvidence(f"undecided with {silent} source(s) silent: {summary}")
        ok = good >= self.quorum
        at = max(o.at for o in seen)
        latencies = [o.latency_ms for o in seen if o.latency_ms is not None]
        obs = Observation(
            region=region, ok=ok, at=at, reason=summary, latency_ms=max(latencies) if latencies else None
        )
        # The verdict was decided by the sources that agree with it; it is new evidence only when one
        # of them answered afresh.
        if not any(fresh for o, fresh in votes if o.ok == ok):
            raise Reused(obs, f"no fresh answer among the sources that decided it: {summary}")
        return obs
