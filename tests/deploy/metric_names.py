"""Metric names: the ones a PromQL expression reads, and the ones the watcher exposes.

Dashboards and alert rules break silently when a metric is renamed: a query for a name nobody
exposes is just empty. These two functions let a test compare both sides.
"""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
# by (a, b) / without (...) / on (...) / ignoring (...) / group_left (...) / group_right (...)
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
     "bool", "offset", "inf", "nan", "atan2"}
)  # fmt: skip


def names_in_expr(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (function names, labels and keywords removed)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(1)
        if name.lower() not in _KEYWORDS and not re.fullmatch(r"[eE]\d*", name):
            names.add(name)
    return names


def selectors_in_expr(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names it matches on) for every `name{...}` selector in the expression."""
    found = []
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^{}]*)\}", expr):
        labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", match.group(2)))
        found.append((match.group(1), labels))
    return found


def exposed_names(exposition: str) -> dict[str, set[str]]:
    """Every series name a scrape of `exposition` can yield, mapped to its label names.

    Counter `x` is exposed as `x_total`; histogram `x` as `x_bucket`, `x_sum`, `x_count`. Label
    names are known only for families with at least one sample.
    """
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for suffix in suffixes.get(family.type, ("",)):
            names.setdefault(family.name + suffix, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names
