"""The operator's drill commands (SPEC §8): `drill start`, `drill abort`, `drill status`.

Each answer is (HTTP status, one line of what was done, the drill and every drill's report); a
start or an abort the drill machine does not carry out is a 409 with its reason, audited as a
refusal like every refused operator command.
"""

from __future__ import annotations

from typing import Any

import structlog

from watcher.daemon.drilling import DrillController, DrillRefused
from watcher.daemon.parts import Shell

log = structlog.get_logger("watcher.admin")


class DrillCommands:
    """What `/admin/drills` does, on the daemon's drill controller (None: drills are not wired)."""

    def __init__(self, shell: Shell, drilling: DrillController | None) -> None:
        self._shell = shell
        self._drilling = drilling

    def status(self) -> dict[str, Any]:
        return {} if self._drilling is None else self._drilling.status()

    async def start(self, strategy: str, to: str | None, seconds: float) -> tuple[int, dict[str, Any]]:
        """Start a drill: 200 with the running drill, or 409 with the machine's reason."""
        data: dict[str, Any] = {"to": to, "seconds": seconds}
        if self._drilling is None:
            return await self._answer(409, "drill start", strategy, "drills are not wired", data)
        try:
            drill = await self._drilling.start(strategy, to, seconds)
        except DrillRefused as refusal:
            return await self._answer(409, "drill start", strategy, f"drill refused: {refusal}", data)
        said = f"drill {drill['id']} started: {strategy} {drill['from']} -> {drill['to']} for {seconds:g}s"
        return await self._answer(200, "drill start", strategy, said, {**data, "drill": drill})

    async def abort(self, reason: str) -> tuple[int, dict[str, Any]]:
        if self._drilling is None:
            return await self._answer(409, "drill abort", None, "drills are not wired", {})
        try:
            drill = await self._drilling.abort(reason)
        except DrillRefused as refusal:
            return await self._answer(409, "drill abort", None, f"not aborted: {refusal}", {})
        said = f"drill {drill['id']} of {drill['strategy']} aborted; moving it back to {drill['from']}"
        return await self._answer(200, "drill abort", drill["strategy"], said, {"drill": drill})

    async def _answer(
        self, code: int, command: str, strategy: str | None, message: str, data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        announce = self._shell.announce
        if code == 200:
            log.info("operator " + command, strategy=strategy, why=message)
            await announce.operator(command, strategy, {**data, "message": message})
        else:
            log.warning("operator " + command + " refused", strategy=strategy, why=message)
            await announce.refusal(command, strategy, data, code, message)
        return code, {
            "done": code == 200,
            "message": message,
            "drill": data.get("drill"),
            "drills": self.status(),
        }
