"""SPEC §5: `WATCHER_…` environment variables are checked like keys. A misspelt section or key
(`WATCHER_HEALT__FALL`) is refused naming the variable, not silently ignored; the names that other
programs read (`WATCHER_LOG_LEVEL`, `WATCHER_DNS_SYNC_…`, `WATCHER_SIM_…`) pass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.cli import main
from watcher.config import ConfigError, environment_problems, load_config

from .test_load_config import FULL

Write = Callable[[str], Path]


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("WATCHER_HEALT__FALL", "'healt'"),  # a misspelt section
        ("WATCHER_HEALTH__FAL", "'fal'"),  # a misspelt key of a section
        ("WATCHER_SEVER__ADMIN_TOKEN", "'sever'"),
        ("WATCHER_DRYRUN", "'dryrun'"),
    ],
)
def test_an_unknown_environment_variable_is_refused_naming_it(
    write_config: Write, monkeypatch: pytest.MonkeyPatch, name: str, named: str
) -> None:
    monkeypatch.setenv(name, "3")
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(FULL))
    problem = refused.value.problems[0]
    assert problem.startswith(f"environment: {name}:"), refused.value.problems
    assert named in problem


def test_a_misspelt_section_suggests_the_right_one() -> None:
    (problem,) = environment_problems({"WATCHER_HEALT__FALL": "3"})
    assert "did you mean 'health'" in problem


def test_known_and_foreign_names_pass() -> None:
    assert (
        environment_problems(
            {
                "WATCHER_HEALTH__FALL": "3",
                "WATCHER_SERVER__ADMIN_TOKEN": "t",
                "WATCHER_GENESYS__CLIENT_SECRET_FILE": "/run/secret",
                "WATCHER_REGIONS": "[]",
                "WATCHER_DRY_RUN": "true",
                "WATCHER_WEBHOOK__NAME": "dns",
                "WATCHER_LOG_LEVEL": "DEBUG",
                "WATCHER_DNS_SYNC_STATE__DIR": "/var/lib/x",
                "WATCHER_SIM_CLIENT_SECRET": "s",
                "PATH": "/bin",
            }
        )
        == []
    )


def test_check_config_exits_2_naming_the_variable(
    write_config: Write, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATCHER_HEALT__FALL", "3")
    assert main(["check-config", "--config", str(write_config(FULL))]) == 2
    _, err = capsys.readouterr()
    assert "WATCHER_HEALT__FALL" in err


def test_check_config_says_when_the_state_dir_cannot_be_used(
    write_config: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    text = FULL.replace('dir = "var/"', f'dir = "{blocker}/state"')
    assert main(["check-config", "--config", str(write_config(text))]) == 2
    _, err = capsys.readouterr()
    assert "state.dir" in err
    assert str(blocker) in err
