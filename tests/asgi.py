"""The ingress app in process: an HTTP client over ASGI, with a fake producer behind the app.

Used by the ingress's tests (tests/ingress) and by the span tests that follow a delivery from the
app into the worker's stage (tests/schemas/test_tracing_spans.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from ingress.app import create_app
from ingress.server import DirectRoutes
from schemas.config import parse
from tests.fakes import FakeProducer


@asynccontextmanager
async def client_of(
    app: Starlette, *, served: bool = False, base_url: str = "http://hookgate"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` with the app's lifespan run around it (httpx's ASGITransport sends no
    lifespan events). ``served``: the app as ``hookgate ingress`` serves it, wrapped in
    :class:`ingress.server.DirectRoutes`."""
    transport = httpx.ASGITransport(app=DirectRoutes(app) if served else app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=base_url) as client,
    ):
        yield client


@asynccontextmanager
async def ingress_for(
    sources: list[dict[str, Any]], *, now: float
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeProducer]]:
    """The ingress app for ``sources`` (raw topic ``t.raw``, its clock stopped at ``now``), a
    client of it and the fake producer that records what it writes."""
    producer = FakeProducer()
    settings = parse({"topics": {"raw": "t.raw"}, "sources": sources}, env={})
    app = create_app(settings, producer=producer, clock=lambda: now)
    async with client_of(app) as client:
        yield client, producer


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float | None:
    """A sample of the app's ``/metrics`` with these labels (among others), or None."""
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None
