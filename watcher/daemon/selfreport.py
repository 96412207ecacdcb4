"""What the daemon says about itself: liveness, readiness, the `/status` document and the one-line
summary (systemd's STATUS=, the demo).

Liveness follows the event loop (a heartbeat task); readiness follows the data (a token held, every
strategy read, fresh health observations). They differ on purpose: while the platform throttles
polls the data goes stale and the watcher is not ready, but restarting it would not help.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watcher import __version__
from watcher.aio import sleep
from watcher.daemon.parts import Parts, Shell
from watcher.daemon.status import render_status

HEARTBEAT_SECONDS = 0.5
STALL_SECONDS = 10.0


class Probes:
    """Answers `/healthz`, `/readyz`, `/status` and `/metrics` for one daemon."""

    def __init__(self, shell: Shell, parts: Parts, drills: Callable[[], dict[str, Any]] = dict) -> None:
        self._shell = shell
        self._parts = parts
        self._drills = drills  # the "drills" part of `/status` (SPEC §8)
        self._heartbeat = shell.clock()
        # Config sections a reload could not apply (they need a restart); said in `/status`.
        self.restart_needed: list[str] = []

    async def heartbeat(self) -> None:
        """Beat while the loop turns; `/healthz` fails when the beat goes stale."""
        while not self._shell.stop.is_set():
            self._heartbeat = self._shell.clock()
            await sleep(HEARTBEAT_SECONDS, self._shell.stop)

    def polls_recent(self, *, attempts: bool = False) -> bool:
        """A poll completed recently: with an observation (default), or at all (`attempts`)."""
        s = self._parts.scheduler
        last = s.last_attempt_at if attempts else s.last_poll_at
        if last is None:
            return False
        health = self._shell.config().health
        return self._shell.clock() - last <= 3 * health.interval_seconds + health.timeout_seconds

    def liveness(self) -> tuple[bool, str]:
        lag = self._shell.clock() - self._heartbeat
        if lag > STALL_SECONDS:
            return False, f"event loop heartbeat {lag:.1f}s old"
        return True, f"heartbeat {lag:.2f}s ago"

    def readiness(self) -> tuple[bool, str]:
        problems = []
        if not self._parts.client.tokens.has_token:
            problems.append("no OAuth token held")
        unread = self._parts.readback.unread
        if unread and self._shell.leadership.is_leader:
            problems.append(f"strategies not read yet: {', '.join(sorted(unread))}")
        reach = self._parts.client.reachability
        if not reach.reachable:
            problems.append(f"API host unreachable ({reach.detail})")
        if not self.polls_recent():
            problems.append("no recent poll cycle")
        if (disk := self._shell.announce.disk.problem()) is not None:
            problems.append(disk)
        return (not problems, "; ".join(problems) or "ok")

    def metrics_text(self) -> bytes:
        return self._shell.metrics.exposition()

    def summary_line(self) -> str:
        world = self._shell.engine.world
        healthy = sum(1 for h in world.regions.values() if h.healthy)
        parts = [f"{healthy}/{len(world.regions)} regions healthy"]
        parts += [f"{s.id}->{s.active_region or '?'} ({s.phase.value})" for s in world.strategies.values()]
        return "; ".join(parts)

    def status(self) -> dict[str, Any]:
        shell, outbox_store = self._shell, self._parts.outbox
        outbox: dict[str, Any] = {}
        if outbox_store is not None:
            for sink in shell.config().sinks:
                outbox[sink.name] = {
                    "pending": outbox_store.pending_count(sink.name),
                    "deadLetters": outbox_store.dead_letter_count(sink.name),
                }
        ready, why = self.readiness()
        doc = render_status(
            shell.engine.world,
            shell.wall,
            last_switches=shell.announce.last_switches,
            extra={
                "api": self._parts.client.reachability.describe(shell.wall.iso),
                "outbox": outbox,
                "outboxDepth": sum(v["pending"] for v in outbox.values()),
                "leader": shell.leadership.is_leader,
                "leadership": shell.leadership.describe(),
                "dryRun": shell.engine.policy.dry_run,
                "ready": ready,
                "readyDetail": why,
                "restartNeededFor": list(self.restart_needed),
                "followers": shell.wall.convert(self._parts.followers.describe()),
                "version": __version__,
                "summary": self.summary_line(),
                "readiness": self._parts.readiness.board.status(),
                "drills": self._drills(),
            },
        )
        # Each region's sources as they last answered (SPEC §6.1): verdict, reason and latency.
        board = self._parts.health.board
        for region in doc["regions"]:
            region["sources"] = [r.to_dict(shell.wall.iso) for r in board.readings(region["id"])]
        return doc

    def strategy_doc(self, strategy: str) -> dict[str, Any]:
        return next(s for s in self.status()["strategies"] if s["id"] == strategy)
