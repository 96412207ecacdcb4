"""The markdown tables of a benchmark run (printed, saved, and pasted into BENCHMARKS.md)."""

from __future__ import annotations

from typing import Any

from stats import med_range


def _ms(s: dict[str, Any]) -> str:
    return med_range(s, 1000, 2)


def _s(s: dict[str, Any], digits: int = 2) -> str:
    return med_range(s, 1, digits)


def machine_lines(m: dict[str, Any]) -> list[str]:
    return [
        f"- command: `{m['command']}`",
        f"- date (UTC): {m['date']}; total run time {m['total_seconds']:.0f} s",
        f"- machine: {m['nproc']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, Python {m['python']}",
        f"- packages: {', '.join(f'{k} {v}' for k, v in m['packages'].items())}",
        f"- pinning: benchmark process on CPU {m['bench_cpu']}, simulator process on CPU {m['sim_cpu']}",
        f"- load average before / after the run: {m['loadavg_before']} / {m['loadavg_after']}",
    ]


def transport_table(t: dict[str, Any]) -> list[str]:
    reps = t["httpx"]["cpu_per_request"]["1"]["n"]
    lines = [
        f"**1. Transport** (median (min-max) of {reps} runs; same `GenesysClient`, "
        "only `transport_kind` differs)",
        "",
        "| measurement | httpx 0.28 default transport | httpx-aiohttp | httpx / aiohttp |",
        "|---|---|---|---|",
    ]
    for c in ("1", "10", "50"):
        h, a = t["httpx"]["cpu_per_request"][c], t["aiohttp"]["cpu_per_request"][c]
        lines.append(
            f"| client CPU per request, {c} concurrent (ms) | {_ms(h)} | {_ms(a)} "
            f"| {h['median'] / a['median']:.1f}x |"
        )
    for key, label in (("wall_1000_cold", "cold pool"), ("wall_1000_warm", "warm pool")):
        if key in t["httpx"]:
            h, a = t["httpx"][key], t["aiohttp"][key]
            lines.append(
                f"| 1,000 region-health requests at 50 ms, all at once, {label} (s) | {_s(h)} | {_s(a)} "
                f"| {h['median'] / a['median']:.1f}x |"
            )
    h, a = t["httpx"]["cpu_per_request_1000_cold"], t["aiohttp"]["cpu_per_request_1000_cold"]
    lines.append(
        f"| client CPU per request in that burst, cold pool (ms) | {_ms(h)} | {_ms(a)} "
        f"| {h['median'] / a['median']:.1f}x |"
    )
    failures = t["httpx"]["cpu_failures"] + t["httpx"]["wall_failures"]
    failures_a = t["aiohttp"]["cpu_failures"] + t["aiohttp"]["wall_failures"]
    kinds = ", ".join(f"{k} {v}" for k, v in t.get("errors_by_type", {}).items()) or "none"
    lines.append(f"| failed requests (all runs; by type: {kinds}) | {failures} | {failures_a} | |")
    return lines


def layer_table(t: dict[str, Any], cycle: dict[str, Any]) -> list[str]:
    if "layers" not in t:
        return ["**1b. Where the client CPU goes**: not measured with --quick"]
    layers = t["layers"]
    per_poll = {k: v / cycle["regions"] for k, v in cycle["warm_cpu"].items() if k != "values" and k != "n"}
    per_poll["n"] = cycle["warm_cpu"]["n"]
    return [
        "**1b. Where the client CPU goes** "
        "(1,000 requests at 50 ms at once, warm pool; ms of CPU per request)",
        "",
        "| layer | CPU per request (ms) | wall for 1,000 (s) |",
        "|---|---|---|",
        f"| aiohttp `ClientSession` alone | {_ms(layers['aiohttp_cpu'])} | {_s(layers['aiohttp_wall'])} |",
        f"| + httpx API (`httpx.AsyncClient` on `AiohttpTransport`) | {_ms(layers['httpx_aiohttp_cpu'])} "
        f"| {_s(layers['httpx_aiohttp_wall'])} |",
        "| + `GenesysClient` (budget, token, limiter, tenacity, pydantic) "
        f"| {_ms(layers['genesys_client_cpu'])} "
        f"| {_s(layers['genesys_client_wall'])} |",
        f"| + daemon poll path (scheduler, limiter, health source, metrics) | {_ms(per_poll)} "
        f"| {_s(cycle['warm_wall'])} |",
    ]


def cycle_table(c: dict[str, Any]) -> list[str]:
    seq = c["sequential"]
    how = (
        f"measured {seq['measured_regions']} regions in {seq['measured_seconds']:.1f} s, "
        f"x{c['regions'] / seq['measured_regions']:.0f}"
        if seq["extrapolated"]
        else f"measured all {seq['measured_regions']} regions"
    )
    warm = c["warm_wall"]["median"]
    target = "met" if warm <= 1.0 else f"missed by {warm - 1.0:.2f} s ({warm:.2f}x)"
    lines = [
        f"**2. One poll cycle over {c['regions']} regions at 50 ms** "
        f"(median (min-max) of {c['warm_wall']['n']} runs; health.concurrency = {c['health_concurrency']})",
        "",
        "| measurement | wall (s) | client CPU (s) |",
        "|---|---|---|",
        f"| daemon poll path, first cycle (token held, no connections yet) | {_s(c['cold_wall'], 3)} "
        f"| {_s(c['cold_cpu'], 3)} |",
        f"| daemon poll path, next cycle (connections kept alive) | {_s(c['warm_wall'], 3)} "
        f"| {_s(c['warm_cpu'], 3)} |",
    ]
    for e in c["engine"]:
        lines.append(
            f"| engine (`Watcher.engine.feed`) for one cycle, {e['regions']} regions in {e['strategies']} "
            f"strategies ({e['sampled']} observations timed, x{e['regions'] / e['sampled']:.0f}; no network) "
            f"| | {e['cpu_per_cycle']:.3f} ({e['cpu_per_observation'] * 1000:.2f} ms per observation) |"
        )
    if "sequential_reused_client" in c:
        reuse = c["sequential_reused_client"]
        lines.append(
            f"| reference: the same loop on one kept-alive `httpx.Client` (measured "
            f"{reuse['measured_regions']} regions in {reuse['measured_seconds']:.1f} s, "
            f"x{c['regions'] / reuse['measured_regions']:.0f}) | {reuse['cycle_seconds']:.1f} | |"
        )
    lines += [
        f"| seeds' sequential `httpx.get` loop ({how}) | {seq['cycle_seconds']:.1f} | |",
        f"| speed-up, sequential / concurrent (next cycle) | {seq['cycle_seconds'] / warm:.0f}x | |",
        f"| target <= 1.0 s for the concurrent cycle | {target} | |",
    ]
    return lines


def switch_table(s: dict[str, Any]) -> list[str]:
    cfg, variants = s["config"], s["variants"]
    names = {"default": "default (settling polls)", "no_settling": "control: settling polls off"}
    cols = list(variants)
    v = [variants[k] for k in cols]

    def row(label: str, cell: Any) -> str:
        return f"| {label} | " + " | ".join(cell(x) for x in v) + " |"

    def ms(key: str) -> Any:
        return lambda x: _ms(x[key])

    def target(x: dict[str, Any]) -> str:
        r = x["ratios"]["issue"]
        return f"met ({r:.2f}x)" if r <= 1.1 else f"missed: {r:.2f}x the floor"

    return [
        f"**3. Detection to switch** (fresh daemon per switch; interval {cfg['interval_seconds']} s, "
        f"fall {cfg['fall']}, timeout {cfg['timeout_seconds']} s, jitter {cfg['jitter']}; times in ms, "
        "median (min-max) unless marked)",
        "",
        "| measurement | " + " | ".join(names[k] for k in cols) + " |",
        "|---|" + "---|" * len(cols),
        row("switches (all succeeded)", lambda x: f"{x['runs']} ({x['all_succeeded']})"),
        row("settling interval (s)", lambda x: f"{x['settling_interval_seconds']:g}"),
        row("**degrade -> strategy PUT acked**", lambda x: f"**{_ms(x['degrade_to_ack'])}**"),
        row("degrade -> strategy PUT acked, p90", lambda x: f"{x['degrade_to_ack']['p90'] * 1000:.0f}"),
        row("poll period in effect at the degrade", ms("poll_gap")),
        row("degrade -> first bad poll", ms("first_bad_poll")),
        row(f"degrade -> poll #{cfg['fall']} (the decision)", ms("fall_th_bad_poll")),
        row("decision poll -> PUT acked (GET + PUT)", ms("last_poll_to_ack")),
        row("PUT round trip alone, warm connection", lambda x: _ms(s["put_rtt"])),
        row("GET + PUT round trip, warm connection", lambda x: _ms(s["get_put_rtt"])),
        row(
            "issue floor: fall x interval + PUT RTT; median / floor",
            lambda x: f"{x['floors']['issue'] * 1000:.0f}; {x['ratios']['issue']:.2f}x",
        ),
        row(
            "phase-aware floor (fall - 1 + U) x interval + PUT RTT, median / p90; ratios",
            lambda x: (
                f"{x['floors']['phase_aware_median'] * 1000:.0f} / "
                f"{x['floors']['phase_aware_p90'] * 1000:.0f}"
                f"; {x['ratios']['phase_aware_median']:.2f}x / {x['p90_ratios']['phase_aware']:.2f}x"
            ),
        ),
        row(
            "design floor U x interval + (fall - 1) x settling + GET+PUT RTT, median / p90; ratios",
            lambda x: (
                f"{x['floors']['design_median'] * 1000:.0f} / {x['floors']['design_p90'] * 1000:.0f}"
                f"; {x['ratios']['design_median']:.2f}x / {x['p90_ratios']['design']:.2f}x"
            ),
        ),
        row("target: median <= 1.1 x issue floor", target),
    ]


def render(results: dict[str, Any]) -> str:
    lines = machine_lines(results["machine"])
    lines += ["", *transport_table(results["transport"]), ""]
    lines += [*layer_table(results["transport"], results["poll_cycle"]), ""]
    lines += [*cycle_table(results["poll_cycle"]), ""]
    lines += switch_table(results["switch"])
    return "\n".join(lines) + "\n"
