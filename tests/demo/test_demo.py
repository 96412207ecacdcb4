"""`failover-watcher demo`, the README's first command, run as users run it: a process, its exit
code and its summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "failover-watcher"),
            "demo",
            "--speed",
            "4",
            "--port",
            "0",
            *flags,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_classic_demo_fails_over_and_back() -> None:
    done = run_demo()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "scenario complete" in done.stdout
    assert "4 (4 succeeded)" in done.stdout


def test_the_platform_demo_moves_the_trigger_and_the_emergency_group() -> None:
    done = run_demo("--platform")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "scenario complete" in done.stdout
    assert "emergency group enabled=True" in done.stdout  # while failed over
