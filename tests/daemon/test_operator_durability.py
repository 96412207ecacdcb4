"""SPEC 4.1: operator commands are durable and audited. A hold, a pin and the dry-run switch survive
a restart; each command is in the audit trail."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import httpx
import pytest

from watcher.daemon import admin, holds
from watcher.events import read_trail
from watcher.sim import SimulatorState, default_seed

from .conftest import ADMIN_TOKEN, PRIMARY, SECONDARY, STRATEGY, running_watcher

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_a_hold_survives_a_restart_and_freezes_the_next_outage(tmp_path: Path) -> None:
    state = SimulatorState(default_seed())
    async with running_watcher(tmp_path, state=state) as h:
        await h.ready()
        r = await h.http.post(
            "/admin/hold", json={"strategy": STRATEGY, "seconds": 600, "reason": "maintenance"}, headers=AUTH
        )
        r.raise_for_status()
        until = r.json()["hold"]["until"]
    async with running_watcher(tmp_path, state=state) as h:
        await h.ready()
        doc = next(s for s in (await h.http.get("/status")).json()["strategies"] if s["id"] == STRATEGY)
        assert doc["hold"] is not None
        assert doc["hold"]["until"][:19] == until[:19]  # the same wall-clock expiry
        assert doc["hold"]["reason"] == "maintenance"
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: not h.watcher.engine.world.regions[PRIMARY].healthy)
        await h.until(
            lambda: (
                "held by an operator"
                in (
                    h.watcher.engine.world.strategies[STRATEGY].last_decision.summary
                    if h.watcher.engine.world.strategies[STRATEGY].last_decision
                    else ""
                )
            )
        )
        assert h.requests("PUT", "/routing/strategies/") == []
    kinds = [(r["kind"], r["explanation"].get("command")) for r in read_trail(tmp_path / "state")]
    assert ("operator", "hold") in kinds


async def test_dry_run_survives_a_restart(tmp_path: Path) -> None:
    state = SimulatorState(default_seed())
    async with running_watcher(tmp_path, state=state) as h:
        await h.ready()
        (await h.http.put("/admin/dry-run", json={"enabled": True}, headers=AUTH)).raise_for_status()
    async with running_watcher(tmp_path, state=state) as h:
        await h.ready()
        assert (await h.http.get("/status")).json()["dryRun"] is True
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: bool(h.watcher.switch_log))
        assert h.watcher.switch_log[-1]["result"] == "dry_run"
        assert h.active() == PRIMARY  # the belief stays what the API holds
        assert h.requests("PUT", "/routing/strategies/") == []
        (await h.http.put("/admin/dry-run", json={"enabled": False}, headers=AUTH)).raise_for_status()
        await h.until(lambda: h.active() == SECONDARY)
    kinds = [(r["kind"], r["explanation"].get("command")) for r in read_trail(tmp_path / "state")]
    assert kinds.count(("operator", "dry-run")) == 2


async def test_an_empty_admin_token_opens_nothing(tmp_path: Path) -> None:
    # The config refuses an empty token (tests/config); this is the second lock, in the HTTP layer.
    async with running_watcher(tmp_path, server={"admin_token": ""}) as h:
        await h.ready()
        r = await h.http.put("/admin/dry-run", json={"enabled": True}, headers={"Authorization": "Bearer"})
        assert r.status_code == 401
        assert (await h.http.get("/status")).json()["dryRun"] is False


async def test_a_hung_disk_refuses_the_hold_and_never_stalls_a_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An fsync that never returns (a dead NFS server, a failing disk): the operator state's write
    # hangs. The hold is refused (503) after a bound; polls and the switch go on meanwhile.
    unblock = threading.Event()
    entered = threading.Event()

    def hung_write(path: Path, doc: object) -> None:
        entered.set()
        unblock.wait(30)

    monkeypatch.setattr(holds, "write_json", hung_write)
    monkeypatch.setattr(admin, "STORE_TIMEOUT_SECONDS", 3.0)
    try:
        async with running_watcher(tmp_path) as h:
            await h.ready()
            answers: list[httpx.Response] = []

            async def ask() -> None:
                body = {"strategy": STRATEGY, "seconds": 600}
                answers.append(await h.http.post("/admin/hold", json=body, headers=AUTH, timeout=10))

            async with anyio.create_task_group() as tg:
                tg.start_soon(ask)
                await h.until(entered.is_set)
                # While the write hangs, the primary dies: the switch is not held up.
                await h.set_region(PRIMARY, "DOWN")
                await h.until(lambda: h.active() == SECONDARY, timeout=10)
                assert not answers, "the hold was answered before its write ended"
            (r,) = answers
            assert r.status_code == 503, r.text
            assert "did not answer" in r.json()["message"]
            doc = next(s for s in (await h.http.get("/status")).json()["strategies"] if s["id"] == STRATEGY)
            assert doc["hold"] is None
            failures = h.watcher.metrics.state_write_failures.labels(what="operator")._value.get()
            assert failures >= 1
    finally:
        unblock.set()
