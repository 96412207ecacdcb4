"""The daemon under test in this event loop: `in_process(config)` runs
`Watcher(load_config(F)).serve()` in the test's event loop (cheap, for the scenarios where no process
is needed). If `serve()` ends before the test asked it to stop, that is recorded as an unexpected
exit, not raised into the test's task group. The daemon as a child process (signals, exit codes) is
`tests.harness.daemon_process`; both are seen through the same `DaemonView`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from tests.harness import DaemonProcess, DaemonView, single_errors
from tests.support import until
from watcher.config import load_config
from watcher.systemd_notify import SystemdNotifier

# ---------------------------------------------------------------------------------------- in-process


@dataclass
class InProcessDaemon:
    view: DaemonView
    config: Path
    ended: anyio.Event
    crash: BaseException | None = None
    stop_requested: bool = False
    _stop: Callable[[], None] = lambda: None

    @property
    def exited_unexpectedly(self) -> bool:
        return self.ended.is_set() and not self.stop_requested

    async def stop(self, timeout: float = 15.0) -> None:
        self.stop_requested = True
        self._stop()
        with anyio.fail_after(timeout):
            await self.ended.wait()


@contextlib.asynccontextmanager
async def in_process(config: Path) -> AsyncIterator[InProcessDaemon]:
    """The daemon of `config`, served in this event loop until the block ends."""
    from watcher.daemon.service import Watcher

    cfg = load_config(config)
    # Not under systemd, whatever the environment of the test run says.
    watcher = Watcher(cfg, config_path=str(config), notifier=SystemdNotifier(address=None))
    host, port = cfg.server.host_port
    token = cfg.admin_token()
    view = DaemonView(f"http://{host}:{port}", None if token is None else token.get_secret_value())
    daemon = InProcessDaemon(view, config, anyio.Event(), _stop=watcher.request_stop)

    async def serve() -> None:
        try:
            await watcher.serve()
        except Exception as exc:  # recorded: the test asserts the daemon did not die
            daemon.crash = exc
        finally:
            daemon.ended.set()

    with single_errors():
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            try:
                await until(lambda: daemon.ended.is_set() or view.answers(), "the daemon's HTTP server", 10)
                yield daemon
            finally:
                if not daemon.ended.is_set():
                    await daemon.stop()
                await view.aclose()


def alive(d: DaemonProcess | InProcessDaemon) -> None:
    """Fail at once, with the evidence, if the daemon under test has died."""
    if isinstance(d, DaemonProcess):
        if not d.running:
            tail = "\n".join(d.raw[-25:])
            raise AssertionError(f"{d.name} exited with code {d.process.returncode}; last output:\n{tail}")
    elif d.ended.is_set() and not d.stop_requested:
        raise AssertionError(f"the daemon's serve() ended by itself: {d.crash!r}")
