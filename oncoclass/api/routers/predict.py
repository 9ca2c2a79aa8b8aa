"""``POST /v1/predict`` (one variant, explained) and ``POST /v1/predict/batch`` (many, in one
model pass): reading the request and shaping the answer; the service does the rest."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from oncoclass.api import batch as batch_io
from oncoclass.api.deps import MetricsDep, ServiceDep, SettingsDep
from oncoclass.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError
from oncoclass.schemas import BatchOptions, BatchPublic, PredictionCreate, PredictionPublic
from oncoclass.service import RawRow

router = APIRouter(prefix="/v1", tags=["predict"])

#: Explaining costs a model pass per sentence; beyond this many rows, ask for no explanation.
MAX_EXPLAINED_ROWS = 100
CSV_MEDIA_TYPE = "text/csv"


@router.post(
    "/predict",
    summary="Classify one variant",
    responses={
        422: {
            "description": "A field is missing, empty, too long or of the wrong type "
            "(the error's loc names it)."
        },
        503: {"description": "No model is loaded."},
    },
)
def predict(body: PredictionCreate, service: ServiceDep, metrics: MetricsDep) -> PredictionPublic:
    """The predicted class, every class's calibrated probability, the prediction set, the
    warnings (close call, text about something else, unlike the training data, ...), the
    evidence sentences with their weights, the parsed variation, the CIViC evidence, and the
    history id."""
    result = service.predict(body)
    metrics.predictions.labels(result.label, "predict").inc()
    return result


# ---- batch ---------------------------------------------------------------------------------------
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV/TSV (gene, variation, optional text, "
                            "disease, drugs, sample) or a MAF "
                            "(Hugo_Symbol, HGVSp_Short).",
                        },
                        "disease": {
                            "type": "string",
                            "description": "Disease of rows that name none.",
                        },
                        "explain": {"type": "boolean", "default": False},
                        "task": {"type": "string"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/predict/batch",
    summary="Classify many variants (JSON items, or a CSV/MAF upload)",
    response_model=BatchPublic,
    openapi_extra=_BATCH_BODY,
    responses={
        200: {
            "content": {CSV_MEDIA_TYPE: {}},
            "description": "JSON, or CSV with ?format=csv or Accept: text/csv.",
        },
        413: {"description": "More rows than Settings.max_batch_rows."},
        415: {"description": "Neither JSON nor multipart/form-data."},
    },
)
async def predict_batch(
    request: Request,
    service: ServiceDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="Answer format; default JSON, or CSV if the Accept header asks for it."),
    ] = None,
) -> Any:
    """Each row is scored; a bad row (empty gene, no variation, text over the limit) gets its
    own error ``{row, field, message}`` and the others are still scored, in one model pass.
    Scored rows are stored in the history under one ``batch_id``."""
    rows, options = await _read_batch(request, settings.max_batch_rows)
    if options.explain and len(rows) > MAX_EXPLAINED_ROWS:
        raise InvalidInputError(
            f"explanations are computed for batches of at most {MAX_EXPLAINED_ROWS} rows, "
            f"this one has {len(rows):,}; send it without explain",
            field="explain",
        )
    result = await run_in_threadpool(
        service.predict_batch,
        rows,
        explain=options.explain,
        default_disease=options.disease,
        task=options.task,
    )
    for row in result.results:
        if row.prediction is not None:
            metrics.predictions.labels(row.prediction.label, "batch").inc()
        elif row.error is not None:
            metrics.batch_row_errors.labels(row.error.field or "row").inc()
    if format == "csv" or (format is None and CSV_MEDIA_TYPE in request.headers.get("accept", "")):
        name = f"oncoclass-batch-{result.batch_id or 'errors'}.csv"
        return Response(
            batch_io.batch_csv(result, [c.label for c in service.predictor.classes]),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return result


async def _read_batch(request: Request, max_rows: int) -> tuple[list[RawRow], BatchOptions]:
    """The rows and options of a JSON or multipart batch request. The rows are validated
    later, one by one; the options here."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        return await _read_upload(request, max_rows)
    if content_type not in ("", "application/json") and not content_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"send JSON ({{'items': [...]}}) or a multipart/form-data upload, not {content_type!r}"
        )
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, 5,000-digit integers, ...
        raise InvalidInputError(f"the body is not valid JSON: {exc}", field=None) from exc
    if not isinstance(data, dict) or "items" not in data:
        raise InvalidInputError('the body must be a JSON object {"items": [...]}', field="items")
    rows = batch_io.json_rows(data["items"], max_rows=max_rows)
    return rows, _options({k: v for k, v in data.items() if k != "items"})


async def _read_upload(request: Request, max_rows: int) -> tuple[list[RawRow], BatchOptions]:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("upload the table as the form field 'file'", field="file")
        max_bytes = batch_io.MAX_UPLOAD_BYTES
        content = await upload.read(max_bytes + 1)
        if len(content) > max_bytes:
            raise PayloadTooLargeError(
                f"the file is over {max_bytes // 2**20} MiB; split it", field="file"
            )
        fields = {k: v for k, v in form.items() if k != "file" and v != ""}
    rows = await run_in_threadpool(batch_io.read_table, content, max_rows=max_rows)
    return rows, _options(fields)


def _options(values: dict[str, Any]) -> BatchOptions:
    try:
        return BatchOptions.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else None
        raise InvalidInputError(f"{field}: {error['msg']}", field=field) from exc
