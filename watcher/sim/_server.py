"""Serving the simulator: embedded in a running event loop, or blocking for the CLI."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass

import uvicorn

from watcher.serving import base_url_of, bind_socket, server_config, serving
from watcher.sim._app import create_app
from watcher.sim._state import SimulatorState

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator listening on loopback; point both base URLs at ``base_url``."""

    base_url: str
    port: int
    state: SimulatorState


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
    sock = bind_socket(host, port)
    base_url, bound_port = base_url_of(sock)
    async with serving(create_app(state), sock, name="watcher-simulator"):
        yield RunningSimulator(base_url=base_url, port=bound_port, state=state)


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
    sock = bind_socket(host, port)
    if on_listening is not None:
        on_listening(base_url_of(sock)[0])
    try:
        _ForegroundServer(server_config(create_app(state))).run(sockets=[sock])
    finally:
        sock.close()
