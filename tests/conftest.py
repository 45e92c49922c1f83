"""One real Kafka broker for the test session, started from Maven Central jars by our own code.

Set ``HOOKGATE_TEST_BOOTSTRAP`` to run the Kafka tests against an existing cluster instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hookgate.kafka_local import LocalKafka
from tests.support import free_ports


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("HOOKGATE_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    port, controller_port = free_ports(2)
    broker = LocalKafka(
        tmp_path_factory.mktemp("kafka"), port=port, controller_port=controller_port
    )
    bootstrap = broker.start()
    try:
        yield bootstrap
    finally:
        broker.stop()
