"""The ceiling: a bare Starlette POST handler that reads the body and answers 202.

uvicorn bench.bare_app:app
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def receive(request: Request) -> Response:
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/webhooks/{source}", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
