"""Administration: switching the served model without dropping a request."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from oncoclass.api.deps import MetricsDep, ServiceDep
from oncoclass.schemas import ModelRef

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ReloadPublic(BaseModel):
    model: ModelRef
    path: str | None


@router.post(
    "/reload",
    summary="Switch to the newest model version",
    responses={
        422: {"description": "The model directory is damaged; the old model keeps serving."},
        503: {"description": "No model to load."},
    },
)
async def reload(service: ServiceDep, metrics: MetricsDep) -> ReloadPublic:
    """Load the configured model's ``current`` version, warm it up, then switch to it in one
    step: requests in flight finish on the model they started with, new ones get the new one.
    A model that fails to load changes nothing. (Replicas also switch by themselves within
    ``Settings.model_poll_seconds`` of a new ``oncoclass train``, and on SIGHUP.)"""
    model = await run_in_threadpool(service.reload)
    metrics.model_loaded.set(1)
    return ReloadPublic(model=model, path=str(service.predictor.path))
