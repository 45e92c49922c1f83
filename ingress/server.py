"""Running the ingress as a process (``hookgate ingress``), one or several worker processes.

What uvicorn serves is :class:`DirectRoutes` around the Starlette app: a profile under load put
Starlette's middleware stack and router (ServerErrorMiddleware, ExceptionMiddleware, the
router's scan, the request_response wrapper and its exception wrapper) at ~15 % of a delivery.
Deliveries go straight to their endpoint; everything else, lifespan included, goes through
Starlette unchanged. The HTTP protocol (:mod:`ingress.http_protocol`) goes one step further and
answers deliveries without ASGI, from the same routes (:meth:`DirectRoutes.match`).
"""

from __future__ import annotations

import gc
import os
import re
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.convertors import Convertor, StringConvertor
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ingress import http_protocol, logs
from ingress.app import create_app
from ingress.deliveries import DeliveryEndpoint
from ingress.producer import RawProducer
from schemas import config
from schemas.config import Settings

#: How a worker process finds the configuration its parent was started with.
_CONFIG_ENV = "HOOKGATE_INGRESS_CONFIG"
_LOG_LEVEL_ENV = "HOOKGATE_INGRESS_LOG_LEVEL"

#: Seconds in-flight deliveries get for their acks when the server stops (the Helm chart's
#: termination grace period is derived from it: tests/deploy/test_helm_chart.py).
GRACEFUL_SHUTDOWN_S = 15

#: Allocations between two collections of the cyclic GC's youngest generation in a serving
#: process (Python's default is 700; see settle_gc).
GC_YOUNG_THRESHOLD = 10_000


class DirectRoutes:
    """``POST`` requests that match one of the app's POST-only delivery routes (a
    :class:`~ingress.deliveries.DeliveryEndpoint`) go to its endpoint directly; anything else is
    the app's to answer (404, 405, health, metrics, lifespan).

    The endpoints it takes answer every refusal themselves (nothing raises for Starlette's
    exception handlers to turn into a response); an unexpected exception still ends as a 500
    from uvicorn, as it would from Starlette's ServerErrorMiddleware.
    """

    def __init__(self, app: Starlette) -> None:
        if app.user_middleware:
            raise ValueError("DirectRoutes would bypass the app's middleware")
        self.app = app
        self._routes: list[
            tuple[re.Pattern[str], dict[str, Convertor[Any]] | None, DeliveryEndpoint]
        ] = [
            (
                route.path_regex,
                # Plain {name} parameters are the regex's groups as they are.
                None
                if all(type(c) is StringConvertor for c in route.param_convertors.values())
                else route.param_convertors,
                route.app,
            )
            for route in app.routes
            if isinstance(route, Route)
            and route.methods == {"POST"}
            and isinstance(route.app, DeliveryEndpoint)
        ]

    def match(self, path: str) -> tuple[DeliveryEndpoint, dict[str, Any]] | None:
        """The delivery endpoint of a ``POST`` to ``path`` and its path parameters, or None."""
        for regex, convertors, endpoint in self._routes:
            match = regex.match(path)
            if match is not None:
                params = match.groupdict()
                if convertors is not None:
                    params = {name: convertors[name].convert(v) for name, v in params.items()}
                return endpoint, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            found = self.match(scope["path"])
            if found is not None:
                endpoint, scope["path_params"] = found
                scope["app"] = self.app
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


def asgi_app(settings: Settings, producer: RawProducer | None = None) -> ASGIApp:
    """The ASGI application ``hookgate ingress`` serves; also sets this process's request head
    limits and delivery routes (:mod:`ingress.http_protocol`), which uvicorn's protocol reads
    per connection."""
    app = DirectRoutes(create_app(settings, producer=producer))
    http_protocol.configure(
        max_head_bytes=settings.ingress.max_header_bytes,
        max_headers=settings.ingress.max_headers,
        routes=app,
    )
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for ``settings`` (see ``uvicorn.Config``)."""
    return {
        "host": settings.ingress.host,
        "port": settings.ingress.port,
        # httptools, with the head bounded (the class is importable, so workers get it too).
        "http": http_protocol.LimitedHttpToolsProtocol,
        # uvicorn counts the connection asking among those open: +1 serves max_connections.
        "limit_concurrency": settings.ingress.max_connections + 1,
        # Our own JSON line per delivery replaces the access log.
        "access_log": False,
        "log_config": None,
        # Give in-flight deliveries time to get their acks before the producer closes.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }


def serve(settings: Settings, *, log_level: str = "INFO", workers: int = 1) -> None:
    """Serve until SIGTERM. ``workers`` > 1 forks that many processes sharing one socket,
    each with its own producer; the configuration is read again in each from its file."""
    options = server_options(settings)
    logs.configure(log_level)
    if workers == 1:
        app = asgi_app(settings)
        settle_gc()
        uvicorn.run(app, **options)
        return
    os.environ[_CONFIG_ENV] = settings.origin
    os.environ[_LOG_LEVEL_ENV] = log_level
    uvicorn.run("ingress.server:worker_app", factory=True, workers=workers, **options)


def worker_app() -> ASGIApp:
    """The app of one worker process (``serve(workers=N)``)."""
    logs.configure(os.environ.get(_LOG_LEVEL_ENV, "INFO"))
    app = asgi_app(config.load(os.environ[_CONFIG_ENV]))
    settle_gc()
    return app


def settle_gc() -> None:
    """Once the app is built: what is alive now (modules, classes, configuration, ~50,000
    objects) is left out of every later collection (``gc.freeze``), and the youngest generation
    is collected every GC_YOUNG_THRESHOLD allocations. A delivery allocates dozens of objects
    that its end frees by reference counting; the collector's passes over the process's objects
    were ~6 % of the CPU in a profile under load. Cycles are still collected, only less often."""
    gc.collect()  # what is garbage already is freed, not frozen
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
