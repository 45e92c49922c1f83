"""The baseline a team writes in an afternoon: Starlette, the ``standardwebhooks`` library, and
aiokafka's ``send_and_wait`` per request (acks=all, idempotent), answering 202 after the ack.

    BENCH_BOOTSTRAP=127.0.0.1:9092 BENCH_TOPIC=raw BENCH_SECRET=whsec_... \\
        uvicorn bench.handwritten_app:app
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

webhook = Webhook(os.environ["BENCH_SECRET"])
topic = os.environ["BENCH_TOPIC"]
producers: list[AIOKafkaProducer] = []  # made in the lifespan: aiokafka wants a running loop


async def receive(request: Request) -> Response:
    body = await request.body()
    try:
        payload = webhook.verify(body, dict(request.headers))
    except WebhookVerificationError:
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    await producers[0].send_and_wait(
        topic, body, key=request.headers["webhook-id"].encode(), headers=[("source", b"bench")]
    )
    return JSONResponse({"status": "accepted", "type": payload.get("type")}, status_code=202)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    producer = AIOKafkaProducer(
        bootstrap_servers=os.environ["BENCH_BOOTSTRAP"],
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=2,
    )
    await producer.start()
    producers.append(producer)
    try:
        yield
    finally:
        await producer.stop()


app = Starlette(
    routes=[
        Route("/webhooks/{source}", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)
