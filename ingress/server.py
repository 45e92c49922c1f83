"""Running the ingress as a process (``hookgate ingress``)."""

from __future__ import annotations

import uvicorn

from ingress import logs
from ingress.app import create_app
from schemas.config import Settings


def serve(settings: Settings, *, log_level: str = "INFO") -> None:
    logs.configure(log_level)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.ingress.host,
        port=settings.ingress.port,
        # Our own JSON line per delivery replaces the access log.
        access_log=False,
        log_config=None,
        # Give in-flight deliveries time to get their acks before the producer closes.
        timeout_graceful_shutdown=15,
    )
