"""SPEC §8 `[safety]`: the switch budget and the wait between switches, as the config says them, each
bad value refused naming its key, and the policy the core gets from them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.config.test_load_config import MINIMAL, problems_of
from watcher.config import load_config
from watcher.core import SafetyPolicy
from watcher.daemon.engine import policy_from_config

Write = Callable[[str], Path]


def test_no_safety_section_means_no_limit(write_config: Write) -> None:
    policy = policy_from_config(load_config(write_config(MINIMAL)))
    assert policy.safety == SafetyPolicy()
    assert not policy.safety.limited


def test_the_safety_section_reaches_the_core(write_config: Write) -> None:
    text = MINIMAL + "\n[safety]\nmax_switches = 3\nwindow_seconds = 600\nmin_seconds_between_switches = 5\n"
    policy = policy_from_config(load_config(write_config(text)))
    assert policy.safety == SafetyPolicy(3, window_seconds=600.0, min_seconds_between_switches=5.0)


def test_the_environment_sets_the_budget(write_config: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHER_SAFETY__MAX_SWITCHES", "2")
    assert load_config(write_config(MINIMAL)).safety.max_switches == 2


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("max_switches = 0", "safety.max_switches: Input should be greater than or equal to 1"),
        ("max_switches = -2", "safety.max_switches: Input should be greater than or equal to 1"),
        ("max_switches = 1.5", "safety.max_switches: "),
        ('max_switches = "many"', "safety.max_switches: "),
        ("max_switches = 3\nwindow_seconds = 0", "safety.window_seconds: Input should be greater than 0"),
        ("window_seconds = -60", "safety.window_seconds: Input should be greater than 0"),
        ("window_seconds = inf", "safety.window_seconds: "),
        ("min_seconds_between_switches = -1", "safety.min_seconds_between_switches: Input should be greater"),
        ("max_switchs = 3", "safety.max_switchs: unknown key"),
    ],
)
def test_a_bad_safety_value_is_refused_naming_the_key(write_config: Write, lines: str, expected: str) -> None:
    problems = problems_of(write_config(MINIMAL + "\n[safety]\n" + lines + "\n"))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems
