"""Fixtures of the ingress's tests: the fake producer behind the app, and how the app is served."""

from __future__ import annotations

import pytest

from tests.fakes import FakeProducer


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture(params=["starlette", "served"])
def served(request: pytest.FixtureRequest) -> bool:
    """Each test twice: against the Starlette app, and as ``hookgate ingress`` serves it
    (wrapped in :class:`ingress.server.DirectRoutes`, which sends deliveries past the router)."""
    return bool(request.param == "served")
