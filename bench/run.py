"""Benchmarks of the failover watcher: `.venv/bin/python bench/run.py [--quick]` (`make bench`).

1. transport: client CPU per request and burst wall time, httpx's own transport versus httpx-aiohttp;
2. poll cycle: 1,000 regions at 50 ms through the daemon's poll path versus the seeds' sequential loop;
3. detection to switch: degrade → strategy PUT acked, against its floors;
4. mass failover (`--only mass`): 40 and 100 strategies at 300/min, outage 8 s and 30 s after ready,
   against the window floor and the average-rate floor (`--mass-old-path`: the old write path too);
5. steady state (`--only steady`): the daemon's CPU and RSS with 100 regions at a 5 s interval.

The simulator runs in a separate process (`failover-watcher simulate`), pinned to another CPU than
this one. Results go to bench/results/ (JSON and the markdown table of BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mass
import mass_report
import poll_cycle
import report
import simproc
import steady
import switch
import transport

from watcher.logs import configure_logging

RESULTS = Path(__file__).resolve().parent / "results"
N_REGIONS = 1000


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        return "n/a"


def machine(argv: list[str], pin: bool) -> dict[str, Any]:
    bench_cpu, sim_cpu = simproc.cpu_plan(pin)
    return {
        "command": " ".join([".venv/bin/python", "bench/run.py", *argv]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {
            name: importlib.metadata.version(name)
            for name in ("httpx", "httpcore", "aiohttp", "httpx-aiohttp", "anyio", "uvicorn")
        },
        "bench_cpu": "any" if bench_cpu is None else bench_cpu,
        "sim_cpu": "any" if sim_cpu is None else sim_cpu,
        "loadavg_before": _loadavg(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats; finishes in under a minute")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the two processes to separate CPUs")
    parser.add_argument(
        "--only",
        default="transport,poll,switch",
        help="comma-separated benchmarks: transport, poll, switch (the default three; run together), "
        "mass, steady",
    )
    parser.add_argument(
        "--mass-sizes",
        default=None,
        help="mass failover: comma-separated numbers of strategies (default 40,100; 40 with --quick)",
    )
    parser.add_argument(
        "--mass-settle",
        default=",".join(f"{x:g}" for x in mass.SETTLES),
        help="mass failover: comma-separated seconds from ready to the outage (default %(default)s)",
    )
    parser.add_argument(
        "--mass-old-path", action="store_true", help="mass failover: run each case on the old path too"
    )
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    unknown = only - {"transport", "poll", "switch", "mass", "steady"}
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}")
    if only & {"mass", "steady"}:
        try:
            sizes = [int(x) for x in args.mass_sizes.split(",")] if args.mass_sizes else None
            settles = tuple(float(x) for x in args.mass_settle.split(","))
        except ValueError:
            parser.error("--mass-sizes and --mass-settle take comma-separated numbers")
        if (sizes is not None and any(x < 1 for x in sizes)) or any(x < 0 for x in settles):
            parser.error("--mass-sizes must be positive and --mass-settle not negative")
        return _budget_benchmarks(argv, only, args.quick, sizes, settles, args.mass_old_path)
    pin = not args.no_pin
    repeats, cpu_total, switches = (1, 200, 5) if args.quick else (3, 1000, 12)

    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = RESULTS / f"daemon-{stamp}.log"
    started = time.perf_counter()
    facts = machine(argv, pin)

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {text}", flush=True)

    regions = simproc.bench_regions(N_REGIONS)
    with log_path.open("w", encoding="utf-8") as log_file:
        configure_logging(level="WARNING", json=True, stream=log_file)
        with simproc.simulator_process(N_REGIONS, pin=pin) as sim:
            progress(f"simulator pid {sim.pid} at {sim.base_url}; {N_REGIONS} regions seeded")
            progress("1. transport")
            t = transport.run(
                sim.base_url,
                repeats=repeats,
                cpu_total=cpu_total,
                regions=regions,
                full=not args.quick,
                progress=progress,
            )
            progress("2. poll cycle (every region latencyMs=50)")
            simproc.set_regions(sim.base_url, regions, latency_ms=50)
            c = poll_cycle.run(
                sim.base_url, repeats=repeats, regions=regions, quick=args.quick, progress=progress
            )
            progress("3. detection to switch")
            s = switch.run(sim.base_url, runs=switches, control=not args.quick, progress=progress)
    facts["total_seconds"] = time.perf_counter() - started
    facts["loadavg_after"] = _loadavg()
    results = {"machine": facts, "quick": args.quick, "transport": t, "poll_cycle": c, "switch": s}
    table = report.render(results)
    print()
    print(table)
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (RESULTS / f"bench-{stamp}.md").write_text(table, encoding="utf-8")
    print(f"results: {RESULTS / f'bench-{stamp}.json'} and .md; daemon log: {log_path}")
    return 0


def _budget_benchmarks(
    argv: list[str],
    only: set[str],
    quick: bool,
    sizes: list[int] | None = None,
    settles: tuple[float, ...] = mass.SETTLES,
    old_path: bool = False,
) -> int:
    """Benchmarks 4 and 5: the daemon and the simulator each as their own process."""
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = RESULTS / f"daemon-{stamp}.log"
    started = time.perf_counter()
    facts = machine(argv, True)
    facts["bench_cpu"] = f"{facts['bench_cpu']} (the daemon process)"

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {text}", flush=True)

    results: dict[str, Any] = {"machine": facts, "quick": quick}
    tables: list[str] = []
    if "mass" in only:
        progress("4. mass failover")
        sizes = sizes or ([40] if quick else [40, 100])
        results["mass"] = mass.run(sizes, log_path, progress, settles=settles, old_path=old_path)
        tables += ["", *mass_report.mass_table(results["mass"])]
    if "steady" in only:
        progress("5. steady state")
        results["steady"] = steady.run(60.0 if quick else 300.0, log_path, progress)
        tables += ["", *mass_report.steady_table(results["steady"])]
    facts["total_seconds"] = time.perf_counter() - started
    facts["loadavg_after"] = _loadavg()
    table = "\n".join([*report.machine_lines(facts), *tables]) + "\n"
    print()
    print(table)
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (RESULTS / f"bench-{stamp}.md").write_text(table, encoding="utf-8")
    print(f"results: {RESULTS / f'bench-{stamp}.json'} and .md; daemon log: {log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
