"""Serving the simulator: embedded in a running event loop, or blocking for the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass

import anyio
import uvicorn

from watcher.sim._app import create_app
from watcher.sim._state import SimulatorState

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 5.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator listening on loopback; point both base URLs at ``base_url``."""

    base_url: str
    port: int
    state: SimulatorState


class _EmbeddedServer(uvicorn.Server):
    """uvicorn as a guest in someone else's event loop.

    The host process (the daemon, the demo, pytest) owns the signals, so this server installs
    no handlers; it reports readiness through an event instead of a log line.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; waiting on an event makes stop() immediate,
        # which keeps tests that start a simulator each fast.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)


class _ForegroundServer(uvicorn.Server):
    """uvicorn owning the process: SIGINT/SIGTERM stop it gracefully, then ``simulate``
    returns 0 (uvicorn would re-raise the signal after shutdown, killing the process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind_loopback(host: str, port: int) -> socket.socket:
    """Bind (and listen on) ``host:port`` ourselves, so port 0 yields a known free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when it
    # is, and without it keep-alive requests stall ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    return (f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"), port


@contextlib.asynccontextmanager
async def running_simulator(
    state: SimulatorState | None = None, *, port: int = 0, host: str = "127.0.0.1"
) -> AsyncIterator[RunningSimulator]:
    """Serve ``state`` in the current (asyncio) event loop for the life of the block.

    Example::

        async with running_simulator(SimulatorState(default_seed())) as sim:
            httpx.AsyncClient(base_url=sim.base_url)
    """
    state = state if state is not None else SimulatorState()
    sock = bind_loopback(host, port)
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,  # leave the host process's logging configuration alone
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_SECONDS),
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="watcher-simulator")
    try:
        ready = asyncio.create_task(server.ready.wait())
        try:
            with anyio.fail_after(STARTUP_TIMEOUT_SECONDS):
                await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if task.done():
            task.result()  # re-raise why uvicorn did not start
            raise RuntimeError("simulator stopped during startup")
        base_url, bound_port = base_url_of(sock)
        yield RunningSimulator(base_url=base_url, port=bound_port, state=state)
    finally:
        server.stop()
        # Shielded: the block may be exiting because it was cancelled, and an orphaned
        # server would keep the port and the loop busy.
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(SHUTDOWN_TIMEOUT_SECONDS):
                await asyncio.wait({task})
            if not task.done():
                server.force_exit = True
                task.cancel()
                await asyncio.wait({task})
            elif not task.cancelled():
                task.exception()  # retrieved, so asyncio does not warn at exit
        sock.close()


def serve_forever(
    state: SimulatorState,
    *,
    host: str,
    port: int,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then return (graceful shutdown); for ``simulate``.

    ``on_listening`` gets the base URL once the socket is bound (port 0 resolved).
    """
    sock = bind_loopback(host, port)
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_SECONDS),
    )
    if on_listening is not None:
        on_listening(base_url_of(sock)[0])
    try:
        _ForegroundServer(config).run(sockets=[sock])
    finally:
        sock.close()
