"""An in-memory Genesys Cloud org, served over HTTP (SPEC §3).

The same client code runs against it and against a real org; only the base URLs change.
One port serves the login host (``POST /oauth/token``), the API host (``/api/v2/...``) and the
admin API (``/_sim/...``) that tests and the demo drive.

Example::

    async with running_simulator(SimulatorState(default_seed())) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            ...
"""

from watcher.sim._app import create_app
from watcher.sim._cli import add_simulate_parser, run_simulate
from watcher.sim._faults import FaultSpec
from watcher.sim._org import ADMIN_USER, ApiError, Org, Region
from watcher.sim._seed import (
    SeedError,
    SeedRegion,
    SeedTarget,
    SimSeed,
    default_seed,
    load_seed,
    rule_seed,
    strategy_seed,
)
from watcher.sim._server import RunningSimulator, running_simulator, serve_forever
from watcher.sim._state import RequestRecord, SimulatorState

__all__ = [
    "ADMIN_USER",
    "ApiError",
    "FaultSpec",
    "Org",
    "Region",
    "RequestRecord",
    "RunningSimulator",
    "SeedError",
    "SeedRegion",
    "SeedTarget",
    "SimSeed",
    "SimulatorState",
    "add_simulate_parser",
    "create_app",
    "default_seed",
    "load_seed",
    "rule_seed",
    "run_simulate",
    "running_simulator",
    "serve_forever",
    "strategy_seed",
]
