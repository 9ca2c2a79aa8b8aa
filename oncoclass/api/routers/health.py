"""Health for people and for orchestrators, and Prometheus metrics.

* ``GET /health/live``: the process answers (a container is restarted when this fails);
* ``GET /health/ready``: 200 only when this replica can answer predictions correctly: a model
  loaded and warmed up, the history database reachable, the knowledge base loaded; 503 with
  the reasons otherwise (a load balancer sends it no traffic);
* ``GET /health``: the full picture, always 200 when the process runs;
* ``GET /metrics``: Prometheus text format.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from oncoclass import __version__
from oncoclass.api.deps import AUTH_RESPONSES, MetricsDep, ServiceDep, require
from oncoclass.api.errors import SafeJSONResponse
from oncoclass.schemas import DatabaseHealth, HealthPublic, KnowledgeHealth
from oncoclass.service import OncoClassService

router = APIRouter(tags=["health"])


async def _health(service: OncoClassService) -> HealthPublic:
    reachable = service.database is not None and await run_in_threadpool(service.database.ping)
    problems = []
    if not service.has_model:
        problems.append(f"no model: {service.model_error}")
    if not reachable:
        problems.append("the history database is unreachable")
    knowledge = service.knowledge
    if not knowledge.available:
        problems.append(f"the CIViC knowledge base is {knowledge.status}: {knowledge.reason}")
    model = service.predictor if service.has_model else None
    return HealthPublic(
        status="ok" if not problems else "degraded",
        version=__version__,
        model_loaded=model is not None,
        model=service.model_ref(model) if model else None,
        model_error=service.model_error,
        problems=problems,
        database=DatabaseHealth(
            reachable=reachable,
            backend=service.database.backend if service.database is not None else "none",
        ),
        knowledge_base=KnowledgeHealth(
            loaded=knowledge.available,
            status=knowledge.status,
            reason=knowledge.reason,
            release=knowledge.release.name if knowledge.release else None,
            size=len(knowledge),
            assertions=knowledge.n_assertions,
            source=knowledge.source,
        ),
    )


@router.get("/health", summary="Service health (always 200 while the process runs)")
async def health(service: ServiceDep) -> HealthPublic:
    """``status`` is "ok" when every part is ready, else "degraded" with ``problems``."""
    return await _health(service)


@router.get("/health/live", summary="Liveness: the process answers")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/health/ready",
    summary="Readiness: 200 when this replica can answer predictions, else 503",
    responses={503: {"description": "Not ready; the body says why."}},
)
async def ready(service: ServiceDep) -> Response:
    report = await _health(service)
    status = 200 if report.status == "ok" else 503
    return SafeJSONResponse(report.model_dump(mode="json"), status_code=status)


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin scope when keys are required)",
    dependencies=[require("admin")],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **AUTH_RESPONSES},
)
async def metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
