"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest

from tests.tls import SaslSsl


@pytest.fixture(scope="session")
def kafka_sasl_ssl(_kafka: tuple[str, SaslSsl | None]) -> SaslSsl:
    if _kafka[1] is None:
        pytest.skip(
            "HOOKGATE_TEST_BOOTSTRAP names an external cluster without our SASL_SSL listener"
        )
    return _kafka[1]
