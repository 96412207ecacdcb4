"""Fencing, driven directly against the real simulator with a fake gate that fences: a new leader
among several instances writes what it owns back unchanged, each write confirmed first; a single
instance only reads; a leader that cannot confirm writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.daemon._parts import RULE_1, RULE_2, S1, Gate, Rig, running_rig
from watcher.switch import ApiStrategies, Fence, Strategies, WritePolicy, WriteRefused

pytestmark = pytest.mark.anyio


class FencingGate(Gate):
    """A leader among several instances: other instances may have written, so it fences."""

    @property
    def fences(self) -> bool:
        return True


def fence_for(rig: Rig, gate: Gate) -> Fence:
    strategies = Strategies(ApiStrategies(rig.client))
    return Fence(strategies, rig.followers(gate=gate), gate, WritePolicy(clock=rig.clock))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path) as r:
        yield r


async def test_a_new_leader_writes_the_strategy_and_its_rules_back_unchanged(rig: Rig) -> None:
    before = rig.strategy(S1)
    gate = FencingGate(leader=True)

    fenced = await fence_for(rig, gate).read(S1)

    assert fenced.version == before["version"] + 1  # what the core adopts is the fenced version
    assert rig.strategy(S1)["routingConfig"] == before["routingConfig"]
    assert rig.strategy_puts(S1) == [200]
    assert sorted(rig.rule_puts()) == [RULE_1, RULE_2]
    assert gate.confirmed == [S1, S1, S1]  # the strategy and each rule, confirmed before its PUT


async def test_a_single_instance_only_reads(rig: Rig) -> None:
    gate = Gate(leader=True)  # fences: False

    current = await fence_for(rig, gate).read(S1)

    assert current.version == rig.strategy(S1)["version"]
    assert rig.requests("PUT") == []
    assert gate.confirmed == []


async def test_a_leader_that_cannot_confirm_does_not_fence(rig: Rig) -> None:
    gate = FencingGate(leader=False)  # deposed between the takeover and the fence

    with pytest.raises(WriteRefused):
        await fence_for(rig, gate).read(S1)

    assert rig.requests("PUT") == []
