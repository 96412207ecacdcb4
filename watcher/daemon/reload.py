"""SIGHUP: re-read the config and apply what can change live; keep and report what cannot.

A bad config is refused and the running one kept. Sections that need a restart (the client's
credentials and URLs, the listen address, the state directory, sinks, webhook, events, leader)
are kept as they run, and named in the log and in `/status` (`restartNeededFor`), so an operator
is never misled into believing a change took effect.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from watcher.config import ConfigError, WatcherConfig, load_config
from watcher.daemon.engine import policy_from_config
from watcher.daemon.leadership import Takeovers
from watcher.daemon.parts import Parts, Shell
from watcher.daemon.selfreport import Probes
from watcher.systemd_notify import SystemdNotifier

log = structlog.get_logger("watcher.daemon")

RESTART_SECTIONS = ("genesys", "server", "state", "sinks", "webhook", "events", "leader")


def live_part(running: WatcherConfig, new: WatcherConfig) -> tuple[WatcherConfig, list[str]]:
    """`new`, with the sections that need a restart kept as `running` has them; and their names."""
    kept = [key for key in RESTART_SECTIONS if getattr(new, key) != getattr(running, key)]
    return new.model_copy(update={key: getattr(running, key) for key in kept}), kept


class Reloader:
    """Applies a reloaded config to the running parts."""

    def __init__(
        self,
        path: str | Path | None,
        shell: Shell,
        parts: Parts,
        probes: Probes,
        notifier: SystemdNotifier,
        takeovers: Takeovers,
    ) -> None:
        self._path = path
        self._shell = shell
        self._parts = parts
        self._probes = probes
        self._notifier = notifier
        self._takeovers = takeovers

    async def reload(self) -> bool:
        path = self._path
        if path is None:
            log.warning("reload requested but the config was not loaded from a file; ignoring")
            return False
        self._notifier.reloading()
        try:
            loaded = load_config(path)
        except ConfigError as exc:
            log.error("config reload refused; keeping the running config", config=path, problems=exc.problems)
            self._shell.metrics.config_reloads.labels(result="refused").inc()
            self._notifier.ready()
            return False
        shell, parts = self._shell, self._parts
        old = shell.config()
        new, kept = live_part(old, loaded)
        shell.config.replace(new)
        self._probes.restart_needed = kept
        # In place: a running initial read holds this set.
        parts.readback.strategies_changed({s.id for s in old.strategies}, {s.id for s in new.strategies})
        shell.engine.replace_policy(
            policy_from_config(new, dry_run=shell.engine.policy.dry_run or new.dry_run)
        )
        shell.announce.world_gauges.forget()
        parts.followers.configure(
            new.rules,
            new.triggers,
            new.emergency_groups,
            sites=new.sites,
            ivrs=new.ivrs,
            data_actions=new.data_actions,
        )
        if shell.leadership.is_leader:
            self._takeovers.read_new()  # the strategies added: read (and fenced) before any write
        parts.scheduler.reconfigure(new.region_ids(), new.health, parts.health.build(new))
        shell.metrics.precreate(new.region_ids(), [(s.id, s.regions) for s in new.strategies])
        log.info("config reloaded", config=str(path), restart_needed_for=kept or None)
        shell.metrics.config_reloads.labels(result="success").inc()
        self._notifier.ready()
        return True
