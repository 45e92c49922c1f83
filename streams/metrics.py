"""The worker's Prometheus metrics (served with Faust's own at the worker's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.records = Counter(
            "hookgate_worker_records",
            "Raw records by outcome: emitted, reemitted (replay), duplicate (dropped), "
            "dead_lettered, past_replay_end (read again, not re-emitted: replay --to).",
            ["outcome"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "hookgate_worker_duplicates_dropped",
            "Deliveries dropped as retries of an event already emitted, by source.",
            ["source"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "hookgate_worker_dead_letters",
            "Raw records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=self.registry,
        )
