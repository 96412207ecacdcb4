"""Benchmark 5c: uvloop against the standard loop, side by side: two daemons (WATCHER_EVENT_LOOP
asyncio and uvloop), identical configurations (benchmark 5b's), polling the same simulator at the
same time, so a machine whose speed drifts from minute to minute slows both alike.

    .venv/bin/python bench/loops.py [--seconds 120] [--warmup 15] [--errors] [--rounds 3]

CPU per poll = each daemon's CPU seconds over the window (/proc/<pid>/stat) / its own polls in the
window (the sum of its `failover_watcher_health_checks_total`); RSS from /proc/<pid>/status.
Each round starts both anew; the daemons' order of start alternates.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import procs
import simproc
import steady
import steady1s
from prometheus_client.parser import text_string_to_metric_families

simproc.CLI = Path(sys.executable).parent / "failover-watcher"
HERE = Path(__file__).resolve().parent


def polls(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "failover_watcher_health_checks"
        for s in family.samples
        if s.name.endswith("_total")
    )


def one_round(seconds: float, warmup: float, errors: bool, order: list[str]) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="watcher-loops-") as tmp_name:
        tmp = Path(tmp_name)
        with procs.simulator(steady.seed(), steady1s.PER_MINUTE * 2, tmp, None) as sim:
            if errors:
                steady1s.inject_errors(sim.base_url)
            with contextlib.ExitStack() as stack:
                daemons = {}
                for loop in order:
                    (tmp / loop).mkdir()
                    os.environ["WATCHER_EVENT_LOOP"] = loop
                    log = HERE / "results" / f"loops-{loop}.log"
                    daemons[loop] = stack.enter_context(
                        procs.daemon(steady1s.config(sim.base_url, 1.0), tmp / loop, None, log)
                    )
                os.environ.pop("WATCHER_EVENT_LOOP", None)
                for d in daemons.values():
                    procs.wait_ready(d.base_url, timeout=120)
                time.sleep(warmup)
                start = {k: (procs.cpu_seconds(d.pid), polls(d.base_url)) for k, d in daemons.items()}
                time.sleep(seconds)
                out = {}
                for k, d in daemons.items():
                    cpu, n = procs.cpu_seconds(d.pid) - start[k][0], polls(d.base_url) - start[k][1]
                    out[k] = {"cpu_ms_per_poll": cpu / n * 1000, "polls": n, "rss_mib": procs.rss_mib(d.pid)}
                return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--errors", action="store_true")
    args = parser.parse_args(argv)
    for i in range(args.rounds):
        order = ["asyncio", "uvloop"] if i % 2 == 0 else ["uvloop", "asyncio"]
        out = one_round(args.seconds, args.warmup, args.errors, order)
        print(
            f"round {i + 1} (errors {5 if args.errors else 0} %): "
            + "; ".join(
                f"{k} {v['cpu_ms_per_poll']:.3f} ms/poll ({v['polls']:.0f} polls, RSS {v['rss_mib']:.1f} MiB)"
                for k, v in sorted(out.items())
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
