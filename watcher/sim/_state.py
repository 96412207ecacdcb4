"""All the simulator knows, in one object that tests may also drive directly."""

from __future__ import annotations

import hmac
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watcher.sim._access import RateWindow, TokenBook
from watcher.sim._audit import AuditLog
from watcher.sim._faults import Fault, FaultOutcome, FaultSpec, plan_faults
from watcher.sim._levers import LeverObjects
from watcher.sim._org import Org
from watcher.sim._platform_objects import PlatformObjects
from watcher.sim._seed import SimSeed
from watcher.sim._statuspage import StatusPage

REQUEST_LOG_SIZE = 10_000


@dataclass(frozen=True)
class RequestRecord:
    """One request seen on the API or token path.

    ``time`` is the simulator clock (``time.monotonic`` unless injected); ``status`` 0 means
    the connection was dropped by a ``reset`` fault.
    """

    method: str
    path: str
    status: int
    time: float

    def view(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status, "time": self.time}


class SimulatorState:
    """The in-memory org plus the machinery around it (tokens, budget, faults, request log),
    the platform's own objects (triggers, emergency groups) and the public status page.

    Everything runs on one event loop and no method awaits, so no locking is needed.

    Example::

        state = SimulatorState(default_seed(), per_minute=1000, seed_rng=7)
        state.org.set_region("us-east-1", status="DEGRADED")
    """

    def __init__(
        self,
        seed: SimSeed | None = None,
        *,
        client_id: str = "sim-client",
        client_secret: str = "sim-secret",  # noqa: S107 - documented simulator default
        token_lifetime_seconds: int = 86399,
        per_minute: int = 300,
        audit_page_size_default: int = 25,
        clock: Callable[[], float] = time.monotonic,
        seed_rng: int | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.clock = clock
        self.rng = random.Random(seed_rng)
        self.audit_page_size_default = audit_page_size_default
        self.audit = AuditLog()
        self.org = Org(self.audit, seed)
        self.platform = PlatformObjects(self.audit, seed)
        self.levers = LeverObjects(self.audit, seed)  # sites, IVRs, data actions, flows
        self.status_page = StatusPage(lambda: self.audit.now())  # follows a swapped audit clock
        for component in seed.status_components() if seed is not None else []:
            self.status_page.set(
                component.name,
                component.status,
                component.group,
                component_id=component.id,
                description=component.description,
                only_show_if_degraded=component.onlyShowIfDegraded,
            )
        self.tokens = TokenBook(token_lifetime_seconds, clock)
        self.budget = RateWindow(per_minute, clock)
        self.faults: list[Fault] = []
        self._next_fault_id = 1
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)

    def __repr__(self) -> str:
        # The secret stays out of reprs, tracebacks and logs.
        return (
            f"SimulatorState(client_id={self.client_id!r}, regions={len(self.org.regions)}, "
            f"strategies={len(self.org.strategies)}, rules={len(self.org.rules)})"
        )

    def credentials_match(self, client_id: str, client_secret: str) -> bool:
        """Constant-time comparison of presented client credentials."""
        id_ok = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self._client_secret.encode())
        return id_ok and secret_ok

    # -- faults ----------------------------------------------------------------------------

    def add_fault(self, spec: FaultSpec) -> Fault:
        fault = Fault.install(self._next_fault_id, spec)
        self._next_fault_id += 1
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> int:
        cleared = len(self.faults)
        self.faults.clear()
        return cleared

    def plan_faults(self, path: str, method: str | None = None) -> FaultOutcome | None:
        if not self.faults:
            return None
        return plan_faults(self.faults, path, self.rng, method)

    # -- request log -------------------------------------------------------------------------

    def log_request(self, method: str, path: str, status: int) -> None:
        self.requests.append(RequestRecord(method, path, status, self.clock()))

    def requests_since(self, since: float | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if since is None or r.time >= since]
