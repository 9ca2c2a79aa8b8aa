"""``GET /health`` (is the service usable?) and ``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from oncoclass import __version__
from oncoclass.api.deps import ServicesDep
from oncoclass.api.schemas import DatabaseHealth, HealthPublic, KnowledgeHealth, ModelRef

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service health")
async def health(services: ServicesDep) -> HealthPublic:
    """``status`` is "ok" when a model is loaded and the database answers, else "degraded".
    An empty knowledge base (no CIViC data in the data home) does not degrade the service."""
    predictor = services.predictor
    reachable = await run_in_threadpool(services.database.ping)
    return HealthPublic(
        status="ok" if predictor is not None and reachable else "degraded",
        version=__version__,
        model_loaded=predictor is not None,
        model=ModelRef(name=predictor.model_name, version=predictor.model_version)
        if predictor is not None
        else None,
        model_error=services.model_error,
        database=DatabaseHealth(reachable=reachable, backend=services.database.backend),
        knowledge_base=KnowledgeHealth(
            loaded=len(services.knowledge) > 0,
            size=len(services.knowledge),
            source=services.knowledge.source,
        ),
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
