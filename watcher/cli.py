"""Command line entry point (filled in as the commands land)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("failover-watcher: not yet built", file=sys.stderr)
    return 2
