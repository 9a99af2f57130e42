"""The API's tracing and HTTP metrics, wired by create_app.

- Tracing (laf_core.telemetry): the FastAPI instrumentation makes the server
  spans; a runner's call arrives with its `traceparent`, so the webhook's span
  is a child of the runner's. Probes and /metrics are not traced.
- `/metrics` gains `laf_api_http_request_duration_seconds{method,route,status}`
  (the route's template, never the raw path) and
  `laf_api_webhooks_refused_total{reason}` (what the status of a refused
  webhook call means).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from laf_core import telemetry
from laf_core.metrics import Metrics

UNTRACED = "healthz,readyz,metrics"
WEBHOOKS = "/api/webhooks/"
# A refused webhook call's status, as a reason a dashboard can count.
REFUSALS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "stale",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def instrument(app: FastAPI, metrics: Metrics) -> None:
    """Trace the app when the OTEL_* variables ask for it; always measure it."""
    app.add_middleware(_HttpMetrics, metrics=metrics)
    if telemetry.setup_tracing("laf-api") and telemetry.instrumentation_wanted("fastapi"):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, excluded_urls=UNTRACED, exclude_spans=["receive", "send"]
        )


class _HttpMetrics:
    """Pure ASGI (no BaseHTTPMiddleware: it would buffer the live event stream)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _route(scope)
            self.metrics.observe(
                "http_request_duration_seconds",
                time.perf_counter() - started,
                method=str(scope.get("method", "")),
                route=route,
                status=str(status),
            )
            if route.startswith(WEBHOOKS) and 400 <= status < 500:
                self.metrics.inc("webhooks_refused", reason=REFUSALS.get(status, str(status)))


def _route(scope: Scope) -> str:
    """The matched route's template (`/api/workflows/{workflow_id}`); bounded labels."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path or "/ (frontend)"
    return "unmatched"
