"""The ingress's Prometheus metrics, in a registry of its own (one per app instance).

Labels are bounded: ``source`` only ever takes configured names (unknown ones are counted under
``<unknown>``), ``reason`` the error classes' reasons, ``key_index`` the position of a secret.

Every delivery touches two counters and two histograms. They are plain Python numbers, read by a
collector at scrape time, not prometheus_client's ``Counter``/``Histogram``: those take a lock
per ``inc()``/``observe()`` and walk the buckets in Python, ~3 % of a delivery's samples in a
profile under load (BENCHMARKS.md). Every update happens on the event loop's thread, and so does
the scrape (``/metrics`` renders on the loop), so nothing here needs a lock. The exposition is
what prometheus_client's own metrics of the same names produced, sample for sample (tested).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client import metrics as _client_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

UNKNOWN_SOURCE = "<unknown>"


def _created_series() -> bool:
    # prometheus_client's own switch (PROMETHEUS_DISABLE_CREATED_SERIES, disable_created_metrics());
    # honoured so that the exposition stays what its Counter and Histogram would write.
    return bool(getattr(_client_metrics, "_use_created", True))


class CounterChild:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class PlainCounter(Collector):
    """A labelled counter: one :class:`CounterChild` per label combination seen."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], CounterChild] = {}

    def labels(self, *values: str) -> CounterChild:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, not {values}")
            child = self._children[values] = CounterChild()
        return child

    def collect(self) -> Iterable[Metric]:
        metric = Metric(self.name, self.documentation, "counter")
        created = _created_series()
        for values, child in list(self._children.items()):
            labels = dict(zip(self.labelnames, values, strict=True))
            metric.add_sample(self.name + "_total", labels, child.value)
            if created:
                metric.add_sample(self.name + "_created", labels, child.created)
        return [metric]


class PlainHistogram(Collector):
    """An unlabelled histogram; ``buckets`` are the upper bounds, ``+Inf`` added."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = [float(b) for b in buckets]
        if self.bounds != sorted(self.bounds):
            raise ValueError("buckets must be in increasing order")
        if self.bounds[-1] != float("inf"):
            self.bounds.append(float("inf"))
        # counts[i]: observations in (bounds[i-1], bounds[i]], as Prometheus's `le` means.
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1
        self.sum += amount

    def collect(self) -> Iterable[Metric]:
        metric = Metric(self.name, self.documentation, "histogram")
        total = 0.0
        for bound, count in zip(self.bounds, list(self.counts), strict=True):
            total += count
            metric.add_sample(self.name + "_bucket", {"le": _le(bound)}, total)
        metric.add_sample(self.name + "_count", {}, total)
        if self.bounds[0] >= 0:  # as prometheus_client: no sum when a bucket is negative
            metric.add_sample(self.name + "_sum", {}, self.sum)
        if _created_series():
            metric.add_sample(self.name + "_created", {}, self.created)
        return [metric]


def _le(bound: float) -> str:
    # prometheus_client's rendering of a bound (1.0, +Inf), so the `le` labels stay its own.
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


class IngressMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.deliveries = PlainCounter(
            "hookgate_ingress_deliveries",
            "Deliveries by source and outcome (accepted, or the refusal reason).",
            ["source", "outcome"],
        )
        self.verification_failures = PlainCounter(
            "hookgate_ingress_verification_failures",
            "Deliveries refused by signature verification, by reason.",
            ["source", "reason"],
        )
        self.secret_matches = PlainCounter(
            "hookgate_ingress_secret_matches",
            "Which configured secret or key (by position) verified a delivery; an old "
            "secret whose count stops growing can be removed.",
            ["source", "key_index"],
        )
        self.produce_seconds = PlainHistogram(
            "hookgate_ingress_produce_seconds",
            "Time from produce to the broker's acknowledgement (acks=all).",
            (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.body_bytes = PlainHistogram(
            "hookgate_ingress_body_bytes",
            "Size of accepted bodies.",
            (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
        )
        for collector in (
            self.deliveries,
            self.verification_failures,
            self.secret_matches,
            self.produce_seconds,
            self.body_bytes,
        ):
            self.registry.register(collector)
