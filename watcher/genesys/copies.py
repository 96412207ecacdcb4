"""The last copy of every strategy and rule the watcher read from the API or wrote to it.

A switch plans its first attempt from the copy, with the copy's version, instead of reading the
object again: one request per object when nothing changed behind the watcher's back. When
something did, the platform refuses the PUT with a version conflict, the copy is dropped and the
write goes back to read → plan → write. The copies are fed by every read and every write of the
watcher (the switch, the read-back, repairs, fencing), so they are as fresh as the last answer.
"""

from __future__ import annotations

from watcher.genesys.models import RoutingRule, Strategy


class Copies:
    """Strategies and rules by id, each as last read or written, with its version.

    >>> copies = Copies()
    >>> copies.strategy("strategy-1") is None
    True
    """

    def __init__(self) -> None:
        self._strategies: dict[str, Strategy] = {}
        self._rules: dict[str, RoutingRule] = {}

    def strategy(self, strategy_id: str) -> Strategy | None:
        return self._strategies.get(strategy_id)

    def rule(self, rule_id: str) -> RoutingRule | None:
        return self._rules.get(rule_id)

    def keep_strategy(self, strategy: Strategy) -> Strategy:
        """Remember `strategy` as the API holds it now; return it (for use in a pipeline)."""
        if strategy.version is None:
            self._strategies.pop(strategy.id, None)  # without a version a copy proves nothing
        else:
            self._strategies[strategy.id] = strategy
        return strategy

    def keep_rule(self, rule_id: str, rule: RoutingRule) -> RoutingRule:
        if rule.version is None:
            self._rules.pop(rule_id, None)
        else:
            self._rules[rule_id] = rule
        return rule

    def drop_strategy(self, strategy_id: str) -> None:
        self._strategies.pop(strategy_id, None)

    def drop_rule(self, rule_id: str) -> None:
        self._rules.pop(rule_id, None)

    def __len__(self) -> int:
        return len(self._strategies) + len(self._rules)
