"""Running one one-shot command: config, client, diagnostics on stderr, exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator

import anyio
import structlog
from pydantic import ValidationError

from watcher.config import ConfigError, WatcherConfig, load_config
from watcher.genesys import GenesysClient, GenesysError
from watcher.logs import redact
from watcher.switch import PlanError

EXIT_OK, EXIT_API, EXIT_INPUT = 0, 1, 2


class InputError(Exception):
    """Bad input from the command line or a file: exit code 2."""


def _err(message: str) -> None:
    print(f"failover-watcher: {message}", file=sys.stderr)


@contextlib.contextmanager
def diagnostics_on_stderr() -> Iterator[None]:
    """Send log lines to stderr, warnings and up, for the life of one command.

    stdout belongs to the command's answer (`regions --json | jq` must parse); unconfigured
    structlog would print every debug line there. The previous configuration is put back after,
    so a command run inside another program (the tests) leaves its logging as it was.
    """
    was_configured = structlog.is_configured()
    previous = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            redact,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**previous)
        else:
            structlog.reset_defaults()


def run_command(
    args: argparse.Namespace, body: Callable[[WatcherConfig, GenesysClient], Awaitable[int]]
) -> int:
    """Load the config, open a client, run `body`; map errors to exit codes."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            _err(problem)
        return EXIT_INPUT

    async def main() -> int:
        async with GenesysClient(cfg.genesys, cfg.client_secret()) as client:
            return await body(cfg, client)

    try:
        with diagnostics_on_stderr():
            return anyio.run(main)
    except InputError as exc:
        _err(str(exc))
        return EXIT_INPUT
    except (PlanError, ValidationError) as exc:
        _err(f"invalid input: {exc}")
        return EXIT_INPUT
    except GenesysError as exc:
        _err(str(exc))
        return EXIT_API
