"""`promtool check metrics` on a Prometheus text exposition: what a scraper would complain about.

Used by the tests on `WatcherMetrics().exposition()`, and by hand against a live daemon:

    .venv/bin/python tests/deploy/promtool_check.py http://127.0.0.1:9464/metrics
    .venv/bin/python tests/deploy/promtool_check.py exposition.txt
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LintResult:
    """promtool's verdict: `ok` when it exited 0 and reported nothing."""

    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.output.strip()


def promtool() -> str | None:
    """Path of promtool, or None (install it with `sh deploy/install-system-deps.sh`)."""
    return shutil.which("promtool")


def check_metrics(exposition: bytes) -> LintResult:
    """Run `promtool check metrics` with the exposition on its standard input."""
    binary = promtool()
    if binary is None:
        raise FileNotFoundError("promtool not found; run: sh deploy/install-system-deps.sh")
    done = subprocess.run([binary, "check", "metrics"], input=exposition, capture_output=True, timeout=60)
    return LintResult(done.returncode, (done.stdout + done.stderr).decode(errors="replace"))


def _read(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:  # noqa: S310 (http(s) only)
            body: bytes = response.read()
            return body
    if source == "-":
        return sys.stdin.buffer.read()
    return Path(source).read_bytes()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: promtool_check.py URL|FILE|-", file=sys.stderr)
        return 2
    result = check_metrics(_read(argv[0]))
    print(result.output.strip() or "promtool check metrics: no problems")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
