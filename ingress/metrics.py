"""The ingress's Prometheus metrics, in a registry of its own (one per app instance).

Labels are bounded: ``source`` only ever takes configured names (unknown ones are counted under
``<unknown>``), ``reason`` the error classes' reasons, ``key_index`` the position of a secret.

Every delivery touches two counters and two histograms, each through
:class:`schemas.metrics.Labelled` (one dict lookup per delivery instead of ``labels()``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from schemas.metrics import Labelled

UNKNOWN_SOURCE = "<unknown>"


class IngressMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.deliveries = Labelled(
            Counter(
                "hookgate_ingress_deliveries",
                "Deliveries by source and outcome (accepted, or the refusal reason).",
                ["source", "outcome"],
                registry=self.registry,
            )
        )
        self.verification_failures = Labelled(
            Counter(
                "hookgate_ingress_verification_failures",
                "Deliveries refused by signature verification, by reason.",
                ["source", "reason"],
                registry=self.registry,
            )
        )
        self.secret_matches = Labelled(
            Counter(
                "hookgate_ingress_secret_matches",
                "Which configured secret or key (by position) verified a delivery; an old "
                "secret whose count stops growing can be removed.",
                ["source", "key_index"],
                registry=self.registry,
            )
        )
        self.produce_seconds = Histogram(
            "hookgate_ingress_produce_seconds",
            "Time from produce to the broker's acknowledgement (acks=all).",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.body_bytes = Histogram(
            "hookgate_ingress_body_bytes",
            "Size of accepted bodies.",
            buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
            registry=self.registry,
        )
