"""SPEC §4.2 "Telling the operator the truth", end to end with real processes against the simulator:
a refused command is a refusal (4xx/5xx with the reason, exit 1, audited), request bodies are
bounded, durable means durable (a state dir checked at start, a full disk surfaced at once, no
event lost while the process lives), and one writer per state dir."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.harness import DaemonProcess, cli, daemon_process, refused_at_start
from tests.safety._bench import SWITCHED, SWITCHING, Bench, bench
from tests.safety._config import PRIMARY, SECONDARY, STRATEGY, free_port
from tests.safety._daemon import alive
from tests.support import until
from watcher.events import read_trail

pytestmark = pytest.mark.anyio


def refusals(state_dir: Path) -> list[dict[str, Any]]:
    """The audit trail's records of refused operator commands."""
    return [r for r in read_trail(state_dir) if r.get("kind") == "operator" and r.get("result") == "refused"]


async def unhealthy(d: DaemonProcess, region: str) -> None:
    async def check() -> bool:
        alive(d)
        return not (await d.view.region(region))["healthy"]

    await until(check, f"{region} unhealthy", 10)


async def test_a_pin_the_watcher_will_not_carry_out_is_refused_with_its_reason(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        config = b.config()
        async with daemon_process(config) as d:
            await d.view.ready()
            # Not a region of the strategy (nor of the config): refused, exit 1, the reason printed.
            code, out, err = await cli(
                "hold", "--strategy", STRATEGY, "--for", "10m", "--pin", "mars-1", "--config", str(config)
            )
            assert code == 1, (code, out, err)
            assert out == "", out
            assert "refused" in err, err
            assert "mars-1" in err, err
            assert (await d.view.strategy(STRATEGY))["pin"] is None
            # A region of the strategy that is unhealthy: a conflict with the world (409).
            await b.admin.set_region(SECONDARY, "DOWN")
            await unhealthy(d, SECONDARY)
            code, out, err = await cli(
                "hold", "--strategy", STRATEGY, "--for", "10m", "--pin", SECONDARY, "--config", str(config)
            )
            assert code == 1, (code, out, err)
            assert "HTTP 409" in err, err
            assert SECONDARY in err, err
            doc = await d.view.strategy(STRATEGY)
            assert doc["pin"] is None, doc
            assert doc["hold"] is None, doc
            # The raw API says the same.
            r = await d.view.admin("/admin/hold", {"strategy": STRATEGY, "seconds": 60, "region": SECONDARY})
            assert r.status_code == 409, r.text
            assert SECONDARY in r.json()["message"]
            # An unknown strategy, for every command: a usage error (exit 2), named.
            code, _, err = await cli("release", "--strategy", "strategy-9", "--config", str(config))
            assert code == 2, (code, err)
            assert "strategy-9" in err, (code, err)
            code, _, err = await cli(
                "hold", "--strategy", "strategy-9", "--for", "1m", "--config", str(config)
            )
            assert code == 2, (code, err)
            assert "strategy-9" in err, (code, err)
        refused = [
            (r["explanation"].get("command"), r["strategy"], r["explanation"].get("region"))
            for r in refusals(b.state_dir())
        ]
        assert refused == [
            ("pin", STRATEGY, "mars-1"),
            ("pin", STRATEGY, SECONDARY),
            ("pin", STRATEGY, SECONDARY),
            ("release", "strategy-9", None),
            ("hold", "strategy-9", None),
        ], refused
        assert all(r["error"] for r in refusals(b.state_dir()))


async def test_each_command_prints_one_line_and_json_on_request(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        config = b.config()
        async with daemon_process(config) as d:
            await d.view.ready()
            code, out, err = await cli(
                "hold", "--strategy", STRATEGY, "--for", "10m", "--reason", "drill", "--config", str(config)
            )
            assert code == 0, err
            assert len(out.strip().splitlines()) == 1, out
            assert STRATEGY in out, out
            assert "held until" in out, out
            assert "drill" in out, out
            assert await d.view.metric("failover_watcher_operator_hold", strategy=STRATEGY, kind="hold") == 1
            code, out, err = await cli("release", "--strategy", STRATEGY, "--json", "--config", str(config))
            assert code == 0, err
            assert json.loads(out)["id"] == STRATEGY
            assert await d.view.metric("failover_watcher_operator_hold", strategy=STRATEGY) == 0
            code, out, err = await cli("dry-run", "on", "--config", str(config))
            assert code == 0, err
            assert out.strip().splitlines() == [out.strip()], out
            assert "dry run on" in out, out
            # Too long a reason is refused with the reason, not stored.
            code, out, err = await cli(
                "hold", "--strategy", STRATEGY, "--for", "1m", "--reason", "x" * 1025, "--config", str(config)
            )
            assert code == 1, (code, err)
            assert "1024" in err, (code, err)
            assert (await d.view.strategy(STRATEGY))["hold"] is None


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_request_body_over_64_kib_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        config = b.config()
        async with daemon_process(config) as d:
            await d.view.ready()
            host, port = d.view.base_url.removeprefix("http://").split(":")
            before = _rss_kib(d.pid)
            # Headers announcing 10 MiB, then not one byte of the body: the answer comes anyway.
            head = (
                f"POST /admin/hold HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer safety-admin-token-0123456789\r\n"
                f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
            ).encode()

            def ask() -> bytes:
                with socket.create_connection((host, int(port)), timeout=5) as s:
                    s.sendall(head)
                    return s.recv(4096)

            answer = await anyio.to_thread.run_sync(ask)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            # A body sent in full (chunked, no length) is cut at the bound too, and costs nothing.
            big = {"strategy": STRATEGY, "seconds": 60, "reason": "x" * (10 * 1024 * 1024)}

            async def chunks() -> Any:
                data = json.dumps(big).encode()
                for i in range(0, len(data), 1 << 16):
                    yield data[i : i + (1 << 16)]

            with contextlib.suppress(Exception):  # the server may close before the client is done
                r = await d.view.http.post(
                    "/admin/hold",
                    content=chunks(),
                    headers={"Authorization": "Bearer safety-admin-token-0123456789"},
                )
                assert r.status_code == 413, r.text
            assert _rss_kib(d.pid) - before < 20 * 1024, (before, _rss_kib(d.pid))
            assert (await d.view.strategy(STRATEGY))["hold"] is None
            alive(d)


# ------------------------------------------------------------------------------------ the state dir


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A real tmpfs mounted at `path` for the block (skipped, with the reason, where not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Fill the filesystem of `directory` to the last byte; the filler file, to free it again."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler


async def test_a_state_dir_that_cannot_be_written_refuses_the_start(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        port = free_port()
        config = b.config(state={"dir": str(blocker / "state")}, server={"listen": f"127.0.0.1:{port}"})
        code, err = await refused_at_start(config, port)
        assert code == 1, err
        assert "[state] dir" in err, err
        assert str(blocker / "state") in err, err
        code, _, err = await cli("check-config", "--config", str(config))
        assert code == 2, (code, err)
        assert "state.dir" in err, (code, err)
        with tmpfs(tmp_path / "ro", "1m", read_only=True) as ro:
            config = b.config(state={"dir": str(ro)}, server={"listen": f"127.0.0.1:{port}"})
            code, err = await refused_at_start(config, port)
            assert code == 1, (code, err)
            assert "Read-only file system" in err, (code, err)
            code, _, err = await cli("check-config", "--config", str(config))
            assert code == 2, (code, err)
            assert "Read-only file system" in err, (code, err)


async def test_a_second_daemon_on_the_same_state_dir_refuses_to_start_naming_the_first(
    tmp_path: Path,
) -> None:
    async with bench(tmp_path) as b:
        first = b.config()
        async with daemon_process(first, "first") as d:
            await d.view.ready()
            port = free_port()
            second = b.config(
                "second", state={"dir": str(b.state_dir())}, server={"listen": f"127.0.0.1:{port}"}
            )
            code, err = await refused_at_start(second, port)
            assert code == 1, err
            assert f"pid {d.pid} on {socket.gethostname()} since " in err, err
            alive(d)


def _switch_events(b: Bench) -> list[str]:
    return [e["type"] for e in b.events() if e["type"] in (SWITCHING, SWITCHED)]


async def test_a_full_disk_is_surfaced_never_blocks_a_switch_and_loses_no_event(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        with tmpfs(tmp_path / "disk", "8m") as disk:
            # The periodic resync is an hour away: whatever arrives, the outbox carried.
            config = b.config(state={"dir": str(disk / "state")}, events={"resync_interval_seconds": 3600})
            async with daemon_process(config) as d:
                await d.view.ready()
                filler = fill(disk)
                # A hold that cannot be kept is refused (503), not acknowledged.
                code, out, err = await cli(
                    "hold", "--strategy", STRATEGY, "--for", "10m", "--config", str(config)
                )
                assert code == 1, (code, out, err)
                assert "HTTP 503" in err, (code, out, err)
                assert "No space left" in err, (code, out, err)
                assert (await d.view.strategy(STRATEGY))["hold"] is None
                code, _, err = await cli("dry-run", "on", "--config", str(config))
                assert code == 1, (code, err)
                assert "HTTP 503" in err, (code, err)
                assert (await d.view.status())["dryRun"] is False
                # Surfaced at once: /readyz names it, the metric counts it.
                r = await d.view.http.get("/readyz")
                assert r.status_code == 503, r.text
                assert "state dir" in r.json()["detail"], r.text
                assert (
                    await d.view.metric("failover_watcher_state_write_failures_total", what="operator") >= 1
                )
                # The primary dies: the switch is written all the same.
                await b.admin.set_region(PRIMARY, "DOWN")

                async def switched() -> bool:
                    alive(d)
                    return await b.admin.routes_to(STRATEGY) == SECONDARY

                await until(switched, f"{STRATEGY} switched to {SECONDARY} on a full disk", 15)

                async def kept() -> bool:
                    return await d.view.metric("failover_watcher_events_unstored") >= 2

                await until(kept, "the switch's events kept in memory", 10, detail=lambda: d.timeline())
                assert _switch_events(b) == [], "delivered although the outbox could not store them"
                # Space comes back: the events are stored and delivered, without the resync.
                filler.unlink()

                async def delivered() -> bool:
                    return _switch_events(b) == [SWITCHING, SWITCHED]

                await until(
                    delivered, "switching and switched delivered", 15, detail=lambda: _switch_events(b)
                )

                async def ready_again() -> bool:
                    return (await d.view.http.get("/readyz")).status_code == 200

                await until(ready_again, "/readyz 200 once the disk is writable", 15)
                assert await d.view.metric("failover_watcher_events_unstored") == 0
                alive(d)


# ------------------------------------------------------------------------------- the 3 a.m. commands


async def test_status_shows_a_failed_over_strategy_as_a_table(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        config = b.config()
        async with daemon_process(config) as d:
            await d.view.ready()
            await b.admin.set_region(PRIMARY, "DOWN")

            async def failed_over() -> bool:
                alive(d)
                doc = await d.view.strategy(STRATEGY)
                return doc["activeRegion"] == SECONDARY and doc["lastSwitch"] is not None

            await until(failed_over, f"{STRATEGY} failed over to {SECONDARY}", 15)
            code, out, err = await cli("status", "--config", str(config))
            assert code == 0, err
            lines = out.splitlines()
            assert lines[0].startswith("leader: "), out
            region_rows = {line.split()[0]: line for line in lines if line.startswith((PRIMARY, SECONDARY))}
            assert "healthy" in region_rows[SECONDARY]
            assert "unhealthy" in region_rows[PRIMARY]
            assert "=bad" in region_rows[PRIMARY], out  # its source's verdict
            # The strategies' table (a readiness table of the standbys follows it, rows named alike).
            strategies = lines[next(i for i, line in enumerate(lines) if line.startswith("STRATEGY ")) :]
            row = next(line for line in strategies if line.startswith(STRATEGY))
            assert row.split()[1] == SECONDARY, out
            assert f"{PRIMARY} -> {SECONDARY}: success" in row, out
            code, out, err = await cli("status", "--json", "--config", str(config))
            assert code == 0, err
            assert json.loads(out)["strategies"][0]["activeRegion"] == SECONDARY


async def test_routine_events_are_info_and_what_needs_a_look_is_warning(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        config = b.config()
        async with daemon_process(config) as d:
            await d.view.ready()
            await b.admin.set_region(PRIMARY, "DOWN")

            async def switched() -> bool:
                alive(d)
                return d.logged(lambda line: line.get("event") == "switch success")

            await until(switched, "the switch logged", 15)
            levels = {str(line.get("event")): line.get("level") for _, line in d.lines}
            assert levels["leadership gained"] == "info"
            assert levels["region healthy"] == "info"
            assert levels["switch success"] == "info"
            assert levels["region unhealthy"] == "warning"


async def test_a_busy_port_is_named_in_words(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            config = b.config(server={"listen": f"127.0.0.1:{port}"})
            code, _, err = await cli("run", "--config", str(config))
        assert code == 1, err
        assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in err, err
        assert "Errno" not in err
