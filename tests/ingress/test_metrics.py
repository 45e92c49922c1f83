"""The ingress's metrics are plain numbers read at scrape time (ingress/metrics.py); what
/metrics shows must be what prometheus_client's Counter and Histogram of the same names showed."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ingress.metrics import IngressMetrics, PlainCounter, PlainHistogram

_CREATED = re.compile(rb"^(\w+_created(?:\{[^}]*\})?) [0-9.e+]+$", re.MULTILINE)


def exposition(registry: CollectorRegistry) -> bytes:
    # _created holds the time each series began, which differs between any two registries.
    return _CREATED.sub(rb"\1 T", generate_latest(registry))


def reference(
    metrics: IngressMetrics,
) -> tuple[CollectorRegistry, dict[str, Counter], dict[str, Histogram]]:
    """prometheus_client's own metrics with the same names, help, labels and buckets."""
    registry = CollectorRegistry()
    counters = {}
    histograms = {}
    for name, plain in vars(metrics).items():
        if isinstance(plain, PlainCounter):
            counters[name] = Counter(
                plain.name, plain.documentation, plain.labelnames, registry=registry
            )
        elif isinstance(plain, PlainHistogram):
            histograms[name] = Histogram(
                plain.name, plain.documentation, buckets=plain.bounds, registry=registry
            )
    return registry, counters, histograms


def test_the_exposition_is_what_prometheus_client_s_metrics_write() -> None:
    metrics = IngressMetrics()
    registry, counters, histograms = reference(metrics)
    updates: list[tuple[str, tuple[str, ...]]] = [
        ("deliveries", ("demo", "accepted")),
        ("deliveries", ("<unknown>", "unknown_source")),
        ("deliveries", ("demo", "accepted")),
        ("verification_failures", ("demo", "timestamp_too_old")),
        ("secret_matches", ("demo", "1")),
    ]
    for name, labels in updates:
        getattr(metrics, name).labels(*labels).inc()
        counters[name].labels(*labels).inc()
    # On a bound, between bounds, below the first and past the last.
    for seconds in (0.001, 0.0015, 0.0001, 0.3, 11.0, 10):
        metrics.produce_seconds.observe(seconds)
        histograms["produce_seconds"].observe(seconds)
    for size in (0, 1024, 1025, 5_000_000):
        metrics.body_bytes.observe(size)
        histograms["body_bytes"].observe(size)
    assert exposition(metrics.registry) == exposition(registry)


def test_an_unused_registry_shows_the_same_families_as_prometheus_client_s() -> None:
    metrics = IngressMetrics()
    assert exposition(metrics.registry) == exposition(reference(metrics)[0])


def test_a_counter_refuses_the_wrong_number_of_labels() -> None:
    with pytest.raises(ValueError, match="takes labels"):
        IngressMetrics().deliveries.labels("demo")
