"""The markdown tables of benchmarks 4 (mass failover) and 5 (steady state)."""

from __future__ import annotations

from typing import Any

KINDS = [
    "GET strategy",
    "PUT strategy",
    "GET rule",
    "PUT rule",
    "GET target",
    "poll (failing region)",
    "poll (candidate)",
    "poll (other regions)",
]


def mass_table(m: dict[str, Any]) -> list[str]:
    c = m["config"]
    runs = m["runs"]
    head = [
        f"{r['n']} x 1, {r.get('settle_s', c.get('settle_seconds', 0)):g} s after ready, {r['path']} path"
        for r in runs
    ]
    settles = c.get("settles_seconds", [c.get("settle_seconds")])
    lines = [
        f"**4. Mass failover at {c['per_minute']}/min on both sides** (one run each; "
        f"{c['regions_polled']} regions polled every {c['interval_seconds']:g} s, fall {c['fall']}; "
        f"degrade {' or '.join(f'{x:g}' for x in settles)} s after ready; times in s after the degrade)",
        "",
        "| measurement | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(runs),
    ]

    def row(label: str, cell: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in runs) + " |")

    row("detection (fall-th poll of us-east-1 = the decision)", lambda r: f"{r['detection_s']:.1f}")
    row(
        "of which: first bad poll (the poll phase at the degrade)",
        lambda r: f"{r.get('first_bad_poll_s', float('nan')):.1f}",
    )
    row(
        "of which: first bad poll -> decision (settling polls)",
        lambda r: f"{r.get('first_to_decision_s', float('nan')):.1f}",
    )
    row("first write sent", lambda r: f"{r['first_write_s']:.1f}")
    row("every strategy moved (last strategy PUT acked)", lambda r: f"{r['strategies_moved_s']:.1f}")
    row("**everything moved (last write acked)**", lambda r: f"**{r['everything_moved_s']:.1f}**")
    row("PUT floor: 2N PUTs at 5/s", lambda r: f"{r['floor_s']:.0f}")
    if all("window_floor_s" in r for r in runs):
        row("spare of the window at the decision", lambda r: str(r["window_spare_at_decision"]))
        row(
            "window floor: detection + what the window's spare allows",
            lambda r: f"{r['window_floor_s']:.1f}",
        )
        row(
            "**degrade -> last ack, / window floor** (target <= 1.25)",
            lambda r: f"**{r['ratio_to_window_floor']:.2f}x**",
        )
        row(
            "**degrade -> last ack, / average-rate floor** (target <= 0.6 when the window has room)",
            lambda r: f"**{r['ratio_from_degrade']:.2f}x**" + ("" if r["window_has_room"] else " (no room)"),
        )
    row(
        "**decision -> last ack, / floor** (issue 13: target <= 1.25)",
        lambda r: f"**{r['ratio_from_decision']:.2f}x**",
    )
    row("degrade -> last ack, / floor", lambda r: f"{r['ratio_from_degrade']:.2f}x")
    for k in KINDS:
        row(f"requests, degrade -> last ack: {k}", lambda r, k=k: str(r["requests_by_kind"].get(k, 0)))
    others = sorted({k for r in runs for k in r["requests_by_kind"] if k not in KINDS})
    for k in others:
        row(f"requests, degrade -> last ack: {k}", lambda r, k=k: str(r["requests_by_kind"].get(k, 0)))
    row(
        "polls of the failing region while writes went out",
        lambda r: str(r["polls_of_failing_region_during_writes"]),
    )
    row("polls of the other regions while writes went out", lambda r: str(r["polls_of_others_during_writes"]))
    row(
        "longest gap between polls of the failing region, degrade -> last ack (interval 5 s)",
        lambda r: f"{r['failing_region_max_poll_gap_s']:.1f}",
    )
    row("**429s (whole run)**", lambda r: f"**{r['status_429_whole_run']}**")
    row(
        "other non-2xx after the degrade",
        lambda r: ", ".join(f"{k}: {v}" for k, v in r["non_2xx_after_degrade"].items()) or "none",
    )
    return lines


def steady_table(s: dict[str, Any]) -> list[str]:
    c = s["config"]
    return [
        f"**5. Steady state** ({c['regions']} regions every {c['interval_seconds']:g} s, "
        f"{c['strategies']} strategies with one rule each, {c['per_minute']}/min on both sides; the daemon "
        f"as its own process, measured over {c['duration_seconds']:.0f} s after a "
        f"{c['warmup_seconds']:g} s warm-up)",
        "",
        "| measurement | value | target |",
        "|---|---|---|",
        f"| CPU share of one core (process CPU time / wall) | {s['cpu_share'] * 100:.2f} % | <= 5 % |",
        f"| CPU time over the window | {s['cpu_seconds']:.1f} s | |",
        f"| RSS, max of the samples | {s['rss_mib_max']:.1f} MiB | <= 80 MiB |",
        f"| RSS at the start / end of the window | {s['rss_mib_start']:.1f} / {s['rss_mib_end']:.1f} MiB | |",
        f"| polls made / expected (regions x window / interval) | {s['polls']} / "
        f"{s['polls_expected']:.0f} | |",
        f"| API requests in the window; non-2xx; 429s | {s['requests']}; {s['non_2xx']}; "
        f"{s['status_429']} | 0 429s |",
    ]
