"""``GET /v1/model``: the card of the loaded model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oncoclass.api.deps import PredictorDep, SettingsDep
from oncoclass.api.errors import NotFoundError
from oncoclass.api.schemas import ClassPublic, LimitsPublic, ModelPublic, TrainingPublic
from oncoclass.data.tasks import get_task

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    summary="The loaded model's card",
    responses={
        404: {"description": "The loaded model serves another task."},
        422: {"description": "Unknown task."},
    },
)
def get_model(
    predictor: PredictorDep,
    settings: SettingsDep,
    task: Annotated[str | None, Query(max_length=100, description="Expect this task.")] = None,
) -> ModelPublic:
    """Task, classes with names, model name and version, training data (size, fingerprint,
    label counts), evaluation metrics, and the input limits the service enforces."""
    if task is not None and task != predictor.task.name:
        get_task(task)  # an unknown task is a bad request (422), a known one merely absent (404)
        raise NotFoundError(
            f"no model for task {task!r} is loaded (it serves {predictor.task.name!r})"
        )
    card = predictor.card
    return ModelPublic(
        name=predictor.model_name,
        version=predictor.model_version,
        package_version=card.get("package_version", ""),
        task=predictor.task.name,
        task_description=predictor.task.description,
        classes=[ClassPublic(label=c.label, name=c.name) for c in predictor.classes],
        training=TrainingPublic.model_validate(card.get("training", {})),
        metrics=card.get("metrics") or {},
        config=card.get("config") or {},
        limits=LimitsPublic(
            max_text_chars=predictor.max_text_chars,
            max_batch_rows=settings.max_batch_rows,
            low_confidence=predictor.low_confidence,
        ),
    )
