"""The OncoClass HTTP service: ``create_app()`` builds a FastAPI app.

``oncoclass serve`` runs ``uvicorn oncoclass.api.app:create_app --factory``. At start-up (the
lifespan) the app migrates the history database, loads the model and indexes the CIViC knowledge
base, once; requests then share them through ``app.state.services``. Without a trained model the
service still starts: ``/health`` says why, and prediction endpoints answer 503.

The API is versioned under ``/v1``; OpenAPI is at ``/openapi.json`` and ``/docs``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oncoclass import __version__
from oncoclass.api.batch import MAX_UPLOAD_BYTES
from oncoclass.api.deps import ApiState, require
from oncoclass.api.errors import SafeJSONResponse, install_error_handlers
from oncoclass.api.metrics import Metrics, MetricsMiddleware
from oncoclass.api.routers import admin, health, model, predict, predictions
from oncoclass.api.routers import knowledge as knowledge_router
from oncoclass.auth import KeyStore, auth_required
from oncoclass.errors import OncoClassError
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.schemas import BatchCreate
from oncoclass.service import OncoClassService
from oncoclass.settings import Settings, configure_runtime, get_settings
from oncoclass.web import mount_web

log = logging.getLogger(__name__)

#: Bodies larger than this are refused (413) before they are read.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 2**20

DESCRIPTION = """Classify cancer variants (gene + protein change, optional disease, drugs and
clinical evidence text) into clinical classes with calibrated probabilities, the evidence
sentences that drove the call, and what the CIViC knowledge base says about the variant.
Every prediction is kept in a history. For research use only; not for clinical decisions."""


def create_app(
    settings: Settings | None = None,
    predictor: Predictor | None = None,
    *,
    knowledge: KnowledgeBase | None = None,
) -> FastAPI:
    """A new app. ``settings`` default to the ``ONCOCLASS_*`` environment; a ``predictor`` or
    ``knowledge`` base given here is used instead of loading one (tests, embedding)."""
    settings = settings or get_settings()
    configure_runtime(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await run_in_threadpool(
            OncoClassService.start, settings, predictor=predictor, knowledge=knowledge
        )
        keys = None
        if auth_required(settings.auth, settings.host):
            if service.database is None:
                raise OncoClassError("API keys are required but there is no history database")
            keys = KeyStore(service.database)
            log.info("API keys required (listening on %s): `oncoclass keys create`", settings.host)
        else:
            log.info("no API key needed: listening on loopback (%s) only", settings.host)
        metrics.model_loaded.set(service.has_model)
        metrics.knowledge_items.set(len(service.knowledge))
        app.state.api = ApiState(service, metrics, keys)
        stop = threading.Event()
        service.watch(stop)
        _on_sighup(lambda: service.reload_if_moved() or service.reload())
        log.info(
            "OncoClass ready: model %s, %s, knowledge base of %d items",
            service.predictor.model_name if service.has_model else None,
            service.database,
            len(service.knowledge),
        )
        try:
            yield
        finally:
            stop.set()
            service.close()

    app = FastAPI(
        title="OncoClass",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
        # /docs is served by the web package from locally installed Swagger UI assets (no CDN);
        # the schema below, behind a key when keys are required.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for module in (predict, predictions, knowledge_router, model, admin, health):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False, dependencies=[require(None)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    mount_web(app)  # the page: GET / and /static
    return app


def _on_sighup(reload: Callable[[], object]) -> None:
    """``kill -HUP <pid>`` switches the model (off the event loop). Only where the process
    can take signals: not in a thread's event loop (tests), not on Windows."""

    def handler() -> None:
        def run() -> None:
            try:
                reload()
            except (OncoClassError, OSError) as exc:
                log.error("SIGHUP: the model was not switched: %s", exc)

        threading.Thread(target=run, name="oncoclass-sighup-reload", daemon=True).start()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, handler)
    except (RuntimeError, ValueError, NotImplementedError, AttributeError):
        log.debug("no SIGHUP handler in this process")


class BodySizeLimitMiddleware:
    """Bounds every request body: one whose declared size is over the limit is refused before
    it is read; one sent without a length (chunked) is read here, counted as it arrives and
    refused as soon as it passes the limit, so no body is ever held past it. (Counting inside
    the app instead would not do: FastAPI turns any error while reading a body into a 400.)"""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server reads exactly that many bytes
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is over {self.max_bytes // 2**20} MiB"
        response = SafeJSONResponse(
            {"detail": detail}, status_code=413, headers={"Connection": "close"}
        )
        await response(scope, receive, send)


#: Sent with every answer: no MIME sniffing, no referrer leaking paths, no framing.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the JSON body of the batch endpoint, which reads its body itself
    (JSON or multipart) and so cannot declare it as a parameter."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        batch = BatchCreate.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(batch.pop("$defs", {}))
        components["BatchCreate"] = batch
        app.openapi_schema = schema
    return app.openapi_schema
