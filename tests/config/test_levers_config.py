"""`[[sites]]`, `[[ivrs]]` and `[[data_actions]]` (SPEC §6.2.1): one line per problem, each naming
its key; a URL template's query string (it may hold a secret) is never shown."""

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
regions = ["us-east-1", "eu-west-1"]
"""

GOOD = """
[[sites]]
id = "site-1"
strategy = "cc"
regions = { "eu-west-1" = "eu-west-1" }

[[ivrs]]
id = "ivr-main"
strategy = "cc"
open_hours_flows = { "us-east-1" = "flow-use1", "eu-west-1" = "flow-euw1" }
emergency_flow = "flow-emergency"

[[data_actions]]
id = "action-1"
strategy = "cc"
request_url_templates = { "us-east-1" = "https://use1.ex.com/x", "eu-west-1" = "https://euw1.ex.com/x" }
"""


def problems(write_config: Callable[[str], Path], text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    return caught.value.problems


def test_a_site_an_ivr_and_a_data_action_follow_a_virtual_strategy(
    write_config: Callable[[str], Path],
) -> None:
    cfg = load_config(write_config(BASE + GOOD))

    assert cfg.sites[0].aws_region("us-east-1") == "us-east-1"  # default: the region id itself
    assert cfg.ivrs[0].emergency_flow == "flow-emergency"
    assert cfg.data_actions[0].request_url_templates["eu-west-1"] == "https://euw1.ex.com/x"
    assert cfg.genesys.paths.site == "/api/v2/telephony/providers/edges/sites/{siteId}"
    assert cfg.genesys.paths.ivr == "/api/v2/architect/ivrs/{ivrId}"
    assert cfg.genesys.paths.data_action == "/api/v2/integrations/actions/{actionId}"


def test_an_ivr_with_only_an_emergency_flow_is_enough_to_follow(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(write_config(BASE + '[[ivrs]]\nid = "i"\nstrategy = "cc"\nemergency_flow = "f"\n'))
    assert cfg.ivrs[0].open_hours_flows == {}


def test_each_problem_names_its_key(write_config: Callable[[str], Path]) -> None:
    text = (
        BASE
        + GOOD
        + """
[[sites]]
id = "site-1"
strategy = "nope"

[[sites]]
id = "site-2"
strategy = "cc"
regions = { "us-east-1" = "eu-west-1", "mars-1" = "x" }

[[ivrs]]
id = "ivr-2"
strategy = "cc"
open_hours_flows = { "us-east-1" = "flow-use1" }

[[ivrs]]
id = "ivr-3"
strategy = "cc"

[[data_actions]]
id = "action-1"
strategy = "cc"
request_url_templates = { "us-east-1" = "ftp://use1.example.com/x?api_key=hunter2-secret", "eu-west-1" = "" }
"""
    )

    found = problems(write_config, text)

    assert found == [
        "sites[1].strategy: unknown strategy 'nope'",
        "sites[2].regions.mars-1: region 'mars-1' is not a region of strategy 'cc'",
        "sites[2].regions: regions 'us-east-1' and 'eu-west-1' are both AWS region 'eu-west-1'",
        "ivrs[1].open_hours_flows: no flow id for region(s) eu-west-1 of strategy 'cc'",
        "ivrs[2]: give open_hours_flows, emergency_flow, or both",
        "data_actions[1].request_url_templates.eu-west-1: empty URL template",
        "data_actions[1].request_url_templates.us-east-1: 'ftp://use1.example.com/x?[redacted]' "
        "is not an http(s) URL",
        "sites[1].id: duplicate id 'site-1'",
        "data_actions[1].id: duplicate id 'action-1'",
    ]
    assert all("hunter2" not in p for p in found)


def test_an_unknown_strategy_is_named_for_each_kind(write_config: Callable[[str], Path]) -> None:
    text = BASE + GOOD.replace('strategy = "cc"', 'strategy = "gone"')
    assert problems(write_config, text) == [
        "sites[0].strategy: unknown strategy 'gone'",
        "ivrs[0].strategy: unknown strategy 'gone'",
        "data_actions[0].strategy: unknown strategy 'gone'",
        "strategies[0].kind: virtual strategy 'cc' has no follower "
        "(add a [[rules]], [[triggers]] or [[emergency_groups]] entry naming it)",
    ]
