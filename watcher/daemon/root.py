"""The composition root: the whole running daemon, built once and complete.

`build` assembles the parts (`parts.py`), then what stands on them: the probes, the operator's
commands, the reloader and the router. The lifecycle (`service.py`) receives the `Daemon` whole and
only starts, runs and stops it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from watcher.daemon.admin import AdminCommands
from watcher.daemon.drilling import DrillController
from watcher.daemon.holds import OperatorState
from watcher.daemon.leadership import Takeovers
from watcher.daemon.parts import Foundation, Parts, Shell, assemble
from watcher.daemon.reload import Reloader
from watcher.daemon.router import Decisions, Router
from watcher.daemon.selfreport import Probes
from watcher.systemd_notify import SystemdNotifier


@dataclass(frozen=True)
class Daemon:
    """Every part of one running daemon."""

    shell: Shell
    parts: Parts
    router: Router
    probes: Probes
    admin: AdminCommands
    reloader: Reloader
    takeovers: Takeovers
    # Long-lived tasks of the parts, by name, in start order (read-back, scheduler, readiness, ...).
    tasks: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = ()


@contextlib.asynccontextmanager
async def build(
    base: Foundation,
    decisions: Decisions,
    takeovers: Takeovers,
    notifier: SystemdNotifier,
    *,
    config_path: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Daemon]:
    """The daemon on `base`, complete; its parts are closed (in reverse) when the block ends."""
    async with (
        assemble(base, transport=transport) as (shell, parts),
        httpx.AsyncClient(timeout=5.0) as prometheus,  # the drills' alarms: another host, no token
    ):
        drilling = DrillController(shell, parts, parts.readiness.board, prometheus)
        probes = Probes(shell, parts, drilling.status)
        state = OperatorState(base.config().state.dir, disk=shell.announce.disk)
        admin = AdminCommands(shell, probes, state, drilling)
        reloader = Reloader(config_path, shell, parts, probes, notifier, takeovers)
        router = Router(decisions, shell.engine, parts.executor, parts.readback, shell.announce)
        tasks = (
            ("read-back", parts.readback.run),
            ("scheduler", parts.scheduler.run),
            ("readiness", parts.readiness.run),
            ("drills", drilling.run),
        )
        yield Daemon(shell, parts, router, probes, admin, reloader, takeovers, tasks)
