from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.support import until_sync
from watcher.events.audit_trail import AuditRecord, AuditTrail, read_trail, redact, summarize

_REPO = Path(__file__).resolve().parents[2]


def _record(seq: int, **overrides: object) -> AuditRecord:
    fields: dict[str, object] = {
        "strategy": "strategy-1",
        "kind": "strategy",
        "result": "success",
        "time": datetime(2025, 1, 1, 0, 0, seq % 60, tzinfo=UTC),
        "version_before": seq,
        "version_after": seq + 1,
        "latency_seconds": 0.1,
        "explanation": {"seq": seq},
    }
    fields.update(overrides)
    return AuditRecord(**fields)  # type: ignore[arg-type]


def test_write_and_read_back(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path)
    trail.write(_record(1, rule="rule-1", kind="rule", error=None))
    trail.write(_record(2, result="failure", error="HTTP 409 version conflict"))
    trail.close()
    reading = read_trail(tmp_path)
    records = list(reading)
    assert reading.skipped == 0
    assert records[0] == {
        "time": "2025-01-01T00:00:01Z",
        "strategy": "strategy-1",
        "rule": "rule-1",
        "kind": "rule",
        "version_before": 1,
        "version_after": 2,
        "latency_seconds": 0.1,
        "result": "success",
        "error": None,
        "explanation": {"seq": 1},
    }
    assert records[1]["error"] == "HTTP 409 version conflict"
    assert (tmp_path / "audit.jsonl").read_bytes().count(b"\n") == 2


def test_rotation_by_size_keeps_backups_and_reads_in_time_order(tmp_path: Path) -> None:
    line_size = len(json.dumps(_record(10).to_json(), separators=(",", ":"))) + 1
    trail = AuditTrail(tmp_path, max_bytes=line_size * 3, backups=2)
    for seq in range(10, 30):
        trail.write(_record(seq))
    trail.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for name in names:
        assert (tmp_path / name).stat().st_size <= line_size * 3
    seqs = [r["explanation"]["seq"] for r in read_trail(tmp_path)]
    assert seqs == list(range(30 - len(seqs), 30))
    assert len(seqs) >= 7  # three files of up to three lines, the current one partly filled


def test_zero_backups_truncates(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path, max_bytes=300, backups=0)
    for seq in range(10):
        trail.write(_record(seq))
    trail.close()
    assert [p.name for p in tmp_path.iterdir()] == ["audit.jsonl"]
    assert [r["explanation"]["seq"] for r in read_trail(tmp_path)][-1] == 9


def test_a_torn_last_line_is_skipped_and_the_next_write_is_intact(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path)
    for seq in range(3):
        trail.write(_record(seq))
    trail.close()
    whole = json.dumps(_record(3).to_json()).encode()
    with (tmp_path / "audit.jsonl").open("ab") as f:
        f.write(whole[: len(whole) // 2])
    with capture_logs() as logs:
        reading = read_trail(tmp_path)
        assert [r["explanation"]["seq"] for r in reading] == [0, 1, 2]
    assert reading.skipped == 1
    assert logs[0]["skipped"] == 1

    # A restarted writer terminates the torn line, so its own record is not glued to it.
    again = AuditTrail(tmp_path)
    again.write(_record(4))
    again.close()
    reading = read_trail(tmp_path)
    assert [r["explanation"]["seq"] for r in reading] == [0, 1, 2, 4]
    assert reading.skipped == 1


def test_valid_json_without_its_newline_is_not_data(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path)
    trail.write(_record(0))
    trail.close()
    with (tmp_path / "audit.jsonl").open("ab") as f:
        f.write(b'{"strategy": "ghost"}\n[1, 2]\n\n{"strategy": "tail"}')
    reading = read_trail(tmp_path)
    assert [r["strategy"] for r in reading] == ["strategy-1", "ghost"]
    assert reading.skipped == 3


_WRITER = """
import sys
from pathlib import Path
from watcher.events.audit_trail import AuditRecord, AuditTrail
trail = AuditTrail(Path(sys.argv[1]), max_bytes=40_000, backups=50)
seq = 0
while True:
    trail.write(AuditRecord(strategy="s", kind="strategy", result="success",
                            explanation={"seq": seq, "pad": "x" * 2000}))
    seq += 1
"""


def test_sigkill_of_a_writer_never_yields_a_partial_record(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(_REPO)},
    )
    try:
        # Wait until the writer has rotated three times (about 57 records), then kill it
        # while it is writing.
        def rotated_three_times() -> bool:
            assert child.poll() is None, "writer died"
            return (tmp_path / "audit.jsonl.3").exists()

        until_sync(rotated_three_times, "writer too slow", 20, interval=0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    records = list(read_trail(tmp_path))
    seqs = [r["explanation"]["seq"] for r in records]
    assert seqs == list(range(len(seqs)))
    assert all(r["explanation"]["pad"] == "x" * 2000 for r in records)
    assert child.returncode == -signal.SIGKILL
    assert len(records) >= 50


def test_secrets_are_redacted_recursively(tmp_path: Path) -> None:
    explanation = {
        "request": {
            "headers": {"Authorization": "Bearer tok-123", "Accept": "json"},
            "client_secret": "cs-456",
        },
        "attempts": [{"access_token": "at-789", "code": 409}],
        "webhook_secrets": ["whsec_abc"],
        "Password": "pw-000",
        "note": "kept",
    }
    trail = AuditTrail(tmp_path)
    trail.write(_record(0, explanation=explanation))
    trail.close()
    text = (tmp_path / "audit.jsonl").read_text()
    for secret in ("tok-123", "cs-456", "at-789", "whsec_abc", "pw-000"):
        assert secret not in text
    (record,) = read_trail(tmp_path)
    assert record["explanation"]["note"] == "kept"
    assert record["explanation"]["attempts"][0]["code"] == 409
    assert record["explanation"]["request"]["headers"]["Accept"] == "json"
    assert redact({"a": ({"token": 1},)}) == {"a": [{"token": "[REDACTED]"}]}


def test_summary_per_strategy() -> None:
    records = [
        {"strategy": "a", "kind": "strategy", "result": "success", "latency_seconds": 0.1 * n}
        for n in range(1, 101)
    ]
    records += [
        {"strategy": "a", "kind": "rule", "result": "failure", "latency_seconds": None},
        {"strategy": "a", "kind": "decision", "result": "dry_run", "latency_seconds": 99.0},
        {"strategy": "a", "kind": "strategy", "result": "dry_run"},
        {"strategy": "b", "kind": "strategy", "result": "failure", "latency_seconds": 2.0},
    ]
    summary = summarize(records)
    a, b = summary["a"], summary["b"]
    assert (a.switches, a.successes, a.failures) == (101, 100, 1)
    assert a.success_rate == pytest.approx(100 / 101)
    assert a.latency_p50 == pytest.approx(5.0)
    assert a.latency_p95 == pytest.approx(9.5)
    assert a.latency_p99 == pytest.approx(9.9)
    assert (b.switches, b.success_rate, b.latency_p99) == (1, 0.0, 2.0)
    assert summarize([]) == {}
