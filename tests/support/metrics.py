"""Reading metrics the way Prometheus does: by their public sample names, never through a metric
object's private attributes.

- `metric_value(metrics, name, **labels)`: one sample of a `WatcherMetrics` registry
  (`registry.get_sample_value`), 0.0 while nothing wrote that series yet.
- `sample(text, name, **labels)`: one series in exposition text (a daemon's `/metrics`), None when
  absent.
"""

from __future__ import annotations

from watcher.metrics import WatcherMetrics


def metric_value(metrics: WatcherMetrics, name: str, **labels: str) -> float:
    """The sample `name` (as exposed: `..._total` for a counter) with exactly `labels`."""
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text, or None when absent."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            return float(value)
    return None
