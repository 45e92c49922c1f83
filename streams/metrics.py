"""The worker's Prometheus metrics (served at the worker's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.metrics import Labelled


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.records = Labelled(
            Counter(
                "hookgate_worker_records",
                "Raw records processed, by outcome: emitted, reemitted (replay), duplicate "
                "(dropped), dead_lettered. A record read again after a crash counts again.",
                ["outcome"],
                registry=self.registry,
            )
        )
        self.duplicates = Labelled(
            Counter(
                "hookgate_worker_duplicates_dropped",
                "Deliveries dropped as retries of an event already emitted, by source.",
                ["source"],
                registry=self.registry,
            )
        )
        self.dead_letters = Labelled(
            Counter(
                "hookgate_worker_dead_letters",
                "Raw records sent to the dead-letter topic, by reason.",
                ["reason"],
                registry=self.registry,
            )
        )
        self.transactions = Counter(
            "hookgate_worker_transactions",
            "Kafka transactions (exactly_once), by outcome: committed or aborted.",
            ["outcome"],
            registry=self.registry,
        )
        self.transaction_records = Histogram(
            "hookgate_worker_transaction_records",
            "Raw records per committed transaction (exactly_once).",
            buckets=(1, 10, 100, 500, 1000, 5000, 10_000, 50_000),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "hookgate_worker_commit_seconds",
            "Time to commit one partition's progress (transaction or offset commit).",
            registry=self.registry,
        )
        self.commit_age = Gauge(
            "hookgate_worker_commit_age_seconds",
            "Seconds since everything the worker had processed was last committed: grows "
            "without bound when commits stall while records are processed.",
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "hookgate_worker_consumer_lag",
            "Raw records not yet processed, per owned raw-topic partition (high watermark "
            "minus the next offset to process).",
            ["partition"],
            registry=self.registry,
        )
        self.state_expired = Counter(
            "hookgate_worker_state_expired",
            "De-duplication entries removed (tombstoned) for being older than the horizon.",
            registry=self.registry,
        )
