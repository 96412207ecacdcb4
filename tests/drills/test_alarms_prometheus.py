"""A real Prometheus evaluates the alert rules a drill names, and the test flips them.

The reader must see an alert fire and resolve as Prometheus evaluates it, a drill must be refused by
a firing blocking alarm and failed by a firing outcome alarm read this way, and when Prometheus
goes away a drill with alarms must not start and a running one must abort.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from tests.deploy.live_prometheus import prometheus_binary
from tests.drills._machine import PREFERRED, Machine
from tests.drills.live_alerting import Alerting, Flags, flag_endpoint, running_alerting
from watcher.drills.alarms import read_alarms
from watcher.drills.inputs import AlarmsRead
from watcher.drills.readings import AlarmReading, AlarmsFiring, AlarmsUnreadable
from watcher.drills.record import Outcome

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        prometheus_binary() is None, reason="prometheus missing: sh deploy/install-system-deps.sh"
    ),
]

OUTCOME, BLOCKING = "CallsFailing", "IncidentOpen"
NAMES = (OUTCOME, BLOCKING)


@dataclass
class Rig:
    flags: Flags
    prometheus: Alerting
    client: httpx.AsyncClient

    async def read(self, names: tuple[str, ...] = NAMES) -> AlarmReading:
        return await read_alarms(self.client, self.prometheus.url, names)

    async def until(self, check: Callable[[AlarmReading], bool], timeout: float = 20.0) -> AlarmReading:
        """Read until `check` holds (Prometheus scrapes and evaluates every 500 ms), with a deadline."""
        last: AlarmReading | None = None
        try:
            with anyio.fail_after(timeout):
                while True:
                    last = await self.read()
                    if check(last):
                        return last
                    await anyio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"last reading {last}\n{self.prometheus.log_tail()}") from None


def firing(*names: str) -> Callable[[AlarmReading], bool]:
    return lambda r: r == AlarmsFiring(frozenset(names))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    flags = Flags({OUTCOME: 0, BLOCKING: 0})
    with flag_endpoint(flags) as target:
        async with (
            running_alerting(tmp_path / "prometheus", target, list(NAMES)) as prometheus,
            httpx.AsyncClient(timeout=2.0) as client,
        ):
            rig = Rig(flags, prometheus, client)
            # Rules are evaluated (the always-firing alert is listed) and the flags scraped at 0.
            await rig_until_watchdog(rig)
            yield rig


async def rig_until_watchdog(rig: Rig) -> None:
    with anyio.fail_after(30):
        while await rig.read(("Watchdog",)) != AlarmsFiring(frozenset({"Watchdog"})):
            await anyio.sleep(0.1)
    assert await rig.read() == AlarmsFiring(frozenset())


async def test_an_alert_the_test_flips_is_read_firing_then_resolved(rig: Rig) -> None:
    rig.flags.set(OUTCOME, 1)
    await rig.until(firing(OUTCOME))
    rig.flags.set(BLOCKING, 1)
    await rig.until(firing(OUTCOME, BLOCKING))
    rig.flags.set(OUTCOME, 0)
    rig.flags.set(BLOCKING, 0)
    await rig.until(firing())


async def test_real_alarms_refuse_a_drill_then_fail_it(rig: Rig) -> None:
    m = Machine()
    rig.flags.set(BLOCKING, 1)
    blocked = await rig.until(firing(BLOCKING))
    m.start(0.0, drill_id="blocked", alarms=blocked)
    assert [(d.outcome, d.reason) for d in m.reports()] == [
        (Outcome.NOT_STARTED, f"blocking alarm firing: {BLOCKING}")
    ]

    rig.flags.set(BLOCKING, 0)
    m.start(1.0, drill_id="drill", alarms=await rig.until(firing()))
    m.land(1.5, "to")
    m.feed(AlarmsRead(2.0, await rig.read()))
    assert m.running is not None
    assert m.running.outcome is None  # nothing fires: the drill holds

    rig.flags.set(OUTCOME, 1)
    back = m.feed(AlarmsRead(3.0, await rig.until(firing(OUTCOME))))
    assert [getattr(a, "region", None) for a in back] == [PREFERRED]
    m.land(3.5, "back")
    report = m.reports()[-1]
    assert (report.outcome, report.reason) == (Outcome.FAILED, f"outcome alarm firing: {OUTCOME}")


async def test_prometheus_gone_aborts_a_running_drill_and_refuses_the_next(rig: Rig) -> None:
    m = Machine()
    m.start(0.0, drill_id="drill", alarms=await rig.read())
    m.land(0.5, "to")
    await rig.prometheus.stop()
    gone = await rig.read()
    assert isinstance(gone, AlarmsUnreadable)
    assert gone.reason.startswith(f"{rig.prometheus.url}/api/v1/alerts: ConnectError")
    back = m.feed(AlarmsRead(1.0, gone))
    assert [getattr(a, "region", None) for a in back] == [PREFERRED]
    m.land(1.5, "back")
    m.start(2.0, drill_id="next", alarms=await rig.read())
    outcomes = [(d.id, d.outcome) for d in m.reports()]
    assert outcomes == [("drill", Outcome.FAILED), ("next", Outcome.NOT_STARTED)]
    assert all("Prometheus cannot be read" in (d.reason or "") for d in m.reports())
