"""Explanations are JSON-ready and hashable, and every alert and write carries one."""

from __future__ import annotations

import json

from watcher.core import Explanation, Observation, OperatorPin, StrategySnapshot

from ._world import only_reweight, started


def test_to_dict_is_json_ready() -> None:
    obs = Observation("a", False, 1.5, "http 503", status="DOWN", latency_ms=12.5)
    expl = Explanation("a down", (obs,), {"fall": 2, "failback": "auto", "hold": 1.5}, at=2.0)
    data = expl.to_dict()
    assert json.loads(json.dumps(data)) == {
        "summary": "a down",
        "observations": [
            {
                "region": "a",
                "ok": False,
                "at": 1.5,
                "reason": "http 503",
                "status": "DOWN",
                "latencyMs": 12.5,
            }
        ],
        "thresholds": {"fall": 2, "failback": "auto", "hold": 1.5},
        "at": 2.0,
    }


def test_explanations_and_actions_are_hashable_by_value() -> None:
    one = Explanation("x", (), {"fall": 2, "rise": 3}, 1.0)
    two = Explanation("x", (), {"rise": 3, "fall": 2}, 1.0)
    assert one == two
    assert hash(one) == hash(two)
    shell = started()
    write = only_reweight(shell.down("a", 1.0))
    assert write in {write}


def test_every_action_explanation_serialises() -> None:
    shell = started()
    shell.feed(StrategySnapshot("s1", "c", 3, 0.5))
    shell.ack(only_reweight(shell.down("c", 1.0)), 2.0)
    shell.down("a", 3.0)
    shell.down("b", 3.0)
    shell.down("c", 3.0)
    shell.feed(OperatorPin("s1", "c", 10.0, 4.0))
    shell.up("c", 5.0)
    assert len({type(a).__name__ for a in shell.history}) >= 5
    for action in shell.history:
        json.dumps(action.explanation.to_dict())
