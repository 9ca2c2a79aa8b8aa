"""``GET /v1/model``: the card of the loaded model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oncoclass.api.deps import ServiceDep, protected
from oncoclass.schemas import ModelPublic

router = APIRouter(prefix="/v1", tags=["model"], **protected("predict"))


@router.get(
    "/model",
    summary="The loaded model's card",
    responses={
        404: {"description": "The loaded model serves another task."},
        422: {"description": "Unknown task."},
    },
)
def get_model(
    service: ServiceDep,
    task: Annotated[str | None, Query(max_length=100, description="Expect this task.")] = None,
) -> ModelPublic:
    """Task, classes with names, model name and version, training data (size, fingerprint,
    label counts), evaluation metrics, and the input limits the service enforces."""
    return service.model_card(task)
