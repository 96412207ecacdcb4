"""cProfile the daemon at steady state (benchmark 5's set-up) over a window, for finding CPU.

    .venv/bin/python bench/cpuprofile.py [SECONDS] [OUT.prof] [--no-profile] [--1s] [--errors] [--top]
    (default 60 s and bench/results/daemon.prof), then read it with pstats:
    .venv/bin/python -m pstats bench/results/daemon.prof     (sort tottime, stats 40)

The daemon runs as its own process under `cProfile`, enabled by SIGUSR1 once it has been ready for
20 s and dumped by SIGUSR2 at the end of the window, so start-up is not in the profile. cProfile
roughly doubles the cost of call-heavy code; its timer is the process CPU time. Read the profile
for where CPU goes, and the CPU share printed here (with `--no-profile`, the true one) for how much.
The simulator runs in another process.

`--1s`: benchmark 5b's set-up instead (100 regions every 1 s, `bench/steady1s.py`); `--errors`: with
5 % of the region-health answers a 503; `--top`: print the top 15 by tottime and by cumtime.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import procs
import steady
import steady1s
import tomli_w

HERE = Path(__file__).resolve().parent


def _profiled_daemon() -> None:
    """Run as `profile.py --daemon OUT run --config ...`: the CLI under a profiler toggled by signals."""
    out = sys.argv[2]
    sys.argv = ["failover-watcher", *sys.argv[3:]]
    # CPU time, not wall time: on a shared machine a wall-clock profile charges the daemon for the
    # time it was preempted (a socket send that wakes the simulator shows as a millisecond).
    profiler = cProfile.Profile(time.process_time)

    def dump(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    signal.signal(signal.SIGUSR2, dump)
    from watcher.cli import main

    with contextlib.suppress(SystemExit):
        main()


def main(argv: list[str]) -> int:
    profile = "--no-profile" not in argv
    args = [a for a in argv if not a.startswith("--")]
    duration = float(args[0]) if args else 60.0
    out = Path(args[1]) if len(args) > 1 else HERE / "results" / "daemon.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    one_second = "--1s" in argv
    daemon_cpu, sim_cpu = procs.simproc.cpu_plan(not one_second)
    per_minute = steady1s.PER_MINUTE if one_second else steady.PER_MINUTE
    with tempfile.TemporaryDirectory(prefix="watcher-profile-") as tmp_name:
        tmp = Path(tmp_name)
        with procs.simulator(steady.seed(), per_minute, tmp, sim_cpu) as sim:
            if "--errors" in argv:
                steady1s.inject_errors(sim.base_url)
            port = procs.free_port()
            if one_second:
                cfg = steady1s.config(sim.base_url, steady1s.INTERVAL)
            else:
                cfg = steady.config(sim.base_url)
            cfg["server"] = {"listen": f"127.0.0.1:{port}", "admin_token": "bench-admin-token-0123"}
            cfg["state"] = {"dir": str(tmp / "state")}
            (tmp / "watcher.toml").write_text(tomli_w.dumps(cfg), encoding="utf-8")
            cmd = [
                sys.executable,
                __file__,
                "--daemon",
                str(out),
                "run",
                "--config",
                str(tmp / "watcher.toml"),
            ]
            with (tmp / "daemon.log").open("w") as log:
                proc = subprocess.Popen(
                    [*cmd, "--log-level", "WARNING", "--log-json"], stdout=log, stderr=log
                )
            try:
                if daemon_cpu is not None:
                    os.sched_setaffinity(proc.pid, {daemon_cpu})
                procs.wait_ready(f"http://127.0.0.1:{port}", timeout=120)
                time.sleep(20)
                if profile:
                    proc.send_signal(signal.SIGUSR1)
                cpu0, wall0 = procs.cpu_seconds(proc.pid), time.monotonic()
                time.sleep(duration)
                cpu1, wall1 = procs.cpu_seconds(proc.pid), time.monotonic()
                if profile:
                    proc.send_signal(signal.SIGUSR2)
                    deadline = time.monotonic() + 30
                    while not out.exists() and time.monotonic() < deadline:
                        time.sleep(0.2)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
    share = (cpu1 - cpu0) / (wall1 - wall0)
    print(
        f"CPU share of one core over {wall1 - wall0:.0f} s: {share:.4f}" + (" (profiled)" if profile else "")
    )
    if profile:
        print(f"profile: {out}")
        if "--top" in argv:
            for key in ("tottime", "cumulative"):
                pstats.Stats(str(out)).sort_stats(key).print_stats(15)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--daemon":
        _profiled_daemon()
    else:
        sys.exit(main(sys.argv[1:]))
