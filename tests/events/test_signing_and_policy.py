from __future__ import annotations

import base64
import random
import time
import traceback
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook

from watcher.events.delivery_policy import (
    RetryPolicy,
    classify_status,
    classify_transport_error,
    parse_retry_after,
)
from watcher.events.signing import Signer, SigningError, Verifier, generate_secret


def test_signature_verifies_with_the_reference_library() -> None:
    secret = generate_secret()
    now = time.time()
    headers = Signer("mesh", [secret]).headers("evt-1", now, '{"a":1}')
    assert headers["webhook-id"] == "evt-1"
    assert headers["webhook-timestamp"] == str(int(now))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret.get_secret_value()).verify('{"a":1}', headers) == {"a": 1}


def test_rotation_signs_with_every_secret_and_either_verifies() -> None:
    old, new, stranger = generate_secret(), generate_secret(), generate_secret()
    headers = Signer("mesh", [old, new]).headers("evt-1", time.time(), "{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Verifier([old]).verify(b"{}", headers)
    assert Verifier([new]).verify(b"{}", headers)
    assert Verifier([stranger, new]).verify(b"{}", headers)
    assert not Verifier([stranger]).verify(b"{}", headers)


def test_tampering_and_replay_are_rejected() -> None:
    secret = generate_secret()
    verifier = Verifier([secret])
    now = time.time()
    headers = Signer("mesh", [secret]).headers("evt-1", now, "{}")
    assert verifier.verify(b"{}", headers)
    assert not verifier.verify(b'{"x":1}', headers)
    assert not verifier.verify(b"{}", {**headers, "webhook-id": "evt-2"})
    assert not verifier.verify(b"{}", {**headers, "webhook-signature": "v1,AAAA"})
    assert not verifier.verify(b"{}", {**headers, "webhook-signature": "garbage"})
    assert not verifier.verify(b"\xff", headers)
    stale = Signer("mesh", [secret]).headers("evt-1", now - 3600, "{}")
    assert not verifier.verify(b"{}", stale)


@pytest.mark.parametrize(
    "raw",
    [
        "hunter2-hunter2-hunter2",
        "whsec_hunter2!!hunter2",
        "whsec_",
        "whsec_" + base64.b64encode(b"hunter2hunter2").decode() + "@@",
    ],
)
def test_a_bad_secret_names_the_sink_never_the_secret(raw: str) -> None:
    with pytest.raises(SigningError) as info:
        Signer("dns-sync", [generate_secret(), SecretStr(raw)])
    text = str(info.value)
    assert "dns-sync" in text
    assert "#2" in text
    assert "hunter2" not in text
    assert raw not in text
    # Not in the chained exceptions either, as a traceback in a log would print them.
    rendered = "".join(traceback.format_exception(info.value))
    assert "hunter2" not in rendered
    assert raw not in rendered


def test_reprs_hide_secrets() -> None:
    secret = generate_secret()
    value = secret.get_secret_value()
    for obj in (Signer("mesh", [secret]), Verifier([secret]), secret):
        assert value not in repr(obj)
        assert value[6:] not in repr(obj)


def test_no_secret_means_no_signer() -> None:
    with pytest.raises(SigningError, match="mesh"):
        Signer("mesh", [])


@pytest.mark.parametrize(
    ("status", "action", "result", "loud"),
    [
        (200, "ack", "success", False),
        (204, "ack", "success", False),
        (410, "disable", "disabled", True),
        (500, "retry", "retry", False),
        (503, "retry", "retry", False),
        (408, "retry", "retry", False),
        (409, "retry", "retry", False),
        (425, "retry", "retry", False),
        (429, "retry", "retry", False),
        (400, "retry", "failure", True),
        (401, "retry", "failure", True),
        (404, "retry", "failure", True),
        (301, "retry", "failure", True),
    ],
)
def test_status_classification(status: int, action: str, result: str, loud: bool) -> None:
    outcome = classify_status(status, None, 1000.0)
    assert (outcome.action, outcome.result, outcome.loud) == (action, result, loud)


def test_retry_after_is_honoured_only_on_429_and_503() -> None:
    assert classify_status(503, "30", 1000.0).retry_at == 1030.0
    assert classify_status(429, "2.5", 1000.0).retry_at == 1002.5
    assert classify_status(500, "30", 1000.0).retry_at is None


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("nan", now) is None
    assert parse_retry_after("-5", now) == now
    assert parse_retry_after("999999999", now) == now + 86400.0
    http_date = formatdate(now + 120, usegmt=True)
    assert parse_retry_after(http_date, now) == pytest.approx(now + 120)


def test_transport_error_is_retried() -> None:
    outcome = classify_transport_error(ConnectionResetError("peer reset"))
    assert outcome.action == "retry"
    assert outcome.error == "ConnectionResetError: peer reset"


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_full_jitter_and_capped(attempts: int, seed: int) -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=60.0)
    delay = policy.delay(attempts, random.Random(seed))
    assert 0.0 <= delay <= min(60.0, 0.5 * 2.0 ** min(max(attempts - 1, 0), 62))


def test_backoff_grows_until_the_cap() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=60.0)
    rng = random.Random(7)
    means = [sum(policy.delay(n, rng) for _ in range(400)) / 400 for n in (1, 4, 20)]
    assert means[0] == pytest.approx(0.25, rel=0.2)
    assert means[1] == pytest.approx(2.0, rel=0.2)
    assert means[2] == pytest.approx(30.0, rel=0.2)
