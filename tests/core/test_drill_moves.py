"""A drill's moves through the core (SPEC §8): kind "drill" both ways, the move there stands like an
operator's move (no automatic failback undoes it), the move back skips the failback hold, and
neither is a flap (a region's flaps are its own health transitions, which a drill never makes)."""

from __future__ import annotations

from watcher.core import OperatorFailback, OperatorMove

from ._world import make_policy, only_reweight, reweights, started


def test_a_drill_moves_there_and_back_as_kind_drill_and_its_move_stands_meanwhile() -> None:
    shell = started(make_policy(mode="auto", hold=10.0))
    there = only_reweight(shell.feed(OperatorMove("s1", "b", at=5.0, reason="drill d1", drill=True)))
    assert (there.from_region, there.to_region, there.kind) == ("a", "b", "drill")
    assert there.explanation.summary.startswith("drill move (drill d1): switching s1 from a to b")
    shell.ack(there, 6.0)
    assert (shell.status().active_region, shell.status().adopted) == ("b", True)
    # Long past the failback hold: the drill decides when it goes back, not the automatic failback.
    assert reweights(shell.tick(1000.0)) == []
    back = only_reweight(shell.feed(OperatorFailback("s1", at=1001.0, reason="drill d1 ends", drill=True)))
    assert (back.from_region, back.to_region, back.kind) == ("b", "a", "drill")
    assert back.explanation.summary.startswith("drill return (drill d1 ends): switching s1 from b back")
    shell.ack(back, 1002.0)
    status = shell.status()
    assert (status.active_region, status.adopted) == ("a", False)
    assert all(not h.flaps for h in shell.world.regions.values())


def test_the_move_back_does_not_wait_for_the_failback_hold() -> None:
    shell = started(make_policy(mode="auto", hold=3600.0))
    shell.ack(only_reweight(shell.feed(OperatorMove("s1", "b", at=5.0, drill=True))), 6.0)
    back = only_reweight(shell.feed(OperatorFailback("s1", at=7.0, drill=True)))
    assert back.to_region == "a"
