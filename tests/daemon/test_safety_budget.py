"""The safety budget's switches kept on disk (`watcher/daemon/kept_switches.py`): wall-clock on disk,
monotonic in the core, so a restart (a new monotonic origin) finds them where they were."""

from __future__ import annotations

from pathlib import Path

from watcher.core import SafetyPolicy, SwitchLedger
from watcher.daemon.kept_switches import KeptSwitches

RULES = SafetyPolicy(max_switches=2, window_seconds=600.0)


def test_switches_survive_a_new_monotonic_origin(tmp_path: Path) -> None:
    before = KeptSwitches(tmp_path, clock=lambda: 100.0, wall=lambda: 1_000_000.0)
    ledger = SwitchLedger().counted("s1", 40.0, RULES).counted("s2", 90.0, RULES)
    before.save(ledger)
    # The next process: its monotonic clock reads 5 where the wall clock says 30 s later.
    after = KeptSwitches(tmp_path, clock=lambda: 5.0, wall=lambda: 1_000_030.0)
    kept = after.load()
    assert kept.switches == (("s1", 5.0 - 90.0), ("s2", 5.0 - 40.0))
    assert kept.within(5.0, 600.0) == 2
    assert kept.last_of("s2") == -35.0


def test_nothing_kept_is_a_full_budget(tmp_path: Path) -> None:
    assert KeptSwitches(tmp_path, clock=lambda: 0.0).load() == SwitchLedger()


def test_an_unreadable_file_is_a_full_budget_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "safety.json").write_text('{"switches": [["s1"]]}', encoding="utf-8")
    assert KeptSwitches(tmp_path, clock=lambda: 0.0).load() == SwitchLedger()
    (tmp_path / "safety.json").write_text("{torn", encoding="utf-8")
    assert KeptSwitches(tmp_path, clock=lambda: 0.0).load() == SwitchLedger()


def test_written_only_when_changed(tmp_path: Path) -> None:
    kept = KeptSwitches(tmp_path, clock=lambda: 10.0, wall=lambda: 50.0)
    ledger = SwitchLedger().counted("s1", 1.0, RULES)
    kept.save(ledger)
    path = tmp_path / "safety.json"
    path.unlink()
    kept.save(ledger)
    kept.save(SwitchLedger(ledger.switches))  # equal: not written again
    assert not path.exists()
    kept.save(ledger.counted("s1", 2.0, RULES))
    assert path.exists()


def test_no_file_while_nothing_is_counted(tmp_path: Path) -> None:
    KeptSwitches(tmp_path, clock=lambda: 0.0).save(SwitchLedger())
    assert not (tmp_path / "safety.json").exists()
