"""Fixtures of the ingress's tests: the fake producer behind the app, and how the app is served."""

from __future__ import annotations

import pytest

from tests.fakes import FakeProducer


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture(params=["starlette", "served"])
def served(request: pytest.FixtureRequest) -> bool:
    """Each test twice: against the Starlette app over ASGI, and as ``hookgate ingress`` serves
    it, over HTTP (``tests.asgi.client_of``: deliveries answered by the ingress's protocol)."""
    return bool(request.param == "served")
