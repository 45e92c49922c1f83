"""The ingress app in process: an HTTP client over ASGI, or over HTTP to the app served as
``hookgate ingress`` serves it, with a fake producer behind the app.

Used by the ingress's tests (tests/ingress) and by the span tests that follow a delivery from the
app into the worker's stage (tests/schemas/test_tracing_spans.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from ingress import http_protocol
from ingress.app import create_app
from ingress.server import DirectRoutes, server_options
from schemas.config import parse
from tests.fakes import FakeProducer
from tests.support import free_ports


@asynccontextmanager
async def client_of(
    app: Starlette, *, served: bool = False, base_url: str = "http://hookgate"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` with the app's lifespan run around it (httpx's ASGITransport sends no
    lifespan events). ``served``: the app as ``hookgate ingress`` serves it (uvicorn with the
    ingress's HTTP protocol, over a socket on 127.0.0.1, ``DirectRoutes`` around the app), the
    requests still carrying ``base_url``'s host in their ``Host`` header."""
    async with app.router.lifespan_context(app):
        if not served:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                yield client
            return
        url = httpx.URL(base_url)
        async with (
            serving(DirectRoutes(app)) as port,
            httpx.AsyncClient(
                base_url=url.copy_with(scheme="http", host="127.0.0.1", port=port),
                headers={"host": url.netloc.decode()},
            ) as client,
        ):
            yield client


@asynccontextmanager
async def serving(
    app: DirectRoutes, *, keep_alive_s: float | None = None, **ingress: Any
) -> AsyncIterator[int]:
    """Serves ``app`` on this loop as ``hookgate ingress`` does, with these ``ingress`` settings
    (lifespan off: the caller runs it; ``keep_alive_s`` instead of uvicorn's keep-alive
    timeout); yields the port."""
    [port] = free_ports(1)
    settings = parse({"ingress": {"host": "127.0.0.1", "port": port, **ingress}}, env={})
    limits = http_protocol.LimitedHttpToolsProtocol
    before = (limits.max_head_bytes, limits.max_headers, limits.routes)
    http_protocol.configure(
        max_head_bytes=settings.ingress.max_header_bytes,
        max_headers=settings.ingress.max_headers,
        routes=app,
    )
    options = {**server_options(settings), "lifespan": "off"}
    if keep_alive_s is not None:
        options["timeout_keep_alive"] = keep_alive_s
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "the server did not start"
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        http_protocol.configure(max_head_bytes=before[0], max_headers=before[1], routes=before[2])


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
