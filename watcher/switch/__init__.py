"""The switch: where a decision becomes a PUT.

Top down: `executor.py` runs a `Reweight` (the strategy's write, then its followers'), `store.py`
says where a strategy is written (its API object, or `virtual.py`'s durable decision),
`followers.py` makes every follower follow by one write sequence (the kinds: `rules.py`,
`platform.py`, behind `follower.Follower`), `fencing.py` is a new leader's first read, `writes.py`
the optimistic write loop, `plan.py` what an object must look like (pure), and `policy.py` /
`errors.py` the one value and the one error set every write shares.

>>> # executor = Executor(strategies, followers, engine.feed, gate=leadership, ...)
>>> # await executor.execute(reweight)   # never raises: reports, audits and feeds the outcome
"""

from watcher.switch.errors import WRITE_ERRORS, NotFollowable, PlanError, WriteError, WriteRefused
from watcher.switch.executor import Executor, SwitchReport, SwitchResult
from watcher.switch.fencing import Fence
from watcher.switch.follower import Decision, Follower
from watcher.switch.followers import Followed, FollowerKinds, Followers
from watcher.switch.levers import DataActionFollower, IvrFollower, SiteFollower
from watcher.switch.memory import FollowerMemory
from watcher.switch.platform import GroupFollower, TriggerFollower, write_group_enabled, write_trigger_target
from watcher.switch.policy import Gate, WritePolicy
from watcher.switch.rules import RuleFollower, RuleTargets, write_rule_target
from watcher.switch.store import ApiStrategies, Strategies, StrategyStore, write_strategy_order
from watcher.switch.virtual import VirtualStrategies
from watcher.switch.writes import WriteKind, WriteOutcome, rewrite_unchanged, write_with_retries

__all__ = [
    "WRITE_ERRORS",
    "ApiStrategies",
    "DataActionFollower",
    "Decision",
    "Executor",
    "Fence",
    "Followed",
    "Follower",
    "FollowerKinds",
    "FollowerMemory",
    "Followers",
    "Gate",
    "GroupFollower",
    "IvrFollower",
    "NotFollowable",
    "PlanError",
    "RuleFollower",
    "RuleTargets",
    "SiteFollower",
    "Strategies",
    "StrategyStore",
    "SwitchReport",
    "SwitchResult",
    "TriggerFollower",
    "VirtualStrategies",
    "WriteError",
    "WriteKind",
    "WriteOutcome",
    "WritePolicy",
    "WriteRefused",
    "rewrite_unchanged",
    "write_group_enabled",
    "write_rule_target",
    "write_strategy_order",
    "write_trigger_target",
    "write_with_retries",
]
