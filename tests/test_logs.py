"""Log redaction: secret-named keys and bearer/basic credentials never reach the rendered output."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import structlog

from watcher.logs import REDACTED, Repeated, configure_logging, mask_credentials, redact

TOKEN = "tok3n-MARKER-logs-77"
SECRET = "s3cr3t-MARKER-logs-88"


def run(event: dict[str, Any]) -> dict[str, Any]:
    return dict(redact(None, "info", dict(event)))


@pytest.mark.parametrize(
    "key",
    [
        "client_secret",
        "secret",
        "token",
        "access_token",
        "Authorization",
        "password",
        "api_key",
        "credentials",
    ],
)
def test_secret_named_keys_are_masked(key: str) -> None:
    assert run({key: SECRET})[key] == REDACTED


def test_harmless_and_empty_values_are_kept() -> None:
    out = run(
        {"token_refreshes": 3, "has_token": True, "token_url": "https://login/oauth/token", "secret": None}
    )
    assert out == {
        "token_refreshes": 3,
        "has_token": True,
        "token_url": "https://login/oauth/token",
        "secret": None,
    }


def test_bearer_and_basic_credentials_in_strings_are_masked() -> None:
    out = run({"event": f"sent Authorization: Bearer {TOKEN} to api", "note": "Basic c2VjcmV0OnZhbHVl=="})
    assert out["event"] == f"sent Authorization: Bearer {REDACTED} to api"
    assert out["note"] == f"Basic {REDACTED}"
    assert mask_credentials(f"bearer {TOKEN}") == f"bearer {REDACTED}"


def test_nested_values_are_masked() -> None:
    out = run({"request": {"headers": {"Authorization": f"Bearer {TOKEN}"}, "body": [f"Bearer {TOKEN}"]}})
    assert TOKEN not in json.dumps(out)
    assert out["request"]["headers"]["Authorization"] == REDACTED


def test_exception_values_are_masked() -> None:
    out = run({"error": ValueError(f"header was Bearer {TOKEN}")})
    assert out["error"] == f"ValueError: header was Bearer {REDACTED}"


def _log_everything() -> None:
    log = structlog.get_logger("watcher.test")
    log.info("token obtained", client_secret=SECRET, token=TOKEN, url="https://api", token_refreshes=1)
    log.warning(f"Authorization: Bearer {TOKEN}")
    try:
        bearer = f"Bearer {TOKEN}"  # a local variable holding the credential, as in the client
        raise RuntimeError(f"upstream rejected {bearer}")
    except RuntimeError:
        log.exception("request failed")


@pytest.mark.parametrize("as_json", [True, False])
def test_rendered_output_never_holds_a_credential(as_json: bool) -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", json=as_json, stream=stream)
    _log_everything()
    text = stream.getvalue()
    assert "token obtained" in text
    assert "RuntimeError" in text  # the traceback is rendered ...
    assert "upstream rejected Bearer [redacted]" in text  # ... and masked
    assert TOKEN not in text
    assert SECRET not in text
    if as_json:
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines[0]["client_secret"] == REDACTED
        assert lines[0]["token_refreshes"] == 1
        assert "exception" in lines[2]


def test_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    configure_logging(level="WARNING", json=True, stream=stream)
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["loud"]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_repeated_condition_is_logged_at_its_start_its_end_and_once_a_minute_between() -> None:
    clock = _Clock()
    no_evidence = Repeated(structlog.get_logger("t"), "health poll gave no evidence", clock=clock)
    with structlog.testing.capture_logs() as logs:
        for _ in range(121):  # a poll every second, from 0 s to 120 s
            no_evidence.seen("us-east-1", region="us-east-1")
            clock.now += 1.0
        no_evidence.ended("us-east-1", region="us-east-1")
        no_evidence.ended("us-east-1", region="us-east-1")  # not in force: nothing to say
    said = [(e["event"], e["log_level"], e.get("repeated"), e.get("times")) for e in logs]
    assert said == [
        ("health poll gave no evidence", "warning", None, None),
        ("health poll gave no evidence (still)", "warning", 60, None),
        ("health poll gave no evidence (still)", "warning", 60, None),
        ("health poll gave no evidence (over)", "info", None, 121),
    ]


def test_a_repeated_condition_keeps_one_story_per_key() -> None:
    clock = _Clock()
    stale = Repeated(structlog.get_logger("t"), "stale", clock=clock)
    with structlog.testing.capture_logs() as logs:
        stale.seen("a")
        stale.seen("b")
        stale.seen("a")
        stale.ended("a")
    assert [e["event"] for e in logs] == ["stale", "stale", "stale (over)"]
    assert stale.active("b")
    assert not stale.active("a")
