"""`failover-watcher demo`: the simulator, the daemon and a signed-event receiver in one process.

Two scenarios. The classic one acts on the seed documents' API (region health, routing strategies,
EventBridge rules). `--platform` runs `config/platform.toml`, the shape of a real organization (status
page and API probe as health sources, a virtual strategy, a process automation trigger and an
Architect emergency group), against the simulator with only its URLs and timings overridden.
"""

from __future__ import annotations

import sys

import anyio
from rich.console import Console

from watcher.demo._ui import print_summary, run_story


def run_demo(*, forever: bool = False, port: int = 9464, speed: float = 1.0, platform: bool = False) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a log or a pipe: no terminal width to fit, keep rows whole
    if speed <= 0:
        print("failover-watcher: --speed must be positive", file=sys.stderr)
        return 2
    if platform:
        from watcher.demo._platform import PLATFORM as story
    else:
        from watcher.demo._classic import CLASSIC as story
    try:
        result = anyio.run(run_story, story, forever, port, speed, console)
    except TimeoutError:
        console.print("[red]the scenario did not complete in time; see the daemon log[/]")
        return 1
    except KeyboardInterrupt:
        return 130
    print_summary(result, console)
    if "timeout" in result["scenario"].marks:
        console.print(
            f"[red]the scenario did not complete in time; see the daemon log {result['log_path']}[/]"
        )
    done = "done" in result["scenario"].marks
    ok = any(s["kind"] == "failover" and s["result"] == "success" for s in result["watcher"].switch_log)
    return 0 if ok and done else 1


__all__ = ["run_demo"]
