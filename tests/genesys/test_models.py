"""Payload models: the platform limits, checked with hypothesis; unknown fields survive a round trip."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from watcher.genesys import RoutingConfig, RoutingRule, Strategy
from watcher.genesys.models import (
    MAX_CONDITION_CHARS,
    MAX_CONDITIONS,
    MAX_EVALUATION_TIMEOUT_MS,
    condition_chars,
)

FAST = settings(max_examples=60, deadline=None, database=None)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
# Fields the platform may add that we do not model: they must be sent back untouched.
unknown_fields = st.dictionaries(st.from_regex(r"x[A-Za-z]{1,10}", fullmatch=True), json_values, max_size=3)
conditions = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.fixed_dictionaries({"field": st.text(max_size=10), "equals": st.text(max_size=20)}),
    ),
    max_size=MAX_CONDITIONS,
).filter(lambda cs: condition_chars(cs) <= MAX_CONDITION_CHARS)
targets = st.lists(
    st.builds(lambda i, extra: {"id": i, **extra}, st.text(min_size=1, max_size=12), unknown_fields),
    min_size=1,
    max_size=4,
)


@st.composite
def valid_rules(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = draw(unknown_fields)
    body.update(
        priority=draw(st.integers(1, 1000)),
        conditions=draw(conditions),
        targets=draw(targets),
    )
    if draw(st.booleans()):
        body["id"] = draw(st.text(min_size=1, max_size=12))
    if draw(st.booleans()):
        body["version"] = draw(st.integers(1, 10**6) | st.text(min_size=1, max_size=8))
    return body


@st.composite
def valid_routing_configs(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=5, unique=True))
    priorities = draw(st.permutations(list(range(1, len(ids) + 1))))
    regions = [
        {"regionId": rid, "priority": p, "weight": draw(st.integers(0, 100)), **draw(unknown_fields)}
        for rid, p in zip(ids, priorities, strict=True)
    ]
    body: dict[str, Any] = {"regions": regions, **draw(unknown_fields)}
    body["evaluationTimeoutMs"] = draw(st.integers(1, MAX_EVALUATION_TIMEOUT_MS))
    return body


def error_fields(exc: ValidationError) -> set[str]:
    return {str(e["loc"][0]) for e in exc.errors() if e["loc"]}


@FAST
@given(valid_rules())
def test_valid_rule_validates_and_round_trips(body: dict[str, Any]) -> None:
    original = copy.deepcopy(body)
    rule = RoutingRule.model_validate(body)
    assert rule.model_dump(mode="json", exclude_unset=True) == original
    # What a PUT would send: unknown fields included (None values are dropped by design).
    sent = rule.model_dump(mode="json", exclude_none=True)
    for key, value in original.items():
        if value is not None:
            assert key in sent


# Each mutation breaks one limit of a valid rule; the error must name that field.
RULE_MUTATIONS: list[tuple[str, Any]] = [
    ("priority", lambda b: b.update(priority=0)),
    ("priority", lambda b: b.update(priority=1001)),
    ("priority", lambda b: b.update(priority=-5)),
    ("conditions", lambda b: b.update(conditions=["c"] * (MAX_CONDITIONS + 1))),
    ("conditions", lambda b: b.update(conditions=["x" * (MAX_CONDITION_CHARS - 1)])),  # +2 quotes
    ("conditions", lambda b: b.update(conditions=[{"field": "f" * 600}, {"field": "g" * 400}])),
    ("targets", lambda b: b.update(targets=[])),
    ("targets", lambda b: b["targets"].append({"id": ""})),
    ("targets", lambda b: b["targets"].append({"name": "no id"})),
    ("targets", lambda b: b.pop("targets")),
]


@FAST
@given(valid_rules(), st.sampled_from(RULE_MUTATIONS))
def test_invalid_rule_names_the_field(body: dict[str, Any], mutation: tuple[str, Any]) -> None:
    field, mutate = mutation
    mutate(body)
    with pytest.raises(ValidationError) as caught:
        RoutingRule.model_validate(body)
    assert field in error_fields(caught.value)


def test_condition_limit_is_inclusive() -> None:
    at_limit = ["x" * (MAX_CONDITION_CHARS - 2)]  # json.dumps adds the two quotes
    assert condition_chars(at_limit) == MAX_CONDITION_CHARS
    RoutingRule.model_validate({"priority": 1, "conditions": at_limit, "targets": [{"id": "t"}]})
    with pytest.raises(ValidationError, match="1002 characters"):
        RoutingRule.model_validate({"priority": 1, "conditions": [*at_limit, ""], "targets": [{"id": "t"}]})


@FAST
@given(valid_routing_configs())
def test_valid_routing_config_round_trips(body: dict[str, Any]) -> None:
    original = copy.deepcopy(body)
    assert RoutingConfig.model_validate(body).model_dump(mode="json", exclude_unset=True) == original
    strategy_body = {"id": "s", "routingConfig": original, "xVendor": {"a": 1}}
    strategy = Strategy.model_validate(strategy_body)
    assert strategy.model_dump(mode="json", exclude_unset=True) == strategy_body
    assert strategy.active_region() == strategy.region_order()[0]


CONFIG_MUTATIONS: list[tuple[str, Any]] = [
    ("evaluationTimeoutMs", lambda b: b.update(evaluationTimeoutMs=MAX_EVALUATION_TIMEOUT_MS + 1)),
    ("evaluationTimeoutMs", lambda b: b.update(evaluationTimeoutMs=0)),
    ("regions", lambda b: b["regions"].append({**b["regions"][0], "regionId": "\x00other"})),  # same priority
    ("regions", lambda b: b["regions"].append({**b["regions"][0], "priority": 99})),  # same region
    ("regions", lambda b: b.update(regions=[])),
    ("regions", lambda b: b["regions"][0].update(weight=101)),
    ("regions", lambda b: b["regions"][0].update(priority=0)),
]


@FAST
@given(valid_routing_configs(), st.sampled_from(CONFIG_MUTATIONS))
def test_invalid_routing_config_names_the_field(body: dict[str, Any], mutation: tuple[str, Any]) -> None:
    field, mutate = mutation
    mutate(body)
    with pytest.raises(ValidationError) as caught:
        RoutingConfig.model_validate(body)
    assert field in error_fields(caught.value)
