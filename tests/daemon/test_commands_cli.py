"""The admin clients' own words: where the token comes from, and the one line each prints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watcher.cli import main
from watcher.daemon.commands import summarize

CONFIG = """
[genesys]
api_base_url = "http://127.0.0.1:9"
login_base_url = "http://127.0.0.1:9"
client_id = "c"
client_secret = "s"

[[regions]]
id = "us-east-1"

[[strategies]]
id = "strategy-1"
regions = ["us-east-1"]

[server]
listen = "127.0.0.1:9"
"""


def test_without_a_token_the_client_names_the_variable_the_daemon_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("WATCHER_"):
            monkeypatch.delenv(name)
    config = tmp_path / "watcher.toml"
    config.write_text(CONFIG)
    assert main(["hold", "--strategy", "strategy-1", "--for", "1m", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "WATCHER_SERVER__ADMIN_TOKEN" in err
    assert "WATCHER_ADMIN_TOKEN" not in err.replace("WATCHER_SERVER__ADMIN_TOKEN", "")


def test_each_command_says_in_one_line_what_was_done() -> None:
    pinned = {
        "id": "strategy-1",
        "activeRegion": "eu-west-1",
        "pin": {"region": "eu-west-1", "until": "2026-12-07T03:00:00Z", "reason": "drill"},
        "hold": None,
    }
    assert summarize("hold", pinned) == (
        "strategy-1 pinned to eu-west-1 until 2026-12-07T03:00:00Z (drill); routes to eu-west-1 now"
    )
    held = {
        "id": "strategy-1",
        "activeRegion": "us-east-1",
        "hold": {"until": "T", "reason": ""},
        "pin": None,
    }
    assert summarize("hold", held) == "strategy-1 held until T: no switch until then; routes to us-east-1"
    released = {"id": "strategy-1", "activeRegion": "us-east-1", "hold": None, "pin": None}
    assert (
        summarize("release", released) == "strategy-1 released: no hold or pin in force; routes to us-east-1"
    )
    assert summarize("dry-run", {"dryRun": False}) == "dry run off: the watcher writes again"
