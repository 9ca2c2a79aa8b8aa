"""The prediction history: ``GET /v1/predictions`` (paginated, newest first) and
``GET /v1/predictions/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oncoclass.api.deps import ServiceDep, protected
from oncoclass.schemas import MAX_GENE_CHARS, PredictionList, PredictionPublic

router = APIRouter(prefix="/v1/predictions", tags=["history"], **protected("history"))

#: Pages are bounded; an offset past 2**31 is no real page (and would overflow some databases).
MAX_LIMIT = 200
MAX_OFFSET = 2**31 - 1


@router.get("", summary="List stored predictions")
def list_predictions(
    service: ServiceDep,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    gene: Annotated[
        str | None,
        Query(max_length=MAX_GENE_CHARS, description="Only this gene (case-insensitive)."),
    ] = None,
) -> PredictionList:
    """Newest first, with the total count of matching predictions for paging."""
    if gene is not None:
        gene = gene.replace("\x00", "")
    return service.list_predictions(limit=limit, offset=offset, gene=gene)


@router.get(
    "/{prediction_id}",
    summary="One stored prediction",
    responses={404: {"description": "No prediction with this id."}},
)
def get_prediction(prediction_id: int, service: ServiceDep) -> PredictionPublic:
    """The stored prediction, with the CIViC evidence looked up again (the knowledge base may
    be newer than the prediction)."""
    return service.get_prediction(prediction_id)
