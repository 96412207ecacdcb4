"""What every versioned object of the simulated org shares: the API's errors, a lookup that answers
404, and a replace that checks the version (409 on a stale one, 400 on a problem) and audits every
attempt, refused or stored. Stored bodies are replaced, never mutated."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from watcher.sim._audit import AuditLog
from watcher.sim._schema import is_int

ADMIN_USER = "sim-admin"


def error_code(status: int) -> str:
    """Genesys-style error code from a status: 400 -> ``bad.request``, 409 -> ``conflict``."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", ".")
    except ValueError:
        return "error"


class ApiError(Exception):
    """An API answer other than success: status, ``message`` and ``code``.

    The message is shown to clients, so it never carries a secret.
    """

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or error_code(status)

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, "status": self.status}

    @classmethod
    def not_found(cls, kind: str, entity_id: str) -> ApiError:
        return cls(404, f"{kind} {entity_id!r} not found", "not.found")

    @classmethod
    def conflict(cls, sent: int, current: int) -> ApiError:
        return cls(409, f"Version {sent} does not match the current version {current}", "conflict")


def seed_version(body: dict[str, Any]) -> int:
    """The version a seeded object starts at: its own when it names a valid one, else 1."""
    version = body.get("version")
    return version if is_int(version) and version >= 1 else 1


class Versioned:
    """The objects of one kind, by id; `check` then `store` is one optimistic-locking write."""

    def __init__(self, audit: AuditLog, entity_type: str, kind: str) -> None:
        self.audit = audit
        self.entity_type = entity_type  # as the audit log names it
        self.kind = kind  # as a 404 names it
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, entity_id: str) -> dict[str, Any]:
        body = self.items.get(entity_id)
        if body is None:
            raise ApiError.not_found(self.kind, entity_id)
        return body

    def refuse(self, current: dict[str, Any], user: str, error: ApiError) -> ApiError:
        """Audit a refused write of `current`; the error, to raise."""
        self.audit.record(
            entity_id=current["id"],
            entity_type=self.entity_type,
            action="update",
            user=user,
            status="FAILURE",
            before=current,
            after=None,
            version=current["version"],
            message=error.message,
        )
        return error

    def check(self, current: dict[str, Any], sent: object, user: str, problem: str | None) -> None:
        """Raise (and audit) a 400 for `problem`, else a 409 when a version was sent and is stale."""
        if problem:
            raise self.refuse(current, user, ApiError(400, problem, "bad.request"))
        if sent is not None and sent != current["version"]:
            assert isinstance(sent, int)  # the schema check refuses any other version
            raise self.refuse(current, user, ApiError.conflict(sent, current["version"]))

    def store(self, before: dict[str, Any] | None, new: dict[str, Any], user: str) -> dict[str, Any]:
        """Keep `new` (it carries its id and version) and audit it as created or updated."""
        self.items[new["id"]] = new
        self.audit.record(
            entity_id=new["id"],
            entity_type=self.entity_type,
            action="create" if before is None else "update",
            user=user,
            status="SUCCESS",
            before=before,
            after=new,
            version=new["version"],
        )
        return new
