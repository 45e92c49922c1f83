"""One real Kafka broker for the test session, started from Maven Central jars by our own code.

Besides its PLAINTEXT listener it serves SASL PLAIN over TLS on a second port, with a certificate
from a CA made for the session, for the tests of secured clusters (``kafka_sasl_ssl``, in
tests/e2e/conftest.py). Set ``HOOKGATE_TEST_BOOTSTRAP`` to run the Kafka tests against an
existing cluster instead (the secured-cluster tests are then skipped).

Fixtures only one folder uses live in that folder's ``conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hookgate.kafka_local import LocalKafka, SaslSslListener
from tests.support import free_ports
from tests.tls import SaslSsl, make_tls_files


@pytest.fixture(scope="session")
def _kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SaslSsl | None]]:
    external = os.environ.get("HOOKGATE_TEST_BOOTSTRAP")
    if external:
        yield external, None
        return
    home = tmp_path_factory.mktemp("kafka")
    port, controller_port, sasl_port = free_ports(3)
    secured = SaslSsl(f"127.0.0.1:{sasl_port}", make_tls_files(home / "tls"))
    broker = LocalKafka(
        home,
        port=port,
        controller_port=controller_port,
        sasl_ssl=SaslSslListener(
            sasl_port, secured.tls.server_key_and_cert, {secured.username: secured.password}
        ),
    )
    bootstrap = broker.start()
    try:
        yield bootstrap, secured
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_kafka: tuple[str, SaslSsl | None]) -> str:
    return _kafka[0]
