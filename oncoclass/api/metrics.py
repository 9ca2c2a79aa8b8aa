"""Prometheus metrics of one app: request counts and latencies per route, predictions per class.

Each app owns its :class:`~prometheus_client.CollectorRegistry` (not the process-global one), so
that several apps in one process, as in the tests, count separately and never collide.
"""

from __future__ import annotations

from time import perf_counter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The route label of requests that matched no route: one label, not one per random path.
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "oncoclass_http_requests",
            "HTTP requests by route, method and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "oncoclass_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.predictions = Counter(
            "oncoclass_predictions",
            "Predictions by predicted class and source (predict, batch).",
            ["label", "source"],
            registry=self.registry,
        )
        self.batch_row_errors = Counter(
            "oncoclass_batch_row_errors",
            "Batch rows rejected, by field.",
            ["field"],
            registry=self.registry,
        )
        self.knowledge_items = Gauge(
            "oncoclass_knowledge_base_items",
            "CIViC evidence items in the knowledge base.",
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "oncoclass_model_loaded", "1 when a model is loaded.", registry=self.registry
        )


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route template (``/v1/predictions/{id}``,
    never the raw path, so that the number of series stays bounded)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope.get("method", "") if scope.get("method") in _METHODS else "other"
            self.metrics.latency.labels(method, route).observe(perf_counter() - start)
            self.metrics.requests.labels(method, route, str(status)).inc()
