"""Config files for the daemons under test: the simulator's org, fast intervals, written as TOML.

Tests build a plain dict (`base_config`, then `merged` overrides) and write it with `write_config`, so
the daemon reads its configuration through the same loader as in production, and the command line
(`hold`, `dry-run`, `check-config`) can be pointed at the very same file.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PRIMARY, SECONDARY = "us-east-1", "eu-west-1"
STRATEGY, RULE = "strategy-1", "rule-1"
OTHER = "strategy-2"
TARGETS = {PRIMARY: "target-use1", SECONDARY: "target-euw1"}
ADMIN_TOKEN = "safety-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_config(sim_url: str, state_dir: Path, port: int) -> dict[str, Any]:
    """Two regions, one strategy with one rule, polls every 0.2 s, read-backs every 0.5 s."""
    return {
        "genesys": {
            "api_base_url": sim_url,
            "login_base_url": sim_url,
            "client_id": "sim-client",
            "client_secret": "sim-secret",
            "requests_per_minute": 6000,
            "max_retries": 2,
        },
        "health": {"interval_seconds": 0.2, "timeout_seconds": 0.15, "fall": 2, "rise": 2},
        "failback": {"mode": "auto", "hold_seconds": 1.0},
        "regions": [{"id": PRIMARY}, {"id": SECONDARY}],
        "strategies": [{"id": STRATEGY, "regions": [PRIMARY, SECONDARY]}],
        "rules": [{"id": RULE, "strategy": STRATEGY, "targets": dict(TARGETS)}],
        "server": {"listen": f"127.0.0.1:{port}", "admin_token": ADMIN_TOKEN},
        "state": {"dir": str(state_dir)},
        "executor": {
            "reconcile_interval_seconds": 0.5,
            "write_retry_seconds": 0.3,
            "shutdown_grace_seconds": 5.0,
        },
    }


def merged(base: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """`base` with `overrides` applied: tables are merged one level deep, anything else replaced."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML for a config dict: scalars first, then `[table]`s, then `[[array]]`s of tables.

    A dict inside a table becomes an inline table (`targets = { ... }`), which is all configs need.
    """
    lines = [
        f"{k} = {_value(v)}"
        for k, v in data.items()
        if v is not None and not isinstance(v, dict) and not _is_table_list(v)
    ]
    for key, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]"]
            lines += [f"{k} = {_value(v)}" for k, v in table.items() if v is not None]
    for key, tables in data.items():
        if _is_table_list(tables):
            for table in tables:
                lines += ["", f"[[{key}]]"]
                lines += [f"{k} = {_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_config(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def sink(name: str, url: str, secret: str) -> dict[str, Any]:
    return {"name": name, "url": url, "secret": secret, "timeout_seconds": 2.0}
