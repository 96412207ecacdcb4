"""Reading the alarms: `GET {prometheus_url}/api/v1/alerts`, firing = `state: "firing"`, by `alertname`.

The only module of `watcher.drills` that does I/O. It never raises to its caller: a connection
error, a non-200 answer or a malformed body is `AlarmsUnreadable` with the reason, because a drill
must not start, and a running one must abort, when the alarms cannot be read (SPEC §8). A malformed
answer is logged (once per read; the reason says what was wrong) as well, since it points at a
misconfigured URL (a proxy's login page, another server) rather than at an outage.

The client is passed in (the daemon's public-host client: its timeouts, proxies and TLS settings);
the URL is never logged or returned with its userinfo, which may hold a password.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from watcher.drills.readings import AlarmReading, AlarmsFiring, AlarmsUnreadable

log = structlog.get_logger("watcher.drills")

ALERTS_PATH = "/api/v1/alerts"


class _Labels(BaseModel):
    model_config = ConfigDict(extra="allow")
    alertname: str


class _Alert(BaseModel):
    model_config = ConfigDict(extra="allow")
    labels: _Labels
    state: str


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")
    alerts: list[_Alert]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str
    data: _Data | None = None


async def read_alarms(
    client: httpx.AsyncClient,
    prometheus_url: str,
    names: Collection[str],
    *,
    timeout: float | None = None,
) -> AlarmReading:
    """Which of `names` fire now, or why Prometheus could not tell.

    `timeout` (seconds) overrides the client's for this request.

    >>> import anyio
    >>> def handler(request):
    ...     return httpx.Response(200, json={"status": "success", "data": {"alerts": [
    ...         {"labels": {"alertname": "CallsFailing"}, "state": "firing"}]}})
    >>> async def main():
    ...     async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
    ...         return await read_alarms(client, "http://prom:9090", ["CallsFailing", "IncidentOpen"])
    >>> anyio.run(main)
    AlarmsFiring(firing=frozenset({'CallsFailing'}))
    """
    url = prometheus_url.rstrip("/") + ALERTS_PATH
    shown = redact(url)
    try:
        if timeout is None:
            response = await client.get(url, headers={"Accept": "application/json"})
        else:
            response = await client.get(url, headers={"Accept": "application/json"}, timeout=timeout)
    except httpx.HTTPError as error:
        return AlarmsUnreadable(f"{shown}: {type(error).__name__}{_detail(error, url)}")
    except httpx.InvalidURL:
        return AlarmsUnreadable(f"{shown}: not a valid URL")
    if response.status_code != 200:
        return AlarmsUnreadable(f"{shown}: HTTP {response.status_code}")
    firing = _firing(response.content)
    if isinstance(firing, str):
        log.warning("drills.alarms_malformed", url=shown, problem=firing)
        return AlarmsUnreadable(f"{shown}: malformed answer ({firing})")
    return AlarmsFiring(frozenset(firing) & frozenset(names))


def _firing(body: bytes) -> set[str] | str:
    """The names of the firing alerts, or what is wrong with the body."""
    try:
        answer = _Answer.model_validate(json.loads(body))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "not JSON"
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return f"{where}: {first['msg']}"
    if answer.status != "success":
        return f"status {answer.status!r}"
    if answer.data is None:
        return "data: missing"
    return {alert.labels.alertname for alert in answer.data.alerts if alert.state == "firing"}


def _detail(error: Exception, url: str) -> str:
    """The error's own words, unless they could carry the URL's password."""
    text = str(error)
    password = urlsplit(url).password
    if not text or (password and password in text):
        return ""
    return f": {text.replace(url, redact(url))}"


def redact(url: str) -> str:
    """`url` without its userinfo (`http://user:secret@host` -> `http://host`).

    >>> redact("http://ops:hunter2@prom:9090/api/v1/alerts")
    'http://prom:9090/api/v1/alerts'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
