"""An in-memory Genesys Cloud org, served over HTTP (SPEC §3, §6.3).

The same client code runs against it and against a real org; only the base URLs change.
One port serves the login host (``POST /oauth/token``), the API host (``/api/v2/...``), the
public status page (``/api/v2/components.json``, ``/api/v2/summary.json``, no token) and the
admin API (``/_sim/...``) that tests and the demo drive.

Beyond the design documents' surface (SPEC §2) it serves the real platform's calls (SPEC §6):
``GET /api/v2/date``; ``GET``/``PUT /api/v2/processautomation/triggers/{id}``;
``GET``/``PUT /api/v2/architect/emergencygroups/{id}``; ``POST /api/v2/audits/query/realtime``
(every audited change, see :mod:`watcher.sim._audit_query` for the service and entity
names); and ``inin-ratelimit-count``/``-allowed``/``-reset`` on every API answer. Admin:
``PUT /_sim/triggers/{id}``, ``PUT /_sim/emergencygroups/{id}`` (seed or change behind the
watcher's back, version bumped) and ``PUT /_sim/status/components/{idOrName}``
``{"status", "group"?, "description"?, "onlyShowIfDegraded"?}``.

The real levers of an organization (SPEC §6.2.1, see :mod:`watcher.sim._lever_api`):
``GET``/``PUT /api/v2/telephony/providers/edges/sites/{id}``, ``GET``/``PUT
/api/v2/architect/ivrs/{id}``, ``GET /api/v2/integrations/actions/{id}`` (``config`` only with
``includeConfig=true``) and ``PATCH`` it with ``{version, config}``, ``GET /api/v2/flows/{id}``;
admin ``PUT /_sim/sites/{id}``, ``/_sim/ivrs/{id}``, ``/_sim/dataactions/{id}``,
``/_sim/flows/{id}``. The default org has ``site-1``, ``ivr-main``, ``action-1`` and the flows
they name (:mod:`watcher.sim._lever_seed`).

The default status page (unless a seed lists ``statusComponents``) has one group per seeded
region, named as the public page names the region (``us-east-1`` -> ``Americas (US East)``,
``eu-west-1`` -> ``EMEA (Dublin)``, ``us-west-2`` -> ``Americas (US West)``, ... see
``STATUS_GROUP_NAMES``; another region's group is named after the region), each with the
children ``<group> - Platform API``, ``<group> - Voice`` and ``<group> - Digital Messaging``,
all ``operational``. For :func:`default_seed` that is ``Americas (US East)`` and
``EMEA (Dublin)`` with their three children each.

Example::

    async with running_simulator(SimulatorState(default_seed())) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            ...
"""

from watcher.sim._app import create_app
from watcher.sim._cli import add_simulate_parser, run_simulate
from watcher.sim._faults import FaultSpec
from watcher.sim._lever_seed import flow_seed
from watcher.sim._levers import LeverObjects
from watcher.sim._org import Org, Region
from watcher.sim._platform_objects import PlatformObjects
from watcher.sim._platform_schema import COMPONENT_STATUSES
from watcher.sim._seed import (
    STATUS_GROUP_NAMES,
    STATUS_SERVICES,
    SeedError,
    SeedRegion,
    SeedStatusComponent,
    SeedTarget,
    SimSeed,
    default_seed,
    default_status_components,
    load_seed,
    rule_seed,
    strategy_seed,
)
from watcher.sim._server import RunningSimulator, running_simulator, serve_forever
from watcher.sim._state import RequestRecord, SimulatorState
from watcher.sim._statuspage import StatusPage
from watcher.sim._versioned import ADMIN_USER, ApiError

__all__ = [
    "ADMIN_USER",
    "COMPONENT_STATUSES",
    "STATUS_GROUP_NAMES",
    "STATUS_SERVICES",
    "ApiError",
    "FaultSpec",
    "LeverObjects",
    "Org",
    "PlatformObjects",
    "Region",
    "RequestRecord",
    "RunningSimulator",
    "SeedError",
    "SeedRegion",
    "SeedStatusComponent",
    "SeedTarget",
    "SimSeed",
    "SimulatorState",
    "StatusPage",
    "add_simulate_parser",
    "create_app",
    "default_seed",
    "default_status_components",
    "flow_seed",
    "load_seed",
    "rule_seed",
    "run_simulate",
    "running_simulator",
    "serve_forever",
    "strategy_seed",
]
