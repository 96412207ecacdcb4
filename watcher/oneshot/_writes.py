"""`apply-strategy` and `update-rule`: validated locally, written with the version read."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watcher.config import WatcherConfig
from watcher.genesys import GenesysClient, RoutingRule, Strategy
from watcher.oneshot._run import EXIT_OK, InputError
from watcher.switch import WritePolicy, write_rule_target, write_strategy_order, write_with_retries


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None


async def _apply_strategy(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    if args.file:
        try:
            wanted = Strategy.model_validate(_read_json(args.file))
        except ValidationError as exc:
            raise InputError(f"{args.file}: {_first_errors(exc)}") from None
        outcome = await write_with_retries(
            "strategy",
            wanted.id,
            lambda: client.get_strategy(wanted.id),
            lambda current: False,  # the file is the whole strategy: always written
            lambda current: client.put_strategy(wanted.model_copy(update={"version": current.version})),
            WritePolicy(attempts=cfg.executor.conflict_retries, clock=time.monotonic),
        )
        print(
            f"strategy {wanted.id}: version {outcome.version_before} -> {outcome.version_after}"
            f" ({outcome.conflicts} conflicts)"
        )
        print(f"  order: {' > '.join(wanted.region_order())}")
        return EXIT_OK
    if not args.strategy or not args.primary:
        raise InputError("give --file F, or --strategy ID --primary R [--secondary R ...]")
    order = [args.primary, *(args.secondary or [])]
    if len(set(order)) != len(order):
        raise InputError("a region is named twice in --primary/--secondary")
    outcome = await write_strategy_order(
        client, args.strategy, order, WritePolicy(attempts=cfg.executor.conflict_retries)
    )
    verb = "written" if outcome.changed else "already so, nothing written"
    print(
        f"strategy {args.strategy}: {verb}; version {outcome.version_before} -> {outcome.version_after}"
        f" in {outcome.latency_seconds * 1000:.0f} ms ({outcome.conflicts} conflicts)"
    )
    print(f"  order: {' > '.join(order)}")
    return EXIT_OK


def _first_errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5])


# --------------------------------------------------------------------------------- update-rule


async def _update_rule(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    if args.region:
        rules = {r.id: r for r in cfg.rules}
        if args.rule not in rules:
            raise InputError(f"--region needs rule {args.rule!r} under [[rules]] in the config")
        outcome = await write_rule_target(
            client,
            args.rule,
            rules[args.rule].targets,
            args.region,
            WritePolicy(attempts=cfg.executor.conflict_retries),
        )
        verb = "written" if outcome.changed else "already so, nothing written"
        print(f"rule {args.rule}: {verb}; version {outcome.version_before} -> {outcome.version_after}")
        return EXIT_OK
    if not args.file:
        raise InputError("give --file F (fields to set) or --region R (retarget from the config)")
    changes = _read_json(args.file)
    if not isinstance(changes, dict):
        raise InputError(f"{args.file}: expected a JSON object")
    changes.pop("version", None)
    written: list[RoutingRule] = []

    async def write(current: RoutingRule) -> RoutingRule:
        merged = {**current.model_dump(mode="json", exclude_none=True), **changes, "version": current.version}
        try:
            rule = RoutingRule.model_validate(merged)
        except ValidationError as exc:
            raise InputError(f"rule {args.rule} would break the limits: {_first_errors(exc)}") from None
        missing = [t.id for t in rule.targets if not await client.target_exists(t.id)]
        if missing:
            raise InputError(f"target(s) {', '.join(missing)} do not exist")
        written[:] = [await client.put_rule(args.rule, rule)]
        return written[0]

    outcome = await write_with_retries(
        "rule",
        args.rule,
        lambda: client.get_rule(args.rule),
        lambda current: False,  # fields from the file are always written
        write,
        WritePolicy(attempts=cfg.executor.conflict_retries, clock=time.monotonic),
    )
    print(
        f"rule {args.rule}: version {outcome.version_before} -> {outcome.version_after}"
        f" ({outcome.conflicts} conflicts)"
    )
    print(f"  targets: {', '.join(t.id for t in written[0].targets)}; priority {written[0].priority}")
    return EXIT_OK
