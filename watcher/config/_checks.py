"""Cross-checks that types cannot express: unknown regions, missing rule targets, a request budget
too small for the poll rate, plain-HTTP token transport to a non-loopback host."""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from watcher.config._followers import check_followers
from watcher.config._health import api_calls_per_cycle, health_problems
from watcher.tomlconfig import expand_path

if TYPE_CHECKING:
    from watcher.config import WatcherConfig

# Share of the request budget the health polls may use; the rest is kept for writes, read-backs
# and retries so a failover is never starved by polling.
POLL_BUDGET_SHARE = 0.8


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(key: str, url: str | None, problems: list[str]) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{key}: {url!r} is not an http(s) URL")
    elif parts.scheme == "http" and not _is_loopback(parts.hostname):
        problems.append(
            f"{key}: plain http to {parts.hostname} refused (tokens and secrets travel there); "
            "use https, or a loopback address for the simulator"
        )


def _check_secret(key: str, inline: SecretStr | None, file: Path | None, problems: list[str]) -> None:
    if inline is not None and file is not None:
        problems.append(f"{key}: give {key.rsplit('.', 1)[-1]} or {key.rsplit('.', 1)[-1]}_file, not both")
    elif inline is None and file is None:
        problems.append(f"{key}: missing (set it, or {key.rsplit('.', 1)[-1]}_file)")
    elif file is not None:
        path = expand_path(file)
        try:
            empty = path.is_file() and not path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            # Permission denied or not text: one line naming the key, not a traceback.
            problems.append(f"{key}_file: {path} is not readable ({type(exc).__name__})")
            return
        if not path.is_file():
            problems.append(f"{key}_file: {path} is not a readable file")
        elif empty:
            problems.append(f"{key}_file: {path} is empty")


def cross_check(cfg: WatcherConfig) -> list[str]:
    """Problems that types cannot express, one line each, naming the key."""
    problems: list[str] = []
    g, h = cfg.genesys, cfg.health
    _check_base_url("genesys.api_base_url", g.api_base_url, problems)
    _check_base_url("genesys.login_base_url", g.login_base_url, problems)
    _check_secret("genesys.client_secret", g.client_secret, g.client_secret_file, problems)
    if h.fall < 1:
        problems.append(f"health.fall: must be at least 1 (got {h.fall})")
    if h.rise < 1:
        problems.append(f"health.rise: must be at least 1 (got {h.rise})")
    if h.timeout_seconds >= h.interval_seconds:
        problems.append(
            f"health.timeout_seconds: {h.timeout_seconds} must be below health.interval_seconds "
            f"({h.interval_seconds}), or polls would overlap"
        )
    if cfg.failback.max_hold_seconds < cfg.failback.hold_seconds:
        problems.append("failback.max_hold_seconds: must be at least failback.hold_seconds")

    region_ids = cfg.region_ids()
    declared = {r.id for r in cfg.regions}
    if len(declared) != len(cfg.regions):
        problems.append("regions: duplicate region id")
    if not cfg.strategies:
        problems.append("strategies: at least one strategy is needed")
    strategy_regions: dict[str, list[str]] = {}
    for i, s in enumerate(cfg.strategies):
        if s.id in strategy_regions:
            problems.append(f"strategies[{i}].id: duplicate strategy id {s.id!r}")
        strategy_regions[s.id] = s.regions
        if len(set(s.regions)) != len(s.regions):
            problems.append(f"strategies[{i}].regions: a region is listed twice")
        for region in s.regions:
            if declared and region not in declared:
                problems.append(
                    f"strategies[{i}].regions: unknown region {region!r} (declare it under [[regions]])"
                )
    for i, rule in enumerate(cfg.rules):
        if rule.strategy not in strategy_regions:
            problems.append(f"rules[{i}].strategy: unknown strategy {rule.strategy!r}")
            continue
        missing = [r for r in strategy_regions[rule.strategy] if r not in rule.targets]
        if missing:
            problems.append(
                f"rules[{i}].targets: no target for region(s) {', '.join(missing)} "
                f"of strategy {rule.strategy!r}"
            )
    check_followers(cfg, problems)
    names = [s.name for s in cfg.sinks]
    for i, sink in enumerate(cfg.sinks):
        if names.count(sink.name) > 1:
            problems.append(f"sinks[{i}].name: duplicate sink name {sink.name!r}")
        _check_base_url(f"sinks[{i}].url", sink.url, problems)
        _check_secret(f"sinks[{i}].secret", sink.secret, sink.secret_file, problems)
    if cfg.webhook is not None:
        _check_base_url("webhook.target_url", cfg.webhook.target_url, problems)
    srv = cfg.server
    if srv.admin_token is not None and srv.admin_token_file is not None:
        problems.append("server.admin_token: give admin_token or admin_token_file, not both")
    elif srv.admin_token is not None and not srv.admin_token.get_secret_value().strip():
        # An empty token would let `Authorization: Bearer ` through: refuse it, never open the API.
        problems.append("server.admin_token: empty; set a token, or leave it out to disable the admin API")
    elif srv.admin_token_file is not None:
        _check_secret("server.admin_token", None, srv.admin_token_file, problems)
    lead = cfg.leader
    if lead.backend == "etcd" and lead.ttl_seconds <= g.request_timeout_seconds:
        # A write that passed the leader check may take a whole request timeout to land; the
        # lease must outlive it, or a deposed leader's write lands after a successor's.
        problems.append(
            f"leader.ttl_seconds: {lead.ttl_seconds}s must exceed genesys.request_timeout_seconds "
            f"({g.request_timeout_seconds:g}s), so a write in flight cannot outlive the lease"
        )

    problems += health_problems(cfg)

    # Budget: every API health source of every region is polled once per interval (the status page
    # and probes of other hosts are outside the budget); keep a share for writes and retries.
    calls = api_calls_per_cycle(cfg)
    if calls and h.interval_seconds > 0:
        per_minute = calls * 60.0 / h.interval_seconds
        allowed = g.requests_per_minute * POLL_BUDGET_SHARE
        if per_minute > allowed:
            smallest = math.ceil(calls * 60.0 / allowed * 100) / 100
            polled = f"{len(region_ids)} regions" + (
                f" ({calls} API health calls)" if calls != len(region_ids) else ""
            )
            problems.append(
                f"health.interval_seconds: {polled} every {h.interval_seconds}s "
                f"need {per_minute:.0f} requests/min, more than {POLL_BUDGET_SHARE:.0%} of "
                f"genesys.requests_per_minute={g.requests_per_minute}; the smallest interval "
                f"that fits is {smallest}s"
            )
    problems += cfg.drills.check_against({s.id: s.regions for s in cfg.strategies})
    return problems
