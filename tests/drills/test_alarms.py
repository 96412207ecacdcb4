"""Reading the alarms from `/api/v1/alerts`: whatever Prometheus answers, the caller gets a reading.

respx stands in for Prometheus where the case is about what comes over the wire (errors, malformed
bodies); `test_alarms_prometheus.py` reads a real one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from watcher.drills.alarms import read_alarms, redact
from watcher.drills.readings import AlarmsFiring, AlarmsUnreadable

pytestmark = pytest.mark.anyio

URL = "http://prom.test:9090"
ALERTS = f"{URL}/api/v1/alerts"
NAMES = ("CallsFailing", "IncidentOpen")


def alert(name: str, state: str = "firing", **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, **labels}, "annotations": {}, "state": state, "value": "1e+00"}


def answer(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"status": "success", "data": {"alerts": list(alerts)}}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as c:
        yield c


@respx.mock
async def test_firing_alerts_are_read_by_name_and_only_named_ones_count(client: httpx.AsyncClient) -> None:
    route = respx.get(ALERTS).respond(
        json=answer(
            alert("CallsFailing", severity="page"),
            alert("CallsFailing", instance="b"),
            alert("IncidentOpen", state="pending"),
            alert("Watchdog"),
        )
    )
    reading = await read_alarms(client, URL + "/", NAMES)
    assert reading == AlarmsFiring(frozenset({"CallsFailing"}))
    assert reading.fires(list(NAMES)) == ("CallsFailing",)
    assert route.calls.last.request.headers["accept"] == "application/json"


@respx.mock
async def test_no_alerts_is_a_reading_of_none_firing(client: httpx.AsyncClient) -> None:
    respx.get(ALERTS).respond(json=answer())
    assert await read_alarms(client, URL, NAMES) == AlarmsFiring(frozenset())


@respx.mock
async def test_a_non_200_answer_is_unreadable(client: httpx.AsyncClient) -> None:
    respx.get(ALERTS).respond(503, text="service unavailable")
    assert await read_alarms(client, URL, NAMES) == AlarmsUnreadable(f"{ALERTS}: HTTP 503")


@respx.mock
async def test_a_connection_error_or_timeout_is_unreadable(client: httpx.AsyncClient) -> None:
    respx.get(ALERTS).side_effect = httpx.ConnectError("[Errno 111] Connection refused")
    refused = await read_alarms(client, URL, NAMES)
    assert refused == AlarmsUnreadable(f"{ALERTS}: ConnectError: [Errno 111] Connection refused")
    respx.get(ALERTS).side_effect = httpx.ReadTimeout("timed out")
    timed_out = await read_alarms(client, URL, NAMES, timeout=0.5)
    assert isinstance(timed_out, AlarmsUnreadable)
    assert "ReadTimeout" in timed_out.reason


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>login</html>", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "body: Input should be a valid dictionary"),
        (b'{"status": "error", "errorType": "bad_data"}', "status 'error'"),
        (b'{"status": "success"}', "data: missing"),
        (b'{"status": "success", "data": {}}', "data.alerts: Field required"),
        (b'{"status": "success", "data": {"alerts": {}}}', "data.alerts: Input should be a valid list"),
        (b'{"status": "success", "data": {"alerts": [{"state": "firing"}]}}', "data.alerts.0.labels"),
        (
            b'{"status": "success", "data": {"alerts": [{"labels": {"alertname": 7}, "state": "firing"}]}}',
            "data.alerts.0.labels.alertname",
        ),
        (b'{"status": "success", "data": {"alerts": [{"labels": {"alertname": "A"}}]}}', "state: Field"),
    ],
)
@respx.mock
async def test_a_malformed_answer_is_logged_and_unreadable(
    client: httpx.AsyncClient, body: bytes, problem: str
) -> None:
    respx.get(ALERTS).respond(200, content=body, headers={"content-type": "application/json"})
    with capture_logs() as logs:
        reading = await read_alarms(client, URL, NAMES)
    assert isinstance(reading, AlarmsUnreadable)
    assert reading.reason.startswith(f"{ALERTS}: malformed answer (")
    assert problem in reading.reason
    logged = [(e["event"], e["log_level"], e["url"]) for e in logs]
    assert logged == [("drills.alarms_malformed", "warning", ALERTS)]


@respx.mock
async def test_a_password_in_the_url_is_never_shown(client: httpx.AsyncClient) -> None:
    secret_url = "http://ops:hunter2@prom.test:9090"
    respx.get(ALERTS).respond(200, text="nope")
    with capture_logs() as logs:
        malformed = await read_alarms(client, secret_url, NAMES)
    respx.get(ALERTS).side_effect = httpx.ConnectError(f"cannot reach {secret_url}/api/v1/alerts")
    failed = await read_alarms(client, secret_url, NAMES)
    respx.get(ALERTS).respond(401)
    refused = await read_alarms(client, secret_url, NAMES)
    shown = f"{malformed} {failed} {refused} {logs}"
    assert "hunter2" not in shown
    assert "ops" not in shown
    assert isinstance(failed, AlarmsUnreadable)
    assert failed.reason == f"{ALERTS}: ConnectError"


async def test_an_invalid_url_is_unreadable_not_an_exception(client: httpx.AsyncClient) -> None:
    reading = await read_alarms(client, "http://[::1", NAMES)
    assert isinstance(reading, AlarmsUnreadable)
    unsupported = await read_alarms(client, "ftp://prom.test", NAMES)
    assert isinstance(unsupported, AlarmsUnreadable)


def test_redact_keeps_everything_but_the_userinfo() -> None:
    assert redact("https://u:p@h:1/a?b=c") == "https://h:1/a?b=c"
    assert redact("http://h:9090") == "http://h:9090"
