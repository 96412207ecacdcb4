"""`failover-watcher check-config`: exit 0 prints the config with secrets masked; exit 2 lists problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.cli import main

from .test_load_config import FULL, SECRET

Write = Callable[[str], Path]


def test_valid_config_is_printed_with_secrets_masked(
    write_config: Write, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_SERVER__ADMIN_TOKEN", "admin-MARKER-token")
    path = write_config(FULL)
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    dumped = json.loads(out)
    assert dumped["genesys"]["client_secret"] == "**********"
    assert dumped["sinks"][0]["secret"] == "**********"
    assert dumped["server"]["admin_token"] == "**********"
    assert dumped["genesys"]["client_id"] == "watcher-client"
    assert dumped["strategies"][0]["regions"] == ["us-east-1", "eu-west-1"]
    assert f"{path}: OK" in err
    for marker in (SECRET, "whsec_MARKER", "admin-MARKER-token"):
        assert marker not in out + err


def test_bad_config_exits_2_with_one_line_per_problem(
    write_config: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    text = FULL.replace("fall = 2", "fall = 0").replace("rise = 3", "rise = 0")
    path = write_config(text)
    assert main(["check-config", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"{path}: configuration refused (2 problems)"
    assert [line.strip() for line in lines[1:]] == [
        "health.fall: must be at least 1 (got 0)",
        "health.rise: must be at least 1 (got 0)",
    ]
    assert SECRET not in err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_one_problem_is_one_problem(write_config: Write, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(FULL.replace("fall = 2", "fall = 0"))
    assert main(["check-config", "--config", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{path}: configuration refused (1 problem)"
    assert [line.strip() for line in lines[1:]] == ["health.fall: must be at least 1 (got 0)"]
