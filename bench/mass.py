"""Benchmark 4: a mass failover inside the platform's budget (issue 13).

`N` strategies on us-east-1 (eu-west-1 second, one of six other regions third), one rule each,
300 requests a minute on both sides: the daemon's `genesys.requests_per_minute` and the simulator's
`--per-minute`. Eight regions are polled every 5 s (fall 2, rise 3: the defaults), strategies are
read back every 60 s (the default). The daemon runs as its own process, the simulator in another.

Each run: start both, wait until the daemon is ready, then `settle` seconds more (issue 21: 8 s,
while the start-up reads are still in the platform's one-minute window, and 30 s, issue 13's case),
degrade us-east-1 through the admin API (`t0` right after it returns), and wait until every
strategy routes to eu-west-1 and every rule points at its eu-west-1 target. The simulator's request
log gives everything else: detection (the fall-th poll of us-east-1 after t0: the decision), the
last write acknowledged, the requests made by kind between t0 and then, and the 429s of the whole
run. Two floors (issue 21): the average-rate floor, one PUT per object at the budget's average rate
(2N / 5 per second), and the window floor, detection plus what the window's spare allows: the 2N
writes sent from the decision on as soon as the simulator's rolling window (the requests admitted
before the decision, and the writes before them) has room, nothing else sent meanwhile. Each case
runs with the new path and, with `old_path`, with the old one (`genesys.write_priority = false`,
`executor.write_from_copies = false`) against fresh processes.
"""

from __future__ import annotations

import collections
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import procs
import simproc

from watcher.sim import rule_seed, strategy_seed

PER_MINUTE = 300
PRIMARY, SECONDARY = simproc.PRIMARY, simproc.SECONDARY
OTHERS = [f"ap-{i}" for i in range(6)]
INTERVAL, FALL = 5.0, 2
SETTLES = (8.0, 30.0)  # seconds from ready to the outage (issue 21's two cases)
WINDOW = 60.0  # the simulator's rolling window
TARGET = {PRIMARY: "target-use1", SECONDARY: "target-euw1", **{r: f"target-{r}" for r in OTHERS}}


def names(n: int) -> tuple[list[str], list[str]]:
    return [f"mass-{i:03d}" for i in range(n)], [f"mass-rule-{i:03d}" for i in range(n)]


def seed(n: int) -> dict[str, Any]:
    strategies, rules = names(n)
    regions = [PRIMARY, SECONDARY, *OTHERS]
    return {
        "regions": [{"id": r, "name": r} for r in regions],
        "targets": [
            {"id": t, "type": "webhook", "url": f"https://{t}.example.com/in"} for t in TARGET.values()
        ],
        "strategies": [
            strategy_seed(s, [PRIMARY, SECONDARY, OTHERS[i % len(OTHERS)]]) for i, s in enumerate(strategies)
        ],
        "rules": [rule_seed(r, TARGET[PRIMARY]) for r in rules],
    }


def config(base_url: str, n: int, *, new_path: bool) -> dict[str, Any]:
    strategies, rules = names(n)
    regions = [PRIMARY, SECONDARY, *OTHERS]
    return {
        "genesys": procs.genesys(base_url, PER_MINUTE, write_priority=new_path),
        "health": {"interval_seconds": INTERVAL, "timeout_seconds": 2.0, "fall": FALL, "rise": 3},
        "failback": {"mode": "manual"},
        "regions": [{"id": r} for r in regions],
        "strategies": [
            {"id": s, "regions": [PRIMARY, SECONDARY, OTHERS[i % len(OTHERS)]]}
            for i, s in enumerate(strategies)
        ],
        "rules": [
            {
                "id": r,
                "strategy": s,
                "targets": {k: TARGET[k] for k in (PRIMARY, SECONDARY, OTHERS[i % len(OTHERS)])},
            }
            for i, (r, s) in enumerate(zip(rules, strategies, strict=True))
        ],
        "executor": {"write_from_copies": new_path},
    }


def moved(state: dict[str, Any], n: int) -> bool:
    strategies, rules = names(n)
    by_id = {s["id"]: s for s in state["strategies"]}
    rule_by_id = {r["id"]: r for r in state["rules"]}
    for s in strategies:
        regions = by_id[s]["routingConfig"]["regions"]
        if min(regions, key=lambda r: r["priority"])["regionId"] != SECONDARY:
            return False
    return all(rule_by_id[r]["targets"][0]["id"] == TARGET[SECONDARY] for r in rules)


def kind(record: dict[str, Any]) -> str:
    path, method = record["path"], record["method"]
    if "/health" in path:
        region = path.split("/regions/", 1)[1].split("/", 1)[0]
        group = {PRIMARY: "failing region", SECONDARY: "candidate"}.get(region, "other regions")
        return f"poll ({group})"
    for fragment, name in (
        ("/routing/strategies/", "strategy"),
        ("/routing/rules/", "rule"),
        ("/targets/", "target"),
    ):
        if fragment in path:
            return f"{method} {name}"
    return f"{method} {path}"


def one_run(
    n: int, new_path: bool, settle: float, log_path: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    daemon_cpu, sim_cpu = simproc.cpu_plan(True)
    with tempfile.TemporaryDirectory(prefix="watcher-mass-") as tmp_name:
        tmp = Path(tmp_name)
        with (
            procs.simulator(seed(n), PER_MINUTE, tmp, sim_cpu) as sim,
            procs.daemon(config(sim.base_url, n, new_path=new_path), tmp, daemon_cpu, log_path) as d,
        ):
            started = time.monotonic()
            ready = procs.wait_ready(d.base_url, timeout=300)
            progress(f"    ready after {ready - started:.1f} s; degrading {settle:g} s after ready")
            time.sleep(max(0.0, ready + settle - time.monotonic()))
            response = httpx.put(f"{sim.base_url}/_sim/regions/{PRIMARY}", json={"status": "DEGRADED"})
            t0 = time.monotonic()
            response.raise_for_status()
            deadline = t0 + 600
            while not moved(httpx.get(f"{sim.base_url}/_sim/state", timeout=30).json(), n):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{n} strategies not moved within 600 s")
                time.sleep(0.5)
            everything = procs.sim_log(sim.base_url)
    result = analyse(n, new_path, t0, everything)
    result["settle_s"] = settle
    result["degraded_after_ready_s"] = t0 - ready
    return result


def window_floor(before: list[float], decision: float, writes: int) -> tuple[int, float]:
    """The spare of the rolling window at `decision` (given the requests admitted `before` it), and
    when the last of `writes` writes could be sent from `decision` on if they went as soon as the
    window had room for each (nothing else sent meanwhile)."""
    counted = sorted(t for t in before if t + WINDOW > decision)
    spare = PER_MINUTE - len(counted)
    at = decision
    for _ in range(writes):
        while True:
            in_window = [t for t in counted if t + WINDOW > at]  # (the same sum as below: no rounding)
            if len(in_window) < PER_MINUTE:
                break
            # The oldest that must leave for one more: the window has room once it is a minute old.
            at = in_window[len(in_window) - PER_MINUTE] + WINDOW
        counted.append(at)
    return spare, at


def analyse(n: int, new_path: bool, t0: float, everything: list[dict[str, Any]]) -> dict[str, Any]:
    api = [r for r in everything if r["path"].startswith("/api/")]
    after = [r for r in api if r["time"] >= t0]
    writes = [r for r in after if r["method"] == "PUT" and r["status"] == 200]
    strategy_writes = [r for r in writes if "/routing/strategies/" in r["path"]]
    last_ack = max(r["time"] for r in writes)
    failing_polls = [r["time"] for r in after if kind(r) == "poll (failing region)"]
    decision = failing_polls[FALL - 1]
    window = [r for r in after if r["time"] <= last_ack]
    by_kind = collections.Counter(kind(r) for r in window)
    floor = 2 * n / (PER_MINUTE / 60)
    admitted_before = [r["time"] for r in api if r["time"] < decision and r["status"] != 429]
    spare, window_last = window_floor(admitted_before, decision, 2 * n)
    window_floor_s = window_last - t0  # from the degrade: the detection is in it
    during = [r for r in window if r["time"] >= min(w["time"] for w in writes)]
    before = [r["time"] for r in api if r["time"] < t0 and kind(r) == "poll (failing region)"]
    return {
        "n": n,
        "path": "new" if new_path else "old",
        "detection_s": decision - t0,
        # Detection = (first bad poll: the poll phase at the degrade) + (fall - 1) settling polls.
        "first_bad_poll_s": failing_polls[0] - t0,
        "last_good_poll_before_s": t0 - before[-1] if before else float("nan"),
        "first_to_decision_s": decision - failing_polls[0],
        "first_write_s": min(w["time"] for w in writes) - t0,
        "strategies_moved_s": max(r["time"] for r in strategy_writes) - t0,
        "everything_moved_s": last_ack - t0,
        "decision_to_last_ack_s": last_ack - decision,
        "floor_s": floor,
        "ratio_from_decision": (last_ack - decision) / floor,
        "ratio_from_degrade": (last_ack - t0) / floor,
        # Issue 21: the window's spare at the decision, and the floor it allows.
        "window_spare_at_decision": spare,
        "window_floor_s": window_floor_s,
        "ratio_to_window_floor": (last_ack - t0) / window_floor_s if window_floor_s > 0 else float("nan"),
        "window_has_room": spare >= 2 * n,
        "requests_by_kind": dict(sorted(by_kind.items())),
        # Hysteresis goes on while the writes drain the budget: the failing region's poll period.
        "failing_region_max_poll_gap_s": max(
            (
                b - a
                for a, b in zip(failing_polls, [t for t in failing_polls if t <= last_ack][1:], strict=False)
            ),
            default=float("nan"),
        ),
        "polls_of_failing_region_during_writes": sum(1 for r in during if kind(r) == "poll (failing region)"),
        "polls_of_others_during_writes": sum(1 for r in during if kind(r) == "poll (other regions)"),
        "status_429_whole_run": sum(1 for r in api if r["status"] == 429),
        "non_2xx_after_degrade": dict(
            collections.Counter(f"{kind(r)} {r['status']}" for r in after if r["status"] >= 300)
        ),
    }


def run(
    sizes: list[int],
    log_path: Path,
    progress: Callable[[str], None],
    *,
    settles: tuple[float, ...] = SETTLES,
    old_path: bool = False,
) -> dict[str, Any]:
    results = []
    for n in sizes:
        for settle in settles:
            for new_path in (True, False) if old_path else (True,):
                progress(
                    f"  mass failover: {n} strategies x 1 rule, outage {settle:g} s after ready, "
                    f"{'new' if new_path else 'old'} path"
                )
                r = one_run(n, new_path, settle, log_path, progress)
                progress(
                    f"    detection {r['detection_s']:.1f} s, strategies {r['strategies_moved_s']:.1f} s, "
                    f"everything {r['everything_moved_s']:.1f} s (window floor {r['window_floor_s']:.1f} s, "
                    f"{r['ratio_to_window_floor']:.2f}x; average-rate floor {r['floor_s']:.0f} s, "
                    f"{r['ratio_from_degrade']:.2f}x); 429s: {r['status_429_whole_run']}"
                )
                results.append(r)
    return {
        "config": {
            "per_minute": PER_MINUTE,
            "regions_polled": 2 + len(OTHERS),
            "interval_seconds": INTERVAL,
            "fall": FALL,
            "settles_seconds": list(settles),
        },
        "runs": results,
    }
