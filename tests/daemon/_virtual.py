"""A virtual strategy carried by a process automation trigger and an emergency group (SPEC §6.2), as
the daemon tests configure it (`virtual_overrides`), and a transport that edits the trigger behind
the watcher's back just before its first trigger PUT (`BehindTheBack`)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.daemon.conftest import PRIMARY, SECONDARY

VIRTUAL = "contact-center"
TRIGGER, GROUP = "trigger-1", "emergency-group-1"
WORKFLOWS = {PRIMARY: "workflow-use1", SECONDARY: "workflow-euw1"}


def virtual_overrides(enabled_when: str = "failed-over", **more: Any) -> dict[str, Any]:
    return {
        "strategies": [{"id": VIRTUAL, "kind": "virtual", "regions": [PRIMARY, SECONDARY]}],
        "rules": [],
        "triggers": [{"id": TRIGGER, "strategy": VIRTUAL, "targets": WORKFLOWS}],
        "emergency_groups": [{"id": GROUP, "strategy": VIRTUAL, "enabled_when": enabled_when}],
        **more,
    }


class BehindTheBack(httpx.AsyncBaseTransport):
    """Before the watcher's first trigger PUT lands, someone edits the trigger (PUT /_sim/triggers):
    its version moves on, so the watcher's PUT meets a conflict."""

    def __init__(self, inner: httpx.AsyncBaseTransport, base_url: str) -> None:
        self.inner = inner
        self.base_url = base_url
        self.edited = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/processautomation/triggers/" in request.url.path and not self.edited:
            self.edited = True
            current = json.loads(
                (await self._send("GET", f"/api/v2/processautomation/triggers/{TRIGGER}", request)).read()
            )
            edited = {k: v for k, v in current.items() if k not in ("version", "selfUri")}
            edited["description"] = "edited by an operator"
            answer = await self._send("PUT", f"/_sim/triggers/{TRIGGER}", request, edited)
            assert answer.status_code == 200, answer.read()
        return await self.inner.handle_async_request(request)

    async def _send(self, method: str, path: str, like: httpx.Request, body: Any = None) -> httpx.Response:
        headers = {"Authorization": like.headers["Authorization"]}
        request = httpx.Request(method, self.base_url + path, json=body, headers=headers)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
