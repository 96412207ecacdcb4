"""The pure failover core: region health hysteresis and the per-strategy state machine.

No clock reads, no I/O, no logging, no asyncio and no randomness live here: the shell feeds
`Event`s into `step` and executes the `Action`s it returns.

>>> from watcher.core import CorePolicy, FailbackPolicy, StrategyPolicy, Thresholds, WorldState
>>> policy = CorePolicy(Thresholds(fall=2, rise=3), FailbackPolicy("auto", 60.0),
...                     (StrategyPolicy("strategy-1", ("us-east-1", "eu-west-1")),))
>>> WorldState.initial(policy).strategies["strategy-1"].phase
<StrategyPhase.UNKNOWN: 'unknown'>
"""

from watcher.core.actions import (
    Action,
    AllRegionsDown,
    AllRegionsDownCleared,
    DriftDetected,
    Explanation,
    Refused,
    RegionTransition,
    Reweight,
    ReweightKind,
    SafetyHeld,
    SafetyReleased,
)
from watcher.core.hysteresis import RegionHealth, RegionState
from watcher.core.inputs import (
    Event,
    FailureKind,
    Observation,
    OperatorFailback,
    OperatorHold,
    OperatorMove,
    OperatorPin,
    OperatorRelease,
    StrategySnapshot,
    Tick,
    WriteFailed,
    WriteSkipped,
    WriteSucceeded,
)
from watcher.core.machine import step
from watcher.core.policy import (
    CorePolicy,
    DriftMode,
    FailbackMode,
    FailbackPolicy,
    SafetyPolicy,
    StrategyPolicy,
    Thresholds,
)
from watcher.core.state import (
    MAX_SWITCHES,
    MIN_SECONDS_BETWEEN_SWITCHES,
    Drift,
    Hold,
    Pin,
    SafetyBlock,
    SafetyRule,
    Skipped,
    StrategyPhase,
    StrategyStatus,
    SwitchLedger,
    WorldState,
    Write,
)
from watcher.core.verdict import health_verdict

__all__ = [
    "MAX_SWITCHES",
    "MIN_SECONDS_BETWEEN_SWITCHES",
    "Action",
    "AllRegionsDown",
    "AllRegionsDownCleared",
    "CorePolicy",
    "Drift",
    "DriftDetected",
    "DriftMode",
    "Event",
    "Explanation",
    "FailbackMode",
    "FailbackPolicy",
    "FailureKind",
    "Hold",
    "Observation",
    "OperatorFailback",
    "OperatorHold",
    "OperatorMove",
    "OperatorPin",
    "OperatorRelease",
    "Pin",
    "Refused",
    "RegionHealth",
    "RegionState",
    "RegionTransition",
    "Reweight",
    "ReweightKind",
    "SafetyBlock",
    "SafetyHeld",
    "SafetyPolicy",
    "SafetyReleased",
    "SafetyRule",
    "Skipped",
    "StrategyPhase",
    "StrategyPolicy",
    "StrategySnapshot",
    "StrategyStatus",
    "SwitchLedger",
    "Thresholds",
    "Tick",
    "WorldState",
    "Write",
    "WriteFailed",
    "WriteSkipped",
    "WriteSucceeded",
    "health_verdict",
    "step",
]
