"""The daemon's event loop: uvloop where it is installed (BENCHMARKS.md, 5b), the standard library's
when WATCHER_EVENT_LOOP=asyncio declines it, and a value that is neither refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import STARTING, clean_env, cli, daemon_process, write_sim_config
from tests.support import until
from watcher.aio import LOOP_ENV, loop_options
from watcher.sim import SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio


def test_uvloop_unless_declined_and_a_typo_is_named() -> None:
    assert loop_options({}) == {"use_uvloop": True}  # a dependency: installed here
    assert loop_options({LOOP_ENV: " UVLOOP "}) == {"use_uvloop": True}
    assert loop_options({LOOP_ENV: "asyncio"}) == {"use_uvloop": False}
    with pytest.raises(ValueError, match=r"WATCHER_EVENT_LOOP='uvlop' is not an event loop"):
        loop_options({LOOP_ENV: "uvlop"})


@pytest.mark.parametrize(("declared", "running"), [(None, "uvloop"), ("asyncio", "asyncio")])
async def test_the_daemon_says_which_loop_it_runs_and_polls_on_it(
    tmp_path: Path, declared: str | None, running: str
) -> None:
    env = clean_env() if declared is None else clean_env(**{LOOP_ENV: declared})
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = write_sim_config(tmp_path / "watcher.toml", sim, tmp_path)
        async with daemon_process(config, env=env) as d:
            await d.view.ready()
            (start,) = [r for _, r in d.lines if r.get("event") == STARTING]
            assert start["event_loop"] == running
            # and it goes on polling on it (ready: every region was polled healthy already)
            before = await d.view.polls("us-east-1")

            async def polled_again() -> bool:
                return await d.view.polls("us-east-1") > before

            await until(polled_again, "more polls of us-east-1", 10)


async def test_an_unknown_loop_is_refused_at_start(tmp_path: Path) -> None:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = write_sim_config(tmp_path / "watcher.toml", sim, tmp_path)
        code, _out, err = await cli("run", "--config", str(config), env=clean_env(**{LOOP_ENV: "uvlop"}))
    assert code == 2
    assert "refusing to start: WATCHER_EVENT_LOOP='uvlop' is not an event loop" in err
