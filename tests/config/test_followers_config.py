"""`[[triggers]]`, `[[emergency_groups]]` and `kind = "virtual"` strategies: one line per problem,
each naming its key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.config import ConfigError, load_config

BASE = """
[genesys]
client_id = "c"
client_secret = "s"

[[strategies]]
id = "cc"
kind = "virtual"
regions = ["us-east-1", "us-west-2"]
"""

TRIGGER = """
[[triggers]]
id = "t1"
strategy = "cc"
targets = { "us-east-1" = "workflow-use1", "us-west-2" = "workflow-usw2" }
"""


def problems(write_config: Callable[[str], Path], text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    return caught.value.problems


def test_a_virtual_strategy_with_a_trigger_and_a_group_loads(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(
        write_config(
            BASE + TRIGGER + '[[emergency_groups]]\nid = "g1"\nstrategy = "cc"\nenabled_when = "all-down"\n'
        )
    )

    assert cfg.strategies[0].kind == "virtual"
    assert cfg.triggers[0].targets["us-west-2"] == "workflow-usw2"
    assert cfg.emergency_groups[0].enabled_when == "all-down"
    assert cfg.genesys.paths.trigger == "/api/v2/processautomation/triggers/{triggerId}"


def test_the_default_kind_is_the_routing_strategy(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(write_config(BASE.replace('kind = "virtual"\n', "") + TRIGGER))
    assert cfg.strategies[0].kind == "routing-strategy"


def test_a_virtual_strategy_nothing_follows_is_refused(write_config: Callable[[str], Path]) -> None:
    assert problems(write_config, BASE) == [
        "strategies[0].kind: virtual strategy 'cc' has no follower "
        "(add a [[rules]], [[triggers]] or [[emergency_groups]] entry naming it)"
    ]


def test_followers_naming_unknown_strategies_and_regions(write_config: Callable[[str], Path]) -> None:
    text = (
        BASE
        + TRIGGER
        + """
[[triggers]]
id = "t2"
strategy = "cc"
targets = { "us-east-1" = "w1", "eu-west-1" = "w2" }

[[triggers]]
id = "t3"
strategy = "nope"
targets = {}

[[emergency_groups]]
id = "g1"
strategy = "other"
"""
    )
    assert problems(write_config, text) == [
        "triggers[1].targets.eu-west-1: region 'eu-west-1' is not a region of strategy 'cc'",
        "triggers[1].targets: no workflow for region(s) us-west-2 of strategy 'cc'",
        "triggers[2].strategy: unknown strategy 'nope'",
        "emergency_groups[0].strategy: unknown strategy 'other'",
    ]


def test_bad_kinds_and_modes_name_their_key(write_config: Callable[[str], Path]) -> None:
    text = (
        BASE.replace('"virtual"', '"queue"')
        + '[[emergency_groups]]\nid = "g"\nstrategy = "cc"\nenabled_when = "sometimes"\n'
    )
    found = problems(write_config, text)
    assert any(p.startswith("strategies[0].kind:") for p in found)
    assert any(p.startswith("emergency_groups[0].enabled_when:") for p in found)
