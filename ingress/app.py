"""The ingress's composition root: settings in, a Starlette app out.

Everything the app uses is created here and handed down: the configured sources (verifiers built
once at start), the producer, the metrics registry, the clock and the tracer, which tests replace.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingress import openapi
from ingress.deliveries import DeliveryEndpoint
from ingress.limits import InFlight
from ingress.metrics import IngressMetrics
from ingress.producer import KafkaProducer, RawProducer
from ingress.providers import configure_sources
from schemas import kafka_clients, telemetry
from schemas.config import Settings
from schemas.telemetry import Tracer


def create_app(
    settings: Settings,
    *,
    producer: RawProducer | None = None,
    metrics: IngressMetrics | None = None,
    clock: Callable[[], float] = time.time,
    tracer: Tracer | None = None,
) -> Starlette:
    sources = configure_sources(settings)
    producer = producer or KafkaProducer(
        settings.kafka.bootstrap,
        delivery_timeout_ms=settings.kafka.delivery_timeout_ms,
        client_config=kafka_clients.producer(settings.kafka),
        # Room for the largest body a source accepts plus the record's headers.
        max_message_bytes=settings.max_record_bytes,
    )
    metrics = metrics or IngressMetrics()
    raw_topic = settings.topics.raw.name
    limits = settings.ingress
    in_flight = InFlight(
        max_body_bytes=limits.max_body_bytes_in_flight, max_produces=limits.max_produces_in_flight
    )
    # None unless `tracing.exporter` asks for spans; the trace context travels regardless.
    tracer = tracer or telemetry.start(settings.tracing, "ingress")
    deliveries = DeliveryEndpoint(
        sources,
        producer,
        raw_topic,
        metrics,
        clock,
        in_flight,
        limits.body_timeout_ms / 1000,
        tracer,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if await producer.ready(raw_topic):
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {"status": "not ready", "detail": f"Kafka does not answer for topic {raw_topic}"},
            status_code=503,
        )

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    described = openapi.text().encode()

    async def openapi_endpoint(request: Request) -> Response:
        return Response(described, media_type="application/json")

    async def http_error(request: Request, exc: Exception) -> Response:
        # Starlette's own 404/405 as JSON, like every other refusal. Registered for
        # HTTPException only; anything else here is a bug, raised rather than answered as a 4xx.
        if not isinstance(exc, HTTPException):
            raise TypeError(f"http_error handles HTTPException, not {type(exc).__name__}")
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": reason, "detail": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await producer.start()
        try:
            yield
        finally:
            await producer.stop()
            if tracer is not None:
                tracer.close()

    return Starlette(
        routes=[
            # An ASGI app (an instance, not a function): Starlette routes to it as it is.
            Route("/webhooks/{source}", deliveries, methods=["POST"]),
            # For senders that authenticate with a secret token in the callback URL's path.
            Route("/webhooks/{source}/{token}", deliveries, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/openapi.json", openapi_endpoint, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
